import ExplainableViT
import Foundation
import XCTest
@testable import ExplainableViTBenchKit

/// The benchmark's statistics, rows and command line, with a stand-in model: these tests check
/// what is counted and written, never how fast anything is.
final class BenchKitTests: XCTestCase {
    func testPercentilesAreNumpys() {
        // numpy.percentile([4, 1, 3, 2, 10], [50, 90]) == [3.0, 7.6]
        let s = Summary([4, 1, 3, 2, 10])
        XCTAssertEqual(s.p50, 3)
        XCTAssertEqual(s.p90, 7.6, accuracy: 1e-12)
        XCTAssertEqual(s.mean, 4)
        XCTAssertEqual(Summary([2, 1]).p50, 1.5)
        XCTAssert(Summary([]).p50.isNaN)
    }

    func testPlacementSumsAsBenchPlacement() {
        let p = Placement(ops: [("neural engine", 3), ("cpu", 1), (nil, nil), ("neural engine", 0)])
        XCTAssertEqual(p.ops, 4)
        XCTAssertEqual(p.devices?["neural engine"], .init(ops: 2, opShare: 0.5, costShare: 0.75))
        XCTAssertEqual(p.devices?["not reported"]?.ops, 1)
    }

    /// A stand-in for Core ML: counts calls, fails to load one compute unit.
    actor FakeModel: ModelUnderTest {
        var loads: [ComputeUnits] = [], predictions = 0
        let failing: ComputeUnits?
        init(failing: ComputeUnits? = nil) { self.failing = failing }

        func load(_ units: ComputeUnits) async throws {
            loads.append(units)
            if units == failing { throw ExplainableViTError.input(name: "model", problem: "stand-in refuses \(units.rawValue)") }
        }
        func predict() async throws -> (probabilities: [Float], grid: [Float]) {
            predictions += 1
            return ([0.25, 0.75], PostprocessBench.grid(rows: 4, columns: 6))
        }
        nonisolated func placement(_ units: ComputeUnits) async -> Placement { Placement(reason: "stand-in") }
    }

    func explainer() throws -> Explainer {
        let keys = ["schema": "1", "labels": "[\"a\", \"b\"]", "grid": "[4, 6]", "image_size": "[32, 48]", "image_fit": "stretch",
                    "resample": "bilinear", "heatmap_output": "relevance", "heatmap_meaning": "m", "heatmap_display": "d",
                    "class_input": "target", "special_tokens": "1", "source_sha256": "x", "parity": "passed",
                    "toolkit_version": "0", "manifest": "{\"precision\": \"fp16\", \"explain\": \"gradrollout\"}"]
        return Explainer(metadata: try ModelMetadata(userDefined: Dictionary(uniqueKeysWithValues: keys.map { (ModelMetadata.prefix + $0.key, $0.value) })))
    }

    func testRowsPerComputeUnitWithPythonsFieldNames() async throws {
        let model = FakeModel(failing: .cpuAndGPU)
        let bench = ModelBench(explainer: try explainer(), photo: try PostprocessBench.photo(width: 60, height: 40), runs: 5, warmup: 2)
        let rows = await bench.run(model, units: [.cpu, .cpuAndGPU, .all], device: "stand-in")
        XCTAssertEqual(rows.map(\.target), ["coreml fp16 gradrollout cpu", "coreml fp16 gradrollout cpu+gpu", "coreml fp16 gradrollout all"])
        let loads = await model.loads, predictions = await model.predictions
        XCTAssertEqual(loads, [.cpu, .cpuAndGPU, .all])
        XCTAssertEqual(predictions, 2 * (1 + 2 + 5), "first + warmup + runs, for the two units that loaded")
        XCTAssertEqual(rows.map(\.status).filter { $0 == "works" }.count, 2)
        XCTAssert(rows[1].status.hasPrefix("failed: ") && rows[1].status.contains("stand-in refuses cpu+gpu"), rows[1].status)
        XCTAssertNil(rows[1].latencyMsP50)

        let json = try JSONSerialization.jsonObject(with: try BenchReport(command: "test", rows: rows).json()) as! [String: Any]
        let first = (json["rows"] as! [[String: Any]])[0]
        for key in ["target", "backend", "precision", "explain", "status", "device", "compute_units", "load_ms", "first_prediction_ms",
                    "latency_ms_p50", "latency_ms_p90", "postprocess_ms_p50", "postprocess_ms_p90", "runs", "peak_rss_mb", "placement"] {
            XCTAssertNotNil(first[key], key)
        }
        XCTAssertEqual(first["backend"] as? String, "coreml")
        XCTAssertNotNil((json["header"] as? [String: Any])?["machine"])
    }

    func testPostprocessRowOnASmallPhoto() throws {
        var bench = PostprocessBench()
        (bench.photoWidth, bench.photoHeight, bench.maxSide, bench.runs, bench.warmup) = (90, 60, 30, 3, 0)
        let row = try bench.run(device: "here", build: "test")
        XCTAssertEqual(row.postprocess, "photo 90x60, grid 14x14 -> overlay 30x20")
        XCTAssertEqual(row.runs, 3)
        bench.reference = true
        XCTAssertEqual(try bench.run(device: "here", build: "test").postprocess, "photo 90x60, grid 14x14 -> overlay 90x60")
    }

    func testCommandLine() throws {
        let model = try BenchOptions.parse(["m.mlpackage", "--compute-units", "cpu,cpu+ne", "--runs", "7", "--json", "o.json"])
        XCTAssertEqual(model.mode, .model(path: "m.mlpackage"))
        XCTAssertEqual(model.computeUnits, [.cpu, .cpuAndNeuralEngine])
        XCTAssertEqual(model.runs, 7)
        let post = try BenchOptions.parse(["--postprocess", "--reference", "--photo", "400x300", "--grid", "4x6"])
        XCTAssertEqual(post.mode, .postprocess)
        XCTAssert(post.postprocess.reference && post.postprocess.photoWidth == 400 && post.postprocess.gridColumns == 6)
        for bad in [["--postprocess", "m.mlpackage"], [], ["m", "--compute-units", "cpu,npu"], ["--postprocess", "--runs", "0"], ["m", "--what"]] {
            XCTAssertThrowsError(try BenchOptions.parse(bad), "\(bad)")
        }
        XCTAssertThrowsError(try BenchOptions.parse(["m", "--compute-units", "npu"])) {
            XCTAssert("\($0)".contains("known: cpu, cpu+gpu, cpu+ne, all"), "\($0)")
        }
    }
}
