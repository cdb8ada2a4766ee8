import Foundation
import XCTest
@testable import ExplainableViT

/// The Swift core against what the Python side computed (`scripts/apple_goldens.py`) for a
/// non-square model (input 48x32, grid 4 rows x 6 columns) and non-square photos, some stored on
/// their side (EXIF orientation), some with transparency, two capped: the image path byte for byte,
/// then scores, heatmaps, overlays and photo <-> patch mappings.
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
            XCTAssert(metadata.grid == (4, 6), "grid \(metadata.grid)")  // (rows, columns)
            XCTAssert(metadata.inputSize == (48, 32), "input \(metadata.inputSize)")  // (width, height)
            XCTAssertEqual(try metadata.resampleFilter(), .bilinear)
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

    // MARK: The image path

    func testPhotoAndModelInputMatchRuntimeByteForByte() throws {
        let images = try ImagesGolden.load()
        let metadata = try ModelMetadata(userDefined: try Golden.load("rollout").metadata)
        for p in images.photos {
            let orientation = try XCTUnwrap(ImageOrientation(rawValue: p.orientation))
            let raw = try RGBAImage(width: p.rawWidth, height: p.rawHeight, pixels: p.raw)
            XCTAssertEqual(raw.isOpaque, !p.alpha, p.name)
            let prepared = try PreparedImage(raw, orientation: orientation, metadata: metadata, maxSide: p.maxSide)
            XCTAssertEqual([prepared.photo.width, prepared.photo.height], [p.width, p.height], p.name)
            XCTAssertEqual(differences(prepared.photo.pixels, try RGBAImage(width: p.width, height: p.height, rgb: p.photo).pixels),
                           "none", "\(p.name) photo")
            XCTAssertEqual([prepared.modelInput.width, prepared.modelInput.height], [images.inputSize[1], images.inputSize[0]])
            let input = try RGBAImage(width: images.inputSize[1], height: images.inputSize[0], rgb: p.input)
            XCTAssertEqual(differences(prepared.modelInput.pixels, input.pixels), "none", "\(p.name) model input")
        }
    }

    func testEachOrientationAsPillowTransposes() throws {
        let pillow = try ImagesGolden.load().pillow
        let source = try RGBAImage(width: pillow.orientationSource.width, height: pillow.orientationSource.height,
                                   pixels: try Base64.bytes(pillow.orientationSource.rgba))
        for orientation in ImageOrientation.allCases {
            let ours = source.oriented(orientation)
            XCTAssertEqual(differences(ours.pixels, try Base64.bytes(pillow.oriented[String(orientation.rawValue)] ?? "")), "none",
                           "\(orientation)")
            XCTAssertEqual(ours.width, orientation.swapsWidthAndHeight ? source.height : source.width)
        }
    }

    func testThumbnailSizesArePillows() throws {
        for row in try ImagesGolden.load().pillow.thumbnailSizes {  // [w, h, maxSide, out w, out h]
            let size = ImagePreprocessing.thumbnailSize(width: row[0], height: row[1], maxSide: row[2])
            XCTAssertEqual(size.map { [$0.width, $0.height] } ?? [row[0], row[1]], [row[3], row[4]], "\(row)")
        }
    }

    func testEveryFilterResizesAsPillow() throws {
        let pillow = try ImagesGolden.load().pillow
        let source = try RGBAImage(width: pillow.resizeSource.width, height: pillow.resizeSource.height,
                                   rgb: try Base64.bytes(pillow.resizeSource.rgb))
        for r in pillow.resized {
            let filter = try XCTUnwrap(ResampleFilter(rawValue: r.filter))
            let ours = try ImagePreprocessing.resized(source, width: r.width, height: r.height, filter: filter)
            XCTAssertEqual(differences(ours.pixels, try RGBAImage(width: r.width, height: r.height, rgb: Base64.bytes(r.pixels)).pixels),
                           "none", "\(r.filter) \(r.width)x\(r.height)")
        }
    }

    /// "none", or how many bytes differ and by how much at most (a short failure message).
    func differences(_ a: [UInt8], _ b: [UInt8]) -> String {
        guard a.count == b.count else { return "\(a.count) bytes, expected \(b.count)" }
        let off = zip(a, b).map { abs(Int($0) - Int($1)) }.filter { $0 > 0 }
        return off.isEmpty ? "none" : "\(off.count) of \(a.count) bytes differ, by up to \(off.max()!)"
    }

    // MARK: Photo <-> patch

    func testEveryPhotoPixelLandsInThePythonCell() throws {
        let images = try ImagesGolden.load()
        let metadata = try ModelMetadata(userDefined: try Golden.load("rollout").metadata)
        for p in images.photos {
            let g = ImageGeometry(photoWidth: p.width, photoHeight: p.height, metadata: metadata)
            var wrong = 0, outside = 0
            for y in 0..<p.height {
                for x in 0..<p.width {
                    let centre = CGPoint(x: CGFloat(x) + 0.5, y: CGFloat(y) + 0.5)
                    let expected = p.cellOfPixel[y * p.width + x]
                    let (row, column) = (expected / metadata.grid.columns, expected % metadata.grid.columns)
                    guard let cell = g.cell(atPhoto: centre), cell == (row, column) else { wrong += 1; continue }
                    if !g.photoRect(row: row, column: column).contains(centre) { outside += 1 }
                    let back = g.photoPoint(fromInput: g.inputPoint(fromPhoto: centre))
                    XCTAssertEqual(Double(back.x), Double(centre.x), accuracy: 1e-9)
                    XCTAssertEqual(Double(back.y), Double(centre.y), accuracy: 1e-9)
                }
            }
            XCTAssertEqual([wrong, outside], [0, 0], "\(p.name): pixels in another cell, outside their cell's rectangle")
            XCTAssertNil(g.cell(atPhoto: CGPoint(x: p.width, y: 0)))
            XCTAssertNil(g.cell(atPhoto: CGPoint(x: 0, y: p.height)))
        }
    }

    // MARK: Scores, heatmaps, overlays

    func testHeatmapAtPhotoSizeMatchesRuntime() throws {
        let images = try ImagesGolden.load()
        for kind in Self.kinds {
            let golden = try Golden.load(kind)
            let grid = try ModelMetadata(userDefined: golden.metadata).grid
            for c in golden.cases {
                let p = try images.photo(c.name)
                let full = try Heatmap(width: grid.columns, height: grid.rows, values: c.grid).resized(width: p.width, height: p.height)
                let worst = zip(full.values, try Base64.floats(c.heatmap)).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThanOrEqual(worst, Self.heatmapTolerance, "\(kind) \(c.name): max diff \(worst)")
            }
        }
    }

    func testOverlayPixelsMatchThePictures() throws {
        let images = try ImagesGolden.load()
        for kind in Self.kinds {
            for c in try Golden.load(kind).cases {
                let p = try images.photo(c.name)
                let photo = try RGBAImage(width: p.width, height: p.height, rgb: p.photo)
                let heatmap = try Heatmap(width: p.width, height: p.height, values: try Base64.floats(c.heatmap))
                let overlay = try Overlay.composite(photo: photo, heatmap: heatmap)
                let worst = zip(overlay.pixels, try Base64.bytes(c.overlay)).map { abs(Int($0) - Int($1)) }.max() ?? .max
                XCTAssertLessThanOrEqual(worst, Self.overlayTolerance, "\(kind) \(c.name)")
            }
        }
    }

    /// From the stored pixels and the model's outputs to label, heatmap, overlay and geometry.
    func testExplainerEndToEndFromStoredPixels() throws {
        let images = try ImagesGolden.load()
        for kind in Self.kinds {
            let golden = try Golden.load(kind)
            let explainer = Explainer(metadata: try ModelMetadata(userDefined: golden.metadata))
            for c in golden.cases {
                let p = try images.photo(c.name)
                let raw = try RGBAImage(width: p.rawWidth, height: p.rawHeight, pixels: p.raw)
                let prepared = try PreparedImage(raw, orientation: try XCTUnwrap(ImageOrientation(rawValue: p.orientation)),
                                                 metadata: explainer.metadata, maxSide: p.maxSide)
                let label = c.explainClass.map { explainer.metadata.labels[$0] }
                let e = try explainer.explanation(probabilities: c.probabilities, grid: c.grid, photo: prepared.photo, explaining: label)
                XCTAssertEqual(e.ranked.prefix(3).map(\.label), c.top3)
                XCTAssertEqual(e.label, c.top3[0])
                XCTAssertEqual(e.explainedLabel, label ?? c.top3[0])
                XCTAssertEqual(e.classSpecific, kind == "gradrollout")
                XCTAssertEqual([e.heatmap.width, e.heatmap.height, e.heatmapGrid.width, e.heatmapGrid.height], [p.width, p.height, 6, 4])
                let heatmap = try Base64.floats(c.heatmap)
                XCTAssertLessThanOrEqual(zip(e.heatmap.values, heatmap).map { abs($0 - $1) }.max()!, Self.heatmapTolerance)
                XCTAssertEqual(try offPixelsAwayFromColourEdges(e.overlay, heatmap: heatmap, golden: Base64.bytes(c.overlay)), [],
                               "\(kind) \(c.name)")
                XCTAssertEqual(e.geometry.photoSize, CGSize(width: p.width, height: p.height))
                XCTAssertEqual(e.geometry.inputSize, CGSize(width: 48, height: 32))
            }
        }
    }

    /// Pixels more than `overlayTolerance` off whose map value is not at a colour-table edge: a map
    /// that moves by 1e-7 (two exact upsamplings, in Python too) may cross into the next jet entry.
    func offPixelsAwayFromColourEdges(_ overlay: RGBAImage, heatmap: [Float], golden: [UInt8]) throws -> [Int] {
        let shown = ColourMap.stretch(heatmap)
        return (0..<shown.count).filter { p in
            let off = (0..<3).map { abs(Int(overlay.pixels[4 * p + $0]) - Int(golden[4 * p + $0])) }.max()!
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

/// Base64 arrays of the golden files: bytes, and little-endian float32.
enum Base64 {
    static func bytes(_ text: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: text) else { throw ExplainableViTError.image("golden: not base64") }
        return [UInt8](data)
    }

    static func floats(_ text: String) throws -> [Float] {
        let b = try bytes(text)
        return stride(from: 0, to: b.count, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }
}

/// One golden file of a kind: the export's metadata and, per photo, what Python computed.
struct Golden: Decodable {
    struct Case: Decodable {
        let name: String
        let explainClass: Int?
        let logits: [Float]
        let probabilities: [Float]
        let top3: [String]
        let grid: [Float]
        let heatmap: String  // base64 float32 at the photo's size
        let overlay: String  // base64 RGBA

        enum CodingKeys: String, CodingKey {
            case name, logits, probabilities, top3, grid, heatmap, overlay
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
            throw ExplainableViTError.image("golden \(name).json missing: run `python -m scripts.apple_goldens`")
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

/// `images.json`: the photos through `runtime.images`, and Pillow's steps on small cases.
struct ImagesGolden: Decodable {
    struct Photo: Decodable {
        let name: String
        let orientation: Int
        let maxSide: Int
        let alpha: Bool
        let rawWidth: Int, rawHeight: Int
        let raw: [UInt8]  // stored RGBA, before orientation
        let width: Int, height: Int
        let photo: [UInt8]  // RGB, what runtime explains
        let input: [UInt8]  // RGB, the model input
        let cellOfPixel: [Int]  // row * columns + column per photo pixel

        enum CodingKeys: String, CodingKey {
            case name, orientation, alpha, raw, width, height, photo, input
            case maxSide = "max_side", rawWidth = "raw_width", rawHeight = "raw_height", cellOfPixel = "cell_of_pixel"
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            orientation = try c.decode(Int.self, forKey: .orientation)
            maxSide = try c.decode(Int.self, forKey: .maxSide)
            alpha = try c.decode(Bool.self, forKey: .alpha)
            rawWidth = try c.decode(Int.self, forKey: .rawWidth)
            rawHeight = try c.decode(Int.self, forKey: .rawHeight)
            raw = try Base64.bytes(c.decode(String.self, forKey: .raw))
            width = try c.decode(Int.self, forKey: .width)
            height = try c.decode(Int.self, forKey: .height)
            photo = try Base64.bytes(c.decode(String.self, forKey: .photo))
            input = try Base64.bytes(c.decode(String.self, forKey: .input))
            cellOfPixel = try c.decode([Int].self, forKey: .cellOfPixel)
        }
    }

    struct Pillow: Decodable {
        struct Source: Decodable { let width: Int, height: Int; let rgba: String?, rgb: String? }
        struct Resized: Decodable { let filter: String, width: Int, height: Int, pixels: String }
        let orientationSource: (width: Int, height: Int, rgba: String)
        let oriented: [String: String]
        let thumbnailSizes: [[Int]]
        let resizeSource: (width: Int, height: Int, rgb: String)
        let resized: [Resized]

        enum CodingKeys: String, CodingKey {
            case oriented, resized
            case orientationSource = "orientation_source", thumbnailSizes = "thumbnail_sizes", resizeSource = "resize_source"
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let o = try c.decode(Source.self, forKey: .orientationSource), r = try c.decode(Source.self, forKey: .resizeSource)
            orientationSource = (o.width, o.height, o.rgba ?? "")
            resizeSource = (r.width, r.height, r.rgb ?? "")
            oriented = try c.decode([String: String].self, forKey: .oriented)
            thumbnailSizes = try c.decode([[Int]].self, forKey: .thumbnailSizes)
            resized = try c.decode([Resized].self, forKey: .resized)
        }
    }

    let inputSize: [Int]  // [H, W], as the manifest
    let photos: [Photo]
    let pillow: Pillow

    enum CodingKeys: String, CodingKey {
        case photos, pillow
        case inputSize = "input_size"
    }

    func photo(_ name: String) throws -> Photo {
        guard let p = photos.first(where: { $0.name == name }) else { throw ExplainableViTError.image("no golden photo \(name)") }
        return p
    }

    static func load() throws -> ImagesGolden {
        try JSONDecoder().decode(ImagesGolden.self, from: Data(contentsOf: Golden.url("images")))
    }
}
