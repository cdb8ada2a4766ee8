#if canImport(CoreML) && canImport(CoreGraphics)
import CoreGraphics
import CoreML
import ExplainableViT
import ExplainableViTBenchKit
import Foundation

/// Model mode: the export compiled once, then per compute unit loaded, predicted and post-processed
/// on a synthetic 12 MP photo (`ModelBench`), with the op placement Core ML plans.
enum CoreMLBench {
    static func rows(_ path: String, _ options: BenchOptions) async throws -> [BenchRow] {
        let url = URL(fileURLWithPath: path)
        let compiled = url.pathExtension == "mlmodelc" ? url : try await ExplainableClassifier.compile(packageAt: url)
        let photo = try PostprocessBench.photo(width: options.postprocess.photoWidth, height: options.postprocess.photoHeight)
        let probe = try await ExplainableClassifier.load(compiledModelAt: compiled, computeUnits: .cpu)
        let bench = ModelBench(explainer: Explainer(metadata: probe.metadata, maxSide: options.postprocess.maxSide),
                               photo: photo, runs: options.runs, warmup: options.warmup)
        return await bench.run(CoreMLModel(compiled: compiled, image: try photo.cgImage()), units: options.computeUnits)
    }
}

/// `ModelUnderTest` on Apple's runtime: an `ExplainableClassifier` per compute unit.
actor CoreMLModel: ModelUnderTest {
    let compiled: URL
    let image: CGImage
    private var classifier: ExplainableClassifier?

    init(compiled: URL, image: CGImage) {
        self.compiled = compiled
        self.image = image
    }

    func load(_ units: ComputeUnits) async throws {
        classifier = nil  // the previous unit's model is released before the next loads
        classifier = try await ExplainableClassifier.load(compiledModelAt: compiled, computeUnits: units)
    }

    func predict() async throws -> (probabilities: [Float], grid: [Float]) {
        guard let classifier else { throw ExplainableViTError.input(name: "model", problem: "predict before load") }
        return try await classifier.predict(image)
    }

    nonisolated func placement(_ units: ComputeUnits) async -> Placement {
        guard #available(macOS 14.4, iOS 17.4, *) else {
            return Placement(reason: "op placement needs MLComputePlan: macOS 14.4+ / iOS 17.4+")
        }
        do {
            return Placement(ops: try await Self.plannedOps(compiled, units))
        } catch {
            return Placement(reason: "MLComputePlan failed: \(error)")
        }
    }

    /// Every op of the program's main function, nested blocks included, with its planned device and cost
    /// (as `bench.placement.compute_plan_ops`).
    @available(macOS 14.4, iOS 17.4, *)
    static func plannedOps(_ compiled: URL, _ units: ComputeUnits) async throws -> [(device: String?, cost: Double?)] {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = units.mlComputeUnits
        let plan = try await MLComputePlan.load(contentsOf: compiled, configuration: configuration)
        guard case .program(let program) = plan.modelStructure, let main = program.functions["main"] else {
            throw ExplainableViTError.output(name: "compute plan", problem: "not an ML program: no per-op plan")
        }
        var ops: [(device: String?, cost: Double?)] = [], pending = main.block.operations[...]
        while let op = pending.popFirst() {
            ops.append((plan.deviceUsage(for: op).map { name($0.preferred) }, plan.estimatedCost(of: op)?.weight))
            pending += op.blocks.flatMap(\.operations)
        }
        return ops
    }

    /// `bench.placement.DEVICES`' names.
    @available(macOS 14.4, iOS 17.4, *)
    static func name(_ device: MLComputeDevice) -> String {
        if case .cpu = device { return "cpu" }
        if case .gpu = device { return "gpu" }
        if case .neuralEngine = device { return "neural engine" }
        return "unknown"
    }
}
#endif
