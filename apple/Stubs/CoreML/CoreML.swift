// Linux-only stand-in for Apple's Core ML (see apple/Stubs/README.md): the declarations the
// package's glue uses, with Apple's signatures and Sendable-ness, so the glue is type- and
// concurrency-checked here. No body runs a model: each traps.
import CoreGraphics
import CoreVideo
import Foundation

/// `MLComputeUnits` (`enum MLComputeUnits: Int`).
public enum MLComputeUnits: Int, Sendable {
    case cpuOnly = 0
    case cpuAndGPU = 1
    case all = 2
    @available(macOS 13.0, iOS 16.0, tvOS 16.0, watchOS 9.0, *)
    case cpuAndNeuralEngine = 3
}

/// `MLFeatureType` (`enum MLFeatureType: Int`).
public enum MLFeatureType: Int, Sendable {
    case invalid = 0, int64, double, string, image, multiArray, dictionary, sequence, state
}

/// `MLMultiArrayDataType` (`enum MLMultiArrayDataType: Int`, raw values as in the SDK).
public enum MLMultiArrayDataType: Int, Sendable {
    case double = 0x10040  // 0x10000 | 64; `float64` is the same value
    case float32 = 0x10020  // 0x10000 | 32; `float` is the same value
    @available(macOS 12.0, iOS 16.0, tvOS 16.0, watchOS 9.0, *)
    case float16 = 0x10010  // 0x10000 | 16
    case int32 = 0x20020  // 0x20000 | 32
    /// `MLMultiArrayDataType.float64`
    public static var float64: MLMultiArrayDataType { .double }
    /// `MLMultiArrayDataType.float`
    public static var float: MLMultiArrayDataType { .float32 }
}

/// `MLModelMetadataKey` (`struct MLModelMetadataKey: Hashable, RawRepresentable`, a typed string).
public struct MLModelMetadataKey: Hashable, RawRepresentable, Sendable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// `MLModelMetadataKey.creatorDefinedKey`: the model's user-defined `[String: String]`.
    public static let creatorDefinedKey = MLModelMetadataKey(rawValue: "MLModelCreatorDefinedKey")
}

/// `MLFeatureProvider` (an Objective-C protocol: class-bound, not Sendable).
public protocol MLFeatureProvider: AnyObject {
    /// `var featureNames: Set<String> { get }`
    var featureNames: Set<String> { get }
    /// `func featureValue(for featureName: String) -> MLFeatureValue?`
    func featureValue(for featureName: String) -> MLFeatureValue?
}

/// `MLDictionaryFeatureProvider` (not Sendable).
open class MLDictionaryFeatureProvider: MLFeatureProvider {
    /// `init(dictionary: [String : Any]) throws`
    public init(dictionary: [String: Any]) throws { AppleStub.unavailable() }
    /// `var featureNames: Set<String> { get }`
    open var featureNames: Set<String> { AppleStub.unavailable() }
    /// `func featureValue(for featureName: String) -> MLFeatureValue?`
    open func featureValue(for featureName: String) -> MLFeatureValue? { AppleStub.unavailable() }
}

/// `MLMultiArray` (not Sendable: mutable storage).
open class MLMultiArray {
    /// `init(shape: [NSNumber], dataType: MLMultiArrayDataType) throws`
    public init(shape: [NSNumber], dataType: MLMultiArrayDataType) throws { AppleStub.unavailable() }
    /// `var shape: [NSNumber] { get }`
    open var shape: [NSNumber] { AppleStub.unavailable() }
    /// `var strides: [NSNumber] { get }`
    open var strides: [NSNumber] { AppleStub.unavailable() }
    /// `var dataType: MLMultiArrayDataType { get }`
    open var dataType: MLMultiArrayDataType { AppleStub.unavailable() }
    /// `subscript(idx: Int) -> NSNumber { get set }`
    open subscript(index: Int) -> NSNumber {
        get { AppleStub.unavailable() }
        set { AppleStub.unavailable() }
    }
    /// `func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer, [Int]) throws -> R) rethrows -> R`
    /// (iOS 15.4, macOS 12.3): the closure gets the storage and its strides in scalars.
    @available(macOS 12.3, iOS 15.4, tvOS 15.4, watchOS 8.5, *)
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer, [Int]) throws -> R) rethrows -> R {
        AppleStub.unavailable()
    }
}

