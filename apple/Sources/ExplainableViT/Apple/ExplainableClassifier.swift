#if canImport(CoreML) && canImport(CoreGraphics)
import CoreGraphics
import CoreML
import Foundation
#if canImport(Vision)
import Vision
#endif

/// One entry point for an app: a compiled explainable-vit Core ML model in, label + probabilities +
/// heatmap + overlay out, from one `MLModel` prediction.
///
/// The model is a Core ML *classifier* (Xcode previews it, Vision can label with it), but Vision
/// hands a classifier's caller `VNClassificationObservation`s only, so the heatmap output would be
/// lost: this type calls `MLModel.prediction(from:)` directly, which returns every output at once.
///
///     let classifier = try ExplainableClassifier(compiledModelURL: url, computeUnits: .all)
///     let result = try classifier.explain(photo)            // photo: CGImage, upright
///     result.label, result.ranked.prefix(3), result.heatmap, result.overlayImage
public final class ExplainableClassifier: @unchecked Sendable {  // MLModel predictions are thread-safe
    public let model: MLModel
    public let metadata: ModelMetadata
    /// The part that needs no model: scores, upsampling, colour map, overlay (alpha adjustable).
    public var explainer: Explainer
    private let imageInput: String
    private let imageConstraint: MLImageConstraint

    /// Loads a compiled model (`.mlmodelc`; Xcode compiles an `.mlpackage` added to a target, or
    /// use `compile(packageAt:)`) and reads its metadata.
    public convenience init(compiledModelURL url: URL, computeUnits: ComputeUnits = .all) throws {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits.mlComputeUnits
        try self.init(model: MLModel(contentsOf: url, configuration: configuration))
    }

    public init(model: MLModel) throws {
        let description = model.modelDescription
        var values: [String: String] = [:]
        for (key, value) in description.metadata[MLModelMetadataKey.creatorDefinedKey] as? [String: Any] ?? [:] {
            values[key] = value as? String
        }
        let metadata = try ModelMetadata(userDefined: values)
        guard let input = description.inputDescriptionsByName.first(where: { $0.value.type == .image }),
              let constraint = input.value.imageConstraint else {
            throw ExplainableViTError.output(name: "image", problem: "the model has no image input")
        }
        self.model = model
        self.metadata = metadata
        imageInput = input.key
        imageConstraint = constraint
        explainer = Explainer(metadata: metadata)
    }

    /// Compiles an `.mlpackage` on the device; returns the `.mlmodelc` URL (cache it: compiling takes time).
    public static func compile(packageAt url: URL) async throws -> URL {
        try await MLModel.compileModel(at: url)
    }

    /// Label, probabilities, heatmap (grid and photo size) and overlay for one upright image.
    /// `class`: a label to explain (gradrollout models only); nil explains the predicted class.
    public func explain(_ image: CGImage, class label: String? = nil) throws -> Explanation {
        try explainNow(image, label)
    }

    /// The same off the calling thread.
    public func explain(_ image: CGImage, class label: String? = nil) async throws -> Explanation {
        try await Task.detached(priority: .userInitiated) { [self] in try self.explainNow(image, label) }.value
    }

    private func explainNow(_ image: CGImage, _ label: String?) throws -> Explanation {
        let target = try metadata.classInputValue(for: label)  // checked before the model runs: never a zero map
        let outputs = try model.prediction(from: inputs(image, target: target))
        return try explainer.explanation(probabilities: probabilities(outputs), grid: heatmapGrid(outputs),
                                         photo: RGBAImage(image), explaining: label)
    }

    private func inputs(_ image: CGImage, target: Int32) throws -> MLFeatureProvider {
        let pixels = try MLFeatureValue(cgImage: image, constraint: imageConstraint, options: Self.fitOptions)
        var features: [String: MLFeatureValue] = [imageInput: pixels]
        if let classInput = metadata.classInput {
            let array = try MLMultiArray(shape: [1], dataType: .int32)
            array[0] = NSNumber(value: target)
            features[classInput] = MLFeatureValue(multiArray: array)
        }
        return try MLDictionaryFeatureProvider(dictionary: features)
    }

    /// Resize to the input size without crop or letterbox ("stretch"), as `runtime` fits images.
    private static var fitOptions: [MLFeatureValue.ImageOption: Any] {
        #if canImport(Vision)
        return [.cropAndScale: NSNumber(value: VNImageCropAndScaleOption.scaleFill.rawValue)]
        #else
        return [:]
        #endif
    }

    private func probabilities(_ outputs: MLFeatureProvider) throws -> [Float] {
        if let byLabel = outputs.featureValue(for: "classLabel_probs")?.dictionaryValue {
            var values: [String: Double] = [:]
            for (key, value) in byLabel {
                if let label = key.base as? String { values[label] = value.doubleValue }
            }
            return try Scores.ordered(values, labels: metadata.labels)
        }
        guard let logits = outputs.featureValue(for: "logits")?.multiArrayValue else {
            throw ExplainableViTError.output(name: "logits", problem: "missing from the prediction")
        }
        return Scores.softmax(try logits.floats())
    }

    private func heatmapGrid(_ outputs: MLFeatureProvider) throws -> [Float] {
        guard let name = metadata.heatmapOutput else { throw ExplainableViTError.noHeatmap }
        guard let array = outputs.featureValue(for: name)?.multiArrayValue else {
            throw ExplainableViTError.output(name: name, problem: "missing from the prediction")
        }
        return try array.floats()
    }
}

extension ComputeUnits {
    var mlComputeUnits: MLComputeUnits {
        switch self {
        case .cpu: return .cpuOnly
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        case .all: return .all
        }
    }
}

extension MLMultiArray {
    /// Every element in row-major order as Float: Float32, Float16 (older exports; read from its bits,
    /// so Intel Macs work too) and Double; padded strides are respected.
    func floats() throws -> [Float] {
        let shape = self.shape.map(\.intValue), type = dataType
        return try withUnsafeBytes { bytes -> [Float] in
            let strides = self.strides.map(\.intValue)  // read with the storage in hand: it may be re-laid out
            switch type {
            case .float32:
                return try Arrays.rowMajor(shape: shape, strides: strides) {
                    bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self)
                }
            case .float16:
                return try Arrays.rowMajor(shape: shape, strides: strides) {
                    Arrays.float(fromHalf: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))
                }
            case .double:
                return try Arrays.rowMajor(shape: shape, strides: strides) {
                    Float(bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self))
                }
            default:
                throw ExplainableViTError.unsupportedArrayType("MLMultiArrayDataType(\(type.rawValue))")
            }
        }
    }
}
#endif
