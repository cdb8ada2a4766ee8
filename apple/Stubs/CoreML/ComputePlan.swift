// Linux-only stand-in for Core ML's compute plan (macOS 14.4 / iOS 17.4; see apple/Stubs/README.md):
// the declarations `explainable-vit-bench` uses to read op placement, with Apple's Swift signatures.
// Nothing here is Sendable: the SDK does not declare these types Sendable either.
import CoreGraphics  // AppleStub
import Foundation

/// `MLCPUComputeDevice` (class).
@available(macOS 14.0, iOS 17.0, tvOS 17.0, watchOS 10.0, *)
open class MLCPUComputeDevice {}

/// `MLGPUComputeDevice` (class).
@available(macOS 14.0, iOS 17.0, tvOS 17.0, watchOS 10.0, *)
open class MLGPUComputeDevice {}

/// `MLNeuralEngineComputeDevice` (class).
@available(macOS 14.0, iOS 17.0, tvOS 17.0, watchOS 10.0, *)
open class MLNeuralEngineComputeDevice {}

/// `enum MLComputeDevice` (`.cpu(MLCPUComputeDevice)`, `.gpu(MLGPUComputeDevice)`, `.neuralEngine(MLNeuralEngineComputeDevice)`).
@available(macOS 14.0, iOS 17.0, tvOS 17.0, watchOS 10.0, *)
public enum MLComputeDevice {
    case cpu(MLCPUComputeDevice)
    case gpu(MLGPUComputeDevice)
    case neuralEngine(MLNeuralEngineComputeDevice)
}

/// `enum MLModelStructure` (only the ML program case is read; the SDK also has `.neuralNetwork`, `.pipeline`).
@available(macOS 14.4, iOS 17.4, tvOS 17.4, watchOS 10.4, *)
public enum MLModelStructure {
    case unsupported
    case program(MLModelStructure.Program)

    /// `MLModelStructure.Program`
    public struct Program {
        /// `var functions: [String : MLModelStructure.Program.Function] { get }`
        public var functions: [String: Function] { AppleStub.unavailable() }

        /// `MLModelStructure.Program.Function`
        public struct Function {
            /// `var block: MLModelStructure.Program.Block { get }`
            public var block: Block { AppleStub.unavailable() }
        }

        /// `MLModelStructure.Program.Block`
        public struct Block {
            /// `var operations: [MLModelStructure.Program.Operation] { get }`
            public var operations: [Operation] { AppleStub.unavailable() }
        }

        /// `MLModelStructure.Program.Operation`
        public struct Operation {
            /// `var operatorName: String { get }`
            public var operatorName: String { AppleStub.unavailable() }
            /// `var blocks: [MLModelStructure.Program.Block] { get }`
            public var blocks: [Block] { AppleStub.unavailable() }
        }
    }
}

/// `class MLComputePlan` (Swift overlay; not Sendable).
@available(macOS 14.4, iOS 17.4, tvOS 17.4, watchOS 10.4, *)
public final class MLComputePlan {
    /// `MLComputePlan.DeviceUsage`
    public struct DeviceUsage {
        /// `let preferred: MLComputeDevice`
        public var preferred: MLComputeDevice { AppleStub.unavailable() }
        /// `let supported: [MLComputeDevice]`
        public var supported: [MLComputeDevice] { AppleStub.unavailable() }
    }

    /// `MLComputePlan.Cost`
    public struct Cost {
        /// `let weight: Double`: the op's share of the model's estimated cost.
        public var weight: Double { AppleStub.unavailable() }
    }

    /// `static func load(contentsOf url: URL, configuration: MLModelConfiguration) async throws -> MLComputePlan`
    public static func load(contentsOf url: URL, configuration: MLModelConfiguration) async throws -> MLComputePlan {
        AppleStub.unavailable()
    }

    /// `var modelStructure: MLModelStructure { get }`
    public var modelStructure: MLModelStructure { AppleStub.unavailable() }

    /// `func deviceUsage(for operation: MLModelStructure.Program.Operation) -> MLComputePlan.DeviceUsage?`
    public func deviceUsage(for operation: MLModelStructure.Program.Operation) -> DeviceUsage? { AppleStub.unavailable() }

    /// `func estimatedCost(of operation: MLModelStructure.Program.Operation) -> MLComputePlan.Cost?`
    public func estimatedCost(of operation: MLModelStructure.Program.Operation) -> Cost? { AppleStub.unavailable() }
}