/// `MLImageConstraint` (not Sendable).
open class MLImageConstraint {}

/// `MLFeatureValue` (not Sendable in the SDK; `MLSendableFeatureValue` is the iOS 18 Sendable copy).
open class MLFeatureValue {
    /// `MLFeatureValue.ImageOption` (a typed string key).
    public struct ImageOption: Hashable, RawRepresentable, Sendable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// `MLFeatureValue.ImageOption.cropAndScale`: a `VNImageCropAndScaleOption` value.
        public static let cropAndScale = ImageOption(rawValue: "cropAndScale")
    }

    /// `convenience init(pixelBuffer value: CVPixelBuffer)`
    public init(pixelBuffer value: CVPixelBuffer) { AppleStub.unavailable() }
    /// `convenience init(cgImage: CGImage, constraint: MLImageConstraint, options: [MLFeatureValue.ImageOption : Any]? = nil) throws`
    public init(cgImage: CGImage, constraint: MLImageConstraint, options: [ImageOption: Any]? = nil) throws {
        AppleStub.unavailable()
    }
    /// `init(multiArray value: MLMultiArray)`
    public init(multiArray value: MLMultiArray) { AppleStub.unavailable() }
    /// `var multiArrayValue: MLMultiArray? { get }`
    open var multiArrayValue: MLMultiArray? { AppleStub.unavailable() }
    /// `var dictionaryValue: [AnyHashable : NSNumber] { get }`
    open var dictionaryValue: [AnyHashable: NSNumber] { AppleStub.unavailable() }
}

/// `MLFeatureDescription` (not Sendable).
open class MLFeatureDescription {
    /// `var type: MLFeatureType { get }`
    open var type: MLFeatureType { AppleStub.unavailable() }
    /// `var imageConstraint: MLImageConstraint? { get }`
    open var imageConstraint: MLImageConstraint? { AppleStub.unavailable() }
}

/// `MLModelDescription` (not Sendable).
open class MLModelDescription {
    /// `var inputDescriptionsByName: [String : MLFeatureDescription] { get }`
    open var inputDescriptionsByName: [String: MLFeatureDescription] { AppleStub.unavailable() }
    /// `var metadata: [MLModelMetadataKey : Any] { get }`
    open var metadata: [MLModelMetadataKey: Any] { AppleStub.unavailable() }
}

/// `MLModelConfiguration` (not Sendable: mutable settings).
open class MLModelConfiguration {
    public init() {}
    /// `var computeUnits: MLComputeUnits { get set }`
    open var computeUnits: MLComputeUnits {
        get { AppleStub.unavailable() }
        set { AppleStub.unavailable() }
    }
}

/// `MLModel` (not Sendable in the SDK).
open class MLModel {
    /// `var modelDescription: MLModelDescription { get }`
    open var modelDescription: MLModelDescription { AppleStub.unavailable() }

    /// `class func load(contentsOf url: URL, configuration: MLModelConfiguration = MLModelConfiguration()) async throws -> MLModel`
    @available(macOS 12.0, iOS 15.0, tvOS 15.0, watchOS 8.0, *)
    open class func load(contentsOf url: URL, configuration: MLModelConfiguration = MLModelConfiguration()) async throws -> MLModel {
        AppleStub.unavailable()
    }

    /// `class func compileModel(at modelURL: URL) async throws -> URL`
    @available(macOS 13.0, iOS 16.0, tvOS 16.0, watchOS 9.0, *)
    open class func compileModel(at modelURL: URL) async throws -> URL { AppleStub.unavailable() }

    /// `func prediction(from input: any MLFeatureProvider) throws -> any MLFeatureProvider`
    open func prediction(from input: any MLFeatureProvider) throws -> any MLFeatureProvider { AppleStub.unavailable() }

    /// `func prediction(from input: any MLFeatureProvider, options: MLPredictionOptions) async throws -> any MLFeatureProvider`
    /// (Apple: safe to call concurrently; cancelling the calling task cancels the prediction)
    @available(macOS 14.0, iOS 17.0, tvOS 17.0, watchOS 10.0, *)
    open func prediction(from input: any MLFeatureProvider, options: MLPredictionOptions) async throws -> any MLFeatureProvider {
        AppleStub.unavailable()
    }
}

/// `MLPredictionOptions` (not Sendable: mutable settings).
open class MLPredictionOptions {
    public init() {}
}
