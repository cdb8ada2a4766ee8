import Foundation
import XCTest
@testable import ExplainableViT

/// The core's pieces on cases with known answers.
final class CoreTests: XCTestCase {
    func metadata(classInput: String = "target", drop: String? = nil) -> [String: String] {
        var values = ["schema": "1", "labels": "[\"cat\", \"dog\", \"fox\"]", "grid": "[2, 3]", "image_size": "[16, 24]",
                      "image_fit": "stretch", "resample": "bilinear", "heatmap_output": "relevance",
                      "heatmap_meaning": "m", "heatmap_display": "d", "class_input": classInput, "special_tokens": "1",
                      "source_sha256": "abc", "parity": "passed", "toolkit_version": "0.1.0", "manifest": "{}"]
        if let drop { values[drop] = nil }
        return Dictionary(uniqueKeysWithValues: values.map { (ModelMetadata.prefix + $0.key, $0.value) })
    }

    func testMetadataListsEveryProblemAtOnce() {
        var values = metadata(drop: "labels")
        values[ModelMetadata.prefix + "grid"] = "[2]"
        values[ModelMetadata.prefix + "parity"] = nil
        XCTAssertThrowsError(try ModelMetadata(userDefined: values)) { error in
            guard case ExplainableViTError.metadata(let problems) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(problems.count, 3, "\(problems)")
        }
    }

    func testLabelsAndClassIndicesOutOfRangeThrow() throws {
        let m = try ModelMetadata(userDefined: metadata())
        XCTAssertEqual(try m.index(of: "dog"), 1)
        XCTAssertEqual(try m.label(at: 2), "fox")
        XCTAssertEqual(try m.classInputValue(for: nil), -1)
        XCTAssertEqual(try m.classInputValue(for: "fox"), 2)
        XCTAssertThrowsError(try m.index(of: "cow")) {
            XCTAssertEqual($0 as? ExplainableViTError, .unknownLabel("cow", known: ["cat", "dog", "fox"]))
        }
        for bad in [-2, 3, 99] {
            XCTAssertThrowsError(try m.classInputValue(forIndex: bad)) {
                XCTAssertEqual($0 as? ExplainableViTError, .classIndexOutOfRange(bad, classCount: 3))
            }
        }
        XCTAssertThrowsError(try m.label(at: 3))
        let rollout = try ModelMetadata(userDefined: metadata(classInput: ""))
        XCTAssertThrowsError(try rollout.classInputValue(for: "dog")) {
            XCTAssertEqual($0 as? ExplainableViTError, .classNotSelectable(heatmapOutput: "relevance"))
        }
    }

    func testTopKAndOrderedProbabilities() throws {
        let top = Scores.topK([0.2, 0.5, 0.3], labels: ["a", "b", "c"], k: 2)
        XCTAssertEqual(top.map(\.label), ["b", "c"])
        XCTAssertEqual(try Scores.ordered(["b": 0.5, "a": 0.25, "c": 0.25], labels: ["a", "b", "c"]), [0.25, 0.5, 0.25])
        XCTAssertThrowsError(try Scores.ordered(["a": 1], labels: ["a", "b"]))
    }

    func testHalfFloats() {
        let cases: [(UInt16, Float)] = [(0x3C00, 1), (0xC000, -2), (0x7BFF, 65504), (0x0001, 5.9604645e-8),
                                        (0x3555, 0.33325195), (0x0000, 0), (0x7C00, .infinity), (0xFC00, -.infinity)]
        for (bits, value) in cases {
            XCTAssertEqual(Arrays.float(fromHalf: bits), value, "0x\(String(bits, radix: 16))")
        }
        XCTAssert(Arrays.float(fromHalf: 0x7E00).isNaN)
    }

    func testStridedArraysSkipPadding() throws {
        let padded: [Float] = [1, 2, 3, -1, 4, 5, 6, -1]  // (2, 3) with rows padded to 4
        XCTAssertEqual(try Arrays.rowMajor(shape: [1, 2, 3], strides: [8, 4, 1]) { padded[$0] }, [1, 2, 3, 4, 5, 6])
    }

    func testGeometryMapsPhotoToInputAndBack() {
        let g = ImageGeometry(photoSize: CGSize(width: 400, height: 300), inputSize: CGSize(width: 32, height: 32),
                              gridRows: 4, gridColumns: 4)
        XCTAssertEqual(g.inputPoint(fromPhoto: CGPoint(x: 400, y: 300)), CGPoint(x: 32, y: 32))
        XCTAssertEqual(g.photoPoint(fromInput: CGPoint(x: 8, y: 16)), CGPoint(x: 100, y: 150))
        XCTAssert(g.cell(atPhoto: CGPoint(x: 99.9, y: 150)).map { $0 == (2, 0) } ?? false)
        XCTAssert(g.cell(atPhoto: CGPoint(x: 399, y: 299)).map { $0 == (3, 3) } ?? false)
        XCTAssertNil(g.cell(atPhoto: CGPoint(x: 400, y: 0)))
        XCTAssertEqual(g.photoRect(row: 1, column: 2), CGRect(x: 200, y: 75, width: 100, height: 75))
    }

    func testFlatMapsAreDrawnAsZeros() throws {
        XCTAssertEqual(ColourMap.stretch([0.5, 0.5, 0.5]), [0, 0, 0])
        XCTAssertEqual(ColourMap.stretch([1, 3, 2]), [0, 1, 0.5])
        XCTAssertEqual(ColourMap.jetIndex(1), 255)
        XCTAssertEqual(ColourMap.jetIndex(0), 0)
    }

    func testResizeKeepsAConstantMapAndShrinks() throws {
        let flat = try Heatmap(width: 4, height: 4, values: [Float](repeating: 0.25, count: 16))
        XCTAssert(try flat.resized(width: 9, height: 2).values.allSatisfy { abs($0 - 0.25) < 1e-7 })
        XCTAssertThrowsError(try Heatmap(width: 4, height: 4, values: [1]))
    }

    func testExplainerRefusesAClassForRolloutModels() throws {
        let explainer = Explainer(metadata: try ModelMetadata(userDefined: metadata(classInput: "")))
        let photo = try RGBAImage(width: 3, height: 2, rgb: [UInt8](repeating: 9, count: 18))
        XCTAssertThrowsError(try explainer.explanation(probabilities: [0.2, 0.5, 0.3], grid: [Float](repeating: 1, count: 6),
                                                       photo: photo, explaining: "cat"))
        let e = try explainer.explanation(probabilities: [0.2, 0.5, 0.3], grid: [0, 1, 0, 0, 0, 0], photo: photo)
        XCTAssertEqual(e.label, "dog")
        XCTAssertEqual(e.heatmap.width, 3)
    }
}
