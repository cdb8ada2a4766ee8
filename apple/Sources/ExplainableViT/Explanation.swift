/// One image explained: what the model decided and why, at the photo's size.
public struct Explanation: Sendable {
    /// The most likely class.
    public let label: String
    /// Probabilities `(C,)` in `labels` order.
    public let probabilities: [Float]
    /// All classes, most likely first.
    public let ranked: [ScoredLabel]
    /// The class the heatmap explains: the asked-for one (gradrollout) or the predicted one.
    public let explainedLabel: String
    /// True for gradrollout maps (class-specific), false for rollout (the same map for every class).
    public let classSpecific: Bool
    /// The model's map over the patch grid `(rows, columns)`, max 1.
    public let heatmapGrid: Heatmap
    /// The map at the display size (the photo's size, capped at `Explainer.maxSide` as
    /// `ImagePreprocessing.capped` caps it; bilinear, as `runtime` upsamples), max 1.
    public let heatmap: Heatmap
    /// The photo at the display size with the stretched, jet-coloured map blended over it (`xai.plots` pictures).
    public let overlay: RGBAImage
    /// Photo <-> model-input coordinates and heatmap cells.
    public let geometry: ImageGeometry
}

/// Turns a model's raw outputs and the photo into an `Explanation`: everything but running the model.
public struct Explainer: Sendable {
    public let metadata: ModelMetadata
    public var alpha: Double
    /// The heatmap and overlay are made at the photo capped to fit `maxSide` x `maxSide` with the
    /// image path's own cap (`ImagePreprocessing.capped`: Pillow's `thumbnail`, byte for byte; default
    /// the Python runtime's cap, `ImagePreprocessing.maxSide`): the post-processing costs the pixels shown.
    public var maxSide: Int

    public init(metadata: ModelMetadata, alpha: Double = Overlay.defaultAlpha, maxSide: Int = ImagePreprocessing.maxSide) {
        self.metadata = metadata
        self.alpha = alpha
        self.maxSide = maxSide
    }

    /// probabilities `(C,)` in label order, grid `(rows * columns)` row-major, the photo
    /// (`PreparedImage.photo`: upright, opaque; a photo with transparency is capped as Pillow caps
    /// RGBA and its alpha is ignored), and the class that was asked for (nil: the predicted one).
    public func explanation(probabilities: [Float], grid: [Float], photo: RGBAImage, explaining label: String? = nil) throws -> Explanation {
        guard probabilities.count == metadata.labels.count else {
            throw ExplainableViTError.output(name: "probabilities", problem: "\(probabilities.count) values for \(metadata.labels.count) labels")
        }
        let ranked = Scores.topK(probabilities, labels: metadata.labels, k: metadata.labels.count)
        _ = try metadata.classInputValue(for: label)  // unknown names and rollout models refuse a class
        let explained = label ?? ranked[0].label
        let gridMap = try Heatmap(width: metadata.grid.columns, height: metadata.grid.rows, values: grid)
        let shown = try ImagePreprocessing.capped(photo, maxSide: maxSide)
        let full = try gridMap.resized(width: shown.width, height: shown.height)
        return Explanation(label: ranked[0].label, probabilities: probabilities, ranked: ranked, explainedLabel: explained,
                           classSpecific: metadata.classInput != nil, heatmapGrid: gridMap, heatmap: full,
                           overlay: try Overlay.composite(photo: shown, heatmap: full, alpha: alpha),
                           geometry: ImageGeometry(photoWidth: photo.width, photoHeight: photo.height, metadata: metadata))
    }
}
