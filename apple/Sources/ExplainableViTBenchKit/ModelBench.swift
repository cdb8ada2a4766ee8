import ExplainableViT
import Foundation

/// What the benchmark times: an `MLModel` on a Mac or iPhone (`explainable-vit-bench`'s Core ML
/// runner), or a stand-in in the tests (which check the statistics and the rows, never a speed).
public protocol ModelUnderTest: Sendable {
    /// Loads the model for these compute units (timed: `load_ms`); later predictions use it.
    func load(_ units: ComputeUnits) async throws
    /// One prediction on the model last loaded: probabilities `(C,)` and the heatmap grid, row-major.
    func predict() async throws -> (probabilities: [Float], grid: [Float])
    /// Where Core ML plans each op for these compute units (`MLComputePlan`), or why it cannot say.
    func placement(_ units: ComputeUnits) async -> Placement
}

/// Per compute unit: load, first prediction, `runs` timed predictions after `warmup`, and the
/// post-processing of their output (display-size heatmap, colours, overlay) on `photo`.
public struct ModelBench: Sendable {
    public let explainer: Explainer
    public let photo: RGBAImage
    public let runs: Int
    public let warmup: Int

    public init(explainer: Explainer, photo: RGBAImage, runs: Int, warmup: Int) {
        self.explainer = explainer
        self.photo = photo
        self.runs = runs
        self.warmup = warmup
    }

    /// One row per compute unit, in order; a unit that fails is a row whose status says why (the
    /// others are still measured), as in `python -m bench`.
    public func run(_ model: some ModelUnderTest, units: [ComputeUnits], device: String = Machine.device()) async -> [BenchRow] {
        var rows: [BenchRow] = []
        for unit in units {
            var row = BenchRow(target: Self.target(explainer.metadata, unit), backend: "coreml",
                               precision: Self.manifest(explainer.metadata, "precision") ?? "unknown",
                               explain: Self.manifest(explainer.metadata, "explain") ?? "unknown", device: device)
            row.computeUnits = unit.rawValue
            do {
                try await measure(model, unit, into: &row)
            } catch {
                row.status = "failed: \(type(of: error)): \(error)"
            }
            row.placement = await model.placement(unit)
            rows.append(row)
        }
        return rows
    }

    func measure(_ model: some ModelUnderTest, _ unit: ComputeUnits, into row: inout BenchRow) async throws {
        let reset = Machine.resetPeak(), baseline = Machine.residentMB()
        row.loadMs = rounded(try await Stopwatch.milliseconds { try await model.load(unit) }.ms, 3)
        let (first, firstMs) = try await Stopwatch.milliseconds { try await model.predict() }
        row.firstPredictionMs = rounded(firstMs, 3)
        let predictions = Summary(try await Stopwatch.samples(runs: runs, warmup: warmup) { _ = try await model.predict() })
        let postprocessing = Summary(try Stopwatch.samples(runs: runs, warmup: min(warmup, 1)) {
            _ = try explainer.explanation(probabilities: first.probabilities, grid: first.grid, photo: photo)
        })
        row.latencyMsP50 = rounded(predictions.p50, 3)
        row.latencyMsP90 = rounded(predictions.p90, 3)
        row.postprocessMsP50 = rounded(postprocessing.p50, 3)
        row.postprocessMsP90 = rounded(postprocessing.p90, 3)
        row.runs = runs
        row.setMemory(baseline: baseline, reset: reset)
    }

    /// `python -m bench`'s name for a Core ML compute-unit row: "coreml fp16 cpu+ne" (rollout),
    /// "coreml fp16 gradrollout cpu+ne".
    public static func target(_ metadata: ModelMetadata, _ unit: ComputeUnits) -> String {
        let explain = manifest(metadata, "explain") ?? "unknown"
        return "coreml \(manifest(metadata, "precision") ?? "unknown")" + (explain == "rollout" ? "" : " \(explain)") + " \(unit.rawValue)"
    }

    /// A string field of the model's embedded manifest (`precision`, `explain`, ...).
    static func manifest(_ metadata: ModelMetadata, _ key: String) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(metadata.manifestJSON.utf8)) as? [String: Any]
        return object?[key] as? String
    }
}
