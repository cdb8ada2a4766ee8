import Foundation
import XCTest
@testable import ExplainableViT
#if canImport(CoreML)
import CoreML
#endif

/// What an app shows when something fails, and the glue's pure parts. The glue itself is compiled
/// here (against apple/Stubs on Linux); running a model needs a Mac.
final class AppleGlueTests: XCTestCase {
    static let everyCase: [ExplainableViTError] = [
        .metadata(problems: ["missing key 'explainable_vit.grid'", "no labels"]),
        .unknownLabel("cow", known: ["cat", "dog"]),
        .classIndexOutOfRange(7, classCount: 3),
        .classNotSelectable(heatmapOutput: "rollout"),
        .noHeatmap,
        .input(name: "image", problem: "the model has no image input"),
        .output(name: "logits", problem: "missing from the prediction"),
        .unsupportedArrayType("MLMultiArrayDataType(131104)"),
        .image("could not draw a 3x2 CGImage"),
        .modelCache("model.mlpackage/weights is a link"),
    ]

    /// No `default`: a new error case stops this file compiling until it joins `everyCase`.
    func testEveryCaseIsListed() {
        for error in Self.everyCase {
            switch error {
            case .metadata, .unknownLabel, .classIndexOutOfRange, .classNotSelectable, .noHeatmap, .input, .output,
                 .unsupportedArrayType, .image, .modelCache: break
            }
        }
        XCTAssertEqual(Set(Self.everyCase.map(\.description)).count, Self.everyCase.count, "two cases read the same")
    }

    func testEveryErrorSaysWhatHappenedAndWhatToDo() {
        for error in Self.everyCase {
            let localized = error as LocalizedError
            XCTAssertFalse(localized.errorDescription?.isEmpty ?? true, "\(error)")
            XCTAssertFalse(localized.recoverySuggestion?.isEmpty ?? true, "no recovery suggestion: \(error)")
            XCTAssertTrue(error.description.contains(localized.errorDescription!), "\(error)")
            XCTAssertTrue(error.description.contains(localized.recoverySuggestion!), "\(error)")
            XCTAssertEqual((error as Error).localizedDescription, localized.errorDescription, "\(error)")
        }
    }

    func testErrorsNameTheirSpecifics() {
        XCTAssertTrue(ExplainableViTError.unknownLabel("cow", known: ["cat", "dog"]).errorDescription!.contains("cat, dog"))
        XCTAssertTrue(ExplainableViTError.classIndexOutOfRange(7, classCount: 3).errorDescription!.contains("0..2"))
        XCTAssertTrue(ExplainableViTError.metadata(problems: ["a", "b"]).errorDescription!.contains("a; b"))
        XCTAssertTrue(ExplainableViTError.noHeatmap.recoverySuggestion!.contains("--explain"))
    }

    #if canImport(CoreML)
    func testComputeUnitsMapToCoreMLsOwn() {
        let expected: [ComputeUnits: MLComputeUnits] = [.cpu: .cpuOnly, .cpuAndGPU: .cpuAndGPU,
                                                        .cpuAndNeuralEngine: .cpuAndNeuralEngine, .all: .all]
        for units in ComputeUnits.allCases { XCTAssertEqual(units.mlComputeUnits, expected[units], units.rawValue) }
    }
    #endif
}
