#if canImport(CoreML) && canImport(CoreGraphics)
import CoreGraphics
import CoreML
import ExplainableViT
import Foundation

/// `ModelUnderTest` on Apple's runtime: an `ExplainableClassifier` per compute unit, and the op placement
/// Core ML plans (`MLComputePlan`, macOS 14.4 / iOS 17.4). What `explainable-vit-bench` and an app's
/// benchmark button (the sample's) time.
public actor CoreMLModel: ModelUnderTest {
    public let compiled: URL
    public let image: CGImage
    private var classifier: ExplainableClassifier?

    public init(compiled: URL, image: CGImage) {
        self.compiled = compiled
        self.image = image
    }

    public func load(_ units: ComputeUnits) async throws {
        classifier = nil  // the previous unit's model is released before the next loads
        classifier = try await ExplainableClassifier.load(compiledModelAt: compiled, computeUnits: units)
    }

    public func predict() async throws -> (probabilities: [Float], grid: [Float]) {
        guard let classifier else { throw ExplainableViTError.input(name: "model", problem: "predict before load") }
        return try await classifier.predict(image)
    }

    public nonisolated func placement(_ units: ComputeUnits) async -> Placement {
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
