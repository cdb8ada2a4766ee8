import Foundation
import XCTest
@testable import ExplainableViT

/// The Swift core against numbers the Python side computed for a demo-preset Core ML export
/// (`scripts/apple_goldens.py`: `runtime` through the Core ML reference executor, `xai.plots` pixels).
final class GoldenTests: XCTestCase {
    static let heatmapTolerance: Float = 1e-5  // the bar for the heatmap at image size
    static let overlayTolerance = 1  // 8-bit levels
    static let softmaxTolerance: Float = 2e-3  // the model's softmax runs in fp16; Swift's in Double
    static let colourEdgeWidth = 1e-3  // in table entries: 256 * a few float32 steps of a max-1 map
    static let kinds = ["rollout", "gradrollout"]

    func testMetadataReadsEveryKeyTheExportWrites() throws {
        for kind in Self.kinds {
            let golden = try Golden.load(kind)
            let metadata = try ModelMetadata(userDefined: golden.metadata)
            XCTAssertEqual(metadata.labels, (0..<10).map(String.init))
            XCTAssert(metadata.grid == (4, 4) && metadata.inputSize == (32, 32))
            XCTAssertEqual(metadata.heatmapOutput, kind == "rollout" ? "rollout" : "relevance")
            XCTAssertEqual(metadata.classInput, kind == "rollout" ? nil : "target")
            XCTAssertEqual(metadata.imageFit, "stretch")
            XCTAssertEqual(metadata.specialTokens, 1)
            XCTAssertEqual(metadata.parity, "passed")
            XCTAssertEqual(metadata.sourceSHA256.count, 64)
            let manifest = try JSONSerialization.jsonObject(with: Data(metadata.manifestJSON.utf8)) as? [String: Any]
            XCTAssertEqual(manifest?["labels"] as? [String], metadata.labels)
        }
    }

    func testHeatmapAtImageSizeMatchesRuntime() throws {
        for kind in Self.kinds {
            for c in try Golden.load(kind).cases {
                let grid = try Heatmap(width: 4, height: 4, values: c.grid)
                let full = try grid.resized(width: c.width, height: c.height)
                let worst = zip(full.values, c.heatmap).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThanOrEqual(worst, Self.heatmapTolerance, "\(kind) \(c.name): max diff \(worst)")
                print("golden \(kind) \(c.name) class \(c.explainClass.map(String.init) ?? "predicted"): heatmap max diff \(worst)")
            }
        }
    }

    func testOverlayPixelsMatchThePictures() throws {
        for kind in Self.kinds {
            for c in try Golden.load(kind).cases {
                let photo = try RGBAImage(width: c.width, height: c.height, rgb: c.rgb)
                let heatmap = try Heatmap(width: c.width, height: c.height, values: c.heatmap)
                let overlay = try Overlay.composite(photo: photo, heatmap: heatmap)
                let worst = zip(overlay.pixels, c.overlay).map { abs(Int($0) - Int($1)) }.max() ?? .max
                XCTAssertLessThanOrEqual(worst, Self.overlayTolerance, "\(kind) \(c.name)")
                print("golden \(kind) \(c.name): overlay max diff \(worst) levels")
            }
        }
    }

    func testExplainerEndToEndFromModelOutputs() throws {
        for kind in Self.kinds {
            let golden = try Golden.load(kind)
            let explainer = Explainer(metadata: try ModelMetadata(userDefined: golden.metadata))
            for c in golden.cases {
                let label = c.explainClass.map { explainer.metadata.labels[$0] }
                let e = try explainer.explanation(probabilities: c.probabilities, grid: c.grid,
                                                  photo: try RGBAImage(width: c.width, height: c.height, rgb: c.rgb),
                                                  explaining: label)
                XCTAssertEqual(e.ranked.prefix(3).map(\.label), c.top3)
                XCTAssertEqual(e.label, c.top3[0])
                XCTAssertEqual(e.explainedLabel, label ?? c.top3[0])
                XCTAssertEqual(e.classSpecific, kind == "gradrollout")
                XCTAssertLessThanOrEqual(zip(e.heatmap.values, c.heatmap).map { abs($0 - $1) }.max()!, Self.heatmapTolerance)
                XCTAssertEqual(try offPixelsAwayFromColourEdges(e.overlay, golden: c), [], "\(kind) \(c.name)")
            }
        }
    }

    /// Pixels more than `overlayTolerance` off whose map value is not at a colour-table edge: a map
    /// that moves by 1e-7 (two exact upsamplings, in Python too) may cross into the next jet entry.
    func offPixelsAwayFromColourEdges(_ overlay: RGBAImage, golden c: Golden.Case) throws -> [Int] {
        let shown = ColourMap.stretch(c.heatmap)
        return (0..<shown.count).filter { p in
            let off = (0..<3).map { abs(Int(overlay.pixels[4 * p + $0]) - Int(c.overlay[4 * p + $0])) }.max()!
            let position = Double(shown[p]) * 256
            return off > Self.overlayTolerance && abs(position - position.rounded()) > Self.colourEdgeWidth
        }
    }

    func testSoftmaxOfLogitsGivesTheModelsProbabilities() throws {
        for c in try Golden.load("rollout").cases {
            let probabilities = Scores.softmax(c.logits)
            XCTAssertEqual(Double(probabilities.reduce(0, +)), 1, accuracy: 1e-6)
            let worst = zip(probabilities, c.probabilities).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, Self.softmaxTolerance)
        }
    }

    func testJetTableMatchesMatplotlib() throws {
        let golden = try Golden.colourMap()
        XCTAssertEqual(golden.name, "jet")
        XCTAssertEqual(golden.alpha, Overlay.defaultAlpha)
        let ours = ColourMap.jet.flatMap { [$0.r, $0.g, $0.b] }
        XCTAssertEqual(ours, golden.table)
    }
}

/// One golden file: the export's metadata and, per photo, what Python computed.
struct Golden: Decodable {
    struct Case: Decodable {
        let name: String
        let width: Int
        let height: Int
        let rgb: [UInt8]
        let explainClass: Int?
        let logits: [Float]
        let probabilities: [Float]
        let top3: [String]
        let grid: [Float]
        let heatmap: [Float]
        let overlay: [UInt8]

        enum CodingKeys: String, CodingKey {
            case name, width, height, rgb, logits, probabilities, top3, grid, heatmap, overlay
            case explainClass = "explain_class"
        }
    }

    struct ColourMapTable: Decodable {
        let name: String
        let alpha: Double
        let table: [UInt8]
    }

    let kind: String
    let metadata: [String: String]
    let cases: [Case]

    static func url(_ name: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Goldens") else {
            throw ExplainableViTError.image("golden \(name).json missing: run `python scripts/apple_goldens.py`")
        }
        return url
    }

    static func load(_ kind: String) throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url(kind)))
    }

    static func colourMap() throws -> ColourMapTable {
        try JSONDecoder().decode(ColourMapTable.self, from: Data(contentsOf: url("colourmap")))
    }
}
