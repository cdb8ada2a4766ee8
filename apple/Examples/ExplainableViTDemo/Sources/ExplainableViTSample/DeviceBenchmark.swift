#if canImport(CoreML) && canImport(ImageIO) && canImport(Combine)
import CoreGraphics
import ExplainableViT
import ExplainableViTBenchKit
import Foundation

/// What the benchmark button made: one row per compute unit and the JSON file to share.
struct BenchmarkResult: Sendable {
    let rows: [BenchRow]
    let json: String
    /// `python -m bench ... --device-results <this file>` shows the rows beside the host's.
    let file: URL

    /// One row in words, as `explainable-vit-bench` prints it.
    static func line(_ row: BenchRow) -> String {
        func ms(_ value: Double?) -> String { value.map { String(format: "%.1f ms", $0) } ?? "-" }
        guard row.status == "works" else { return "\(row.target): \(row.status)" }
        return "\(row.target): predict p50 \(ms(row.latencyMsP50)) p90 \(ms(row.latencyMsP90)), load \(ms(row.loadMs)), "
            + "first \(ms(row.firstPredictionMs)), overlay p50 \(ms(row.postprocessMsP50))"
    }
}

/// The benchmark button: `explainable-vit-bench MODEL --compute-units cpu,cpu+gpu,cpu+ne,all --runs 20
/// --warmup 3 --json FILE`, on this device. The same harness (`ModelBench`: load, first prediction,
/// timed predictions, post-processing of a synthetic 12 MP photo per compute unit) and the same row
/// schema; only the op placement is left out (the CLI's `MLComputePlan` reader is not in the kit).
enum DeviceBenchmark {
    static let runs = 20
    static let warmup = 3

    static func run(compiled: URL, metadata: ModelMetadata, modelName: String) async throws -> BenchmarkResult {
        let defaults = PostprocessBench()  // the CLI's photo (4032x3024) and display cap (2048 px)
        let photo = try PostprocessBench.photo(width: defaults.photoWidth, height: defaults.photoHeight)
        let bench = ModelBench(explainer: Explainer(metadata: metadata, maxSide: defaults.maxSide), photo: photo,
                               runs: runs, warmup: warmup)
        let units = ComputeUnits.allCases
        let rows = await bench.run(CoreMLModel(compiled: compiled, image: try photo.cgImage()), units: units)
        let command = "ExplainableViTDemo benchmark button: --compute-units \(units.map(\.rawValue).joined(separator: ",")) "
            + "--runs \(runs) --warmup \(warmup) (\(build) build)"
        let json = try BenchReport(command: command, model: modelName, rows: rows).json()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("explainable-vit-device.json")
        try json.write(to: file)
        return BenchmarkResult(rows: rows, json: String(decoding: json, as: UTF8.self), file: file)
    }

    #if DEBUG
    static let build = "debug"
    #else
    static let build = "release"
    #endif
}
#endif
