#if canImport(CoreML) && canImport(CoreGraphics) && canImport(CoreVideo) && canImport(ImageIO) && canImport(Vision)
import CoreGraphics
import CoreML
import CoreVideo
import Foundation
import ImageIO
import Vision

/// One entry point for an app: a compiled explainable-vit Core ML model in, label + probabilities +
/// heatmap + overlay out, from one `MLModel` prediction.
///
/// The model is a Core ML *classifier* (Xcode previews it, Vision can label with it), but Vision
/// hands a classifier's caller `VNClassificationObservation`s only, so the heatmap output would be
/// lost: this type calls `MLModel.prediction(from:)` directly, which returns every output at once.
///
///     let classifier = try await ExplainableClassifier.load(compiledModelAt: url, computeUnits: .all)
///     let result = try await classifier.explain(photo, orientation: .right)  // CGImage as stored + its orientation
///     result.label, result.ranked.prefix(3), result.heatmap, result.overlayImage
///
/// An actor: `MLModel` is not `Sendable`, so the model lives inside it and only `Sendable` values
/// (arrays, `Explanation`) leave. Cancelling the calling task stops the work before the prediction,
/// inside it on iOS 17 / macOS 14 (Core ML's async prediction stops with its task) and before the
/// post-processing (upsampling, colouring, overlay). Before iOS 17 / macOS 14 the prediction is
/// Core ML's synchronous one, run on this actor one at a time, and a running one finishes first.
public actor ExplainableClassifier {
    /// The facts the model carries about itself (labels, grid, input size, heatmap kind).
    public nonisolated let metadata: ModelMetadata
    /// The part that needs no model: scores, upsampling, colour map, overlay.
    public nonisolated let explainer: Explainer
    private let model: MLModel
    /// The same model for Core ML's async prediction (iOS 17 / macOS 14), which runs off this actor.
    private nonisolated let shared: SharedModel
    private nonisolated let imageInput: String
    private let imageConstraint: MLImageConstraint

    /// Loads a compiled model (`.mlmodelc`; Xcode compiles an `.mlpackage` added to a target) off the
    /// calling thread and reads its metadata. `alpha`: the colour map's weight in the overlay;
    /// `prewarm`: one prediction on a blank input before returning (`prewarm()`).
    public static func load(compiledModelAt url: URL, computeUnits: ComputeUnits = .all,
                            alpha: Double = Overlay.defaultAlpha, prewarm: Bool = false) async throws -> ExplainableClassifier {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits.mlComputeUnits
        let model = try await MLModel.load(contentsOf: url, configuration: configuration)
        let classifier = try ExplainableClassifier(model: model, alpha: alpha)
        if prewarm { try await classifier.prewarm() }
        return classifier
    }

    /// Loads an `.mlpackage` an app received at run time (downloaded, updated): compiled once with
    /// `MLModel.compileModel(at:)` and kept in `cache` (default `CompiledModelCache.standard()`, the
    /// app's caches folder) under the package's SHA-256, so later launches load the compiled model at
    /// once and a changed package is compiled again.
    public static func load(packageAt url: URL, cache: CompiledModelCache? = nil, computeUnits: ComputeUnits = .all,
                            alpha: Double = Overlay.defaultAlpha, prewarm: Bool = false) async throws -> ExplainableClassifier {
        let compiled = try await (cache ?? CompiledModelCache.standard()).compiledModel(for: url) { package in
            try await MLModel.compileModel(at: package)
        }
        return try await load(compiledModelAt: compiled, computeUnits: computeUnits, alpha: alpha, prewarm: prewarm)
    }

    /// Wraps a loaded model (for example an Xcode-generated class's `.model`); the classifier owns it from here on.
    public init(model: sending MLModel, alpha: Double = Overlay.defaultAlpha) throws {
        let description = model.modelDescription
        var values: [String: String] = [:]
        for (key, value) in description.metadata[MLModelMetadataKey.creatorDefinedKey] as? [String: Any] ?? [:] {
            values[key] = value as? String
        }
        let metadata = try ModelMetadata(userDefined: values)
        guard let input = description.inputDescriptionsByName.first(where: { $0.value.type == .image }),
              let constraint = input.value.imageConstraint else {
            throw ExplainableViTError.input(name: "image", problem: "the model has no image input")
        }
        self.model = model
        shared = SharedModel(model: model)
        self.metadata = metadata
        imageInput = input.key
        imageConstraint = constraint
        explainer = Explainer(metadata: metadata, alpha: alpha)
    }

    /// Compiles an `.mlpackage` on the device, uncached; returns the `.mlmodelc` URL in a temporary
    /// folder (`load(packageAt:)` keeps it across launches instead).
    public static func compile(packageAt url: URL) async throws -> URL {
        try await MLModel.compileModel(at: url)
    }

    /// One prediction on a blank (white) model input, outputs discarded: Core ML's first prediction
    /// prepares the model for its compute units, so this moves that wait from the user's first photo
    /// to load time.
    public func prewarm() async throws {
        let (width, height) = metadata.inputSize
        _ = try await predict(try RGBAImage(width: width, height: height, pixels: [UInt8](repeating: 255, count: width * height * 4)))
    }

    /// Label, probabilities, heatmap and overlay for an image as stored with its orientation (for a
    /// file, ImageIO's `kCGImagePropertyOrientation`), off the calling actor. The photo is capped,
    /// turned upright, composited on white and resized to the model input as the Python runtime does
    /// (`PreparedImage`). `class`: a label to explain (gradrollout models only); nil: the predicted class.
    public nonisolated func explain(_ image: CGImage, orientation: CGImagePropertyOrientation = .up,
                                    class label: String? = nil) async throws -> Explanation {
        try await explain(PreparedImage(image, orientation: orientation, metadata: metadata), class: label)
    }

    /// The same for an image file (`StoredImage(contentsOf:)` or `StoredImage(fileData:)`: its EXIF orientation applied).
    public nonisolated func explain(_ stored: StoredImage, class label: String? = nil) async throws -> Explanation {
        try await explain(stored.image, orientation: stored.orientation, class: label)
    }

    /// The same for a camera frame (32BGRA; back camera held in portrait: `.right`).
    public nonisolated func explain(_ pixelBuffer: CVPixelBuffer, orientation: CGImagePropertyOrientation = .up,
                                    class label: String? = nil) async throws -> Explanation {
        let prepared = try PreparedImage(pixelBuffer, orientation: orientation, metadata: metadata)  // read before any wait
        return try await explain(prepared, class: label)
    }

    /// The same for pixels already prepared (`PreparedImage`: photo and model input).
    public nonisolated func explain(_ prepared: PreparedImage, class label: String? = nil) async throws -> Explanation {
        let target = try metadata.classInputValue(for: label)  // checked before the model runs: never a zero map
        let outputs = try await predict(prepared.modelInput, classInput: target)
        try Task.checkCancellation()
        return try explainer.explanation(probabilities: outputs.probabilities, grid: outputs.grid,
                                         photo: prepared.photo, explaining: label)
    }

    /// The model's own outputs for one model input (`PreparedImage.modelInput`, at the input size):
    /// probabilities `(C,)` in label order and the heatmap grid `(rows * columns)` row-major.
    /// `classInput`: -1 for the predicted class (see `ModelMetadata.classInputValue(for:)`). The only
    /// step that runs Core ML; cancellable while it runs on iOS 17 / macOS 14.
    public func predict(_ modelInput: RGBAImage, classInput: Int32 = -1) async throws -> (probabilities: [Float], grid: [Float]) {
        try Task.checkCancellation()
        guard modelInput.width == metadata.inputSize.width, modelInput.height == metadata.inputSize.height else {
            throw ExplainableViTError.image("a \(modelInput.width)x\(modelInput.height) model input for a "
                                            + "\(metadata.inputSize.width)x\(metadata.inputSize.height) model; use PreparedImage")
        }
        if #available(macOS 14.0, iOS 17.0, tvOS 17.0, watchOS 10.0, *) {
            return try await cancellablePrediction(modelInput, classInput: classInput)
        }
        let outputs = try model.prediction(from: inputs(modelInput, classInput: classInput))  // synchronous, on this actor
        return (try probabilities(outputs), try heatmapGrid(outputs))
    }

    /// Core ML's async prediction: off this actor, concurrent with other calls, and stopped (throwing
    /// `CancellationError`) when the calling task is cancelled. Only `Sendable` values leave it.
    @available(macOS 14.0, iOS 17.0, tvOS 17.0, watchOS 10.0, *)
    private nonisolated func cancellablePrediction(_ modelInput: RGBAImage,
                                                   classInput: Int32) async throws -> (probabilities: [Float], grid: [Float]) {
        let outputs = try await shared.model.prediction(from: try inputs(modelInput, classInput: classInput),
                                                        options: MLPredictionOptions())
        try Task.checkCancellation()
        return (try probabilities(outputs), try heatmapGrid(outputs))
    }

    /// The model's outputs for an image as stored with its orientation (prepared here as `explain` prepares it).
    public func predict(_ image: CGImage, orientation: CGImagePropertyOrientation = .up,
                        classInput: Int32 = -1) async throws -> (probabilities: [Float], grid: [Float]) {
        try await predict(PreparedImage(image, orientation: orientation, metadata: metadata).modelInput, classInput: classInput)
    }

    /// The model input as a 32BGRA pixel buffer at exactly the input size: Core ML neither scales it
    /// nor matches colours (a CGImage would be drawn through Core Graphics first).
    private nonisolated func inputs(_ modelInput: RGBAImage, classInput: Int32) throws -> any MLFeatureProvider {
        var features: [String: MLFeatureValue] = [imageInput: MLFeatureValue(pixelBuffer: try modelInput.pixelBuffer())]
        if let name = metadata.classInput {
            let array = try MLMultiArray(shape: [1], dataType: .int32)
            array[0] = NSNumber(value: classInput)
            features[name] = MLFeatureValue(multiArray: array)
        }
        return try MLDictionaryFeatureProvider(dictionary: features)
    }

    private nonisolated func probabilities(_ outputs: any MLFeatureProvider) throws -> [Float] {
        if let byLabel = outputs.featureValue(for: "classLabel_probs")?.dictionaryValue, !byLabel.isEmpty {
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

    private nonisolated func heatmapGrid(_ outputs: any MLFeatureProvider) throws -> [Float] {
        guard let name = metadata.heatmapOutput else { throw ExplainableViTError.noHeatmap }
        guard let array = outputs.featureValue(for: name)?.multiArrayValue else {
            throw ExplainableViTError.output(name: name, problem: "missing from the prediction")
        }
        return try array.floats()
    }
}

/// A loaded model shared with Core ML's async prediction, which Apple documents as safe to call
/// concurrently (WWDC23, "Improve Core ML integration with async prediction"). `@unchecked` covers
/// one immutable reference and nothing mutable: the only call made through it is that prediction.
struct SharedModel: @unchecked Sendable {
    let model: MLModel
}

extension ComputeUnits {
    /// The Core ML setting of the same name.
    public var mlComputeUnits: MLComputeUnits {
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
    /// so Intel Macs work too) and Double. Padded strides are respected: the strides used are the
    /// ones Core ML hands over with the storage, which may differ from `strides` read before
    /// (an array backed by a pixel buffer is re-laid out on access).
    func floats() throws -> [Float] {
        let shape = self.shape.map(\.intValue), type = dataType
        return try withUnsafeMutableBytes { bytes, strides -> [Float] in  // strides in elements, not bytes
            switch type {
            case .float32:
                return try Arrays.rowMajor(shape: shape, strides: strides) {
                    bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Float32>.size, as: Float32.self)
                }
            case .float16:
                return try Arrays.rowMajor(shape: shape, strides: strides) {
                    Arrays.float(fromHalf: bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<UInt16>.size, as: UInt16.self))
                }
            case .double:
                return try Arrays.rowMajor(shape: shape, strides: strides) {
                    Float(bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Double>.size, as: Double.self))
                }
            default:
                throw ExplainableViTError.unsupportedArrayType("MLMultiArrayDataType(\(type.rawValue))")
            }
        }
    }
}
#endif
