#if canImport(CoreML) && canImport(ImageIO) && canImport(Combine)
import Combine
import CoreGraphics
import ExplainableViT
import Foundation
import ImageIO

/// What the view draws: one explanation and its overlay, made off the main actor.
struct Shown: Sendable {
    let explanation: Explanation
    let overlay: CGImage
}

/// The patch under the user's tap and its value in the model's own map (the grid, max 1).
struct Inspection: Equatable {
    let row: Int
    let column: Int
    let relevance: Float
    /// The patch on the photo, in photo pixels (`ImageGeometry.photoRect`).
    let photoRect: CGRect

    /// The patch in a view that shows the photo stretched to `size`.
    func rect(in size: CGSize, photoSize: CGSize) -> CGRect {
        let sx = size.width / photoSize.width, sy = size.height / photoSize.height
        return CGRect(x: photoRect.minX * sx, y: photoRect.minY * sy, width: photoRect.width * sx, height: photoRect.height * sy)
    }
}

/// The app's state. Every number comes from the package: the views only draw it. Work that takes
/// time (compiling, decoding, explaining, benchmarking) runs in nonisolated functions off the main
/// actor; only `Sendable` values come back. A newer request cancels the one it replaces.
@MainActor
final class SampleModel: ObservableObject {
    @Published private(set) var classifier: ExplainableClassifier?
    @Published private(set) var shown: Shown?
    @Published private(set) var inspection: Inspection?
    @Published private(set) var message = "Choose a model (.mlpackage or .mlmodelc from `python -m export coreml`), then a photo."
    @Published private(set) var benchmark: BenchmarkResult?
    @Published private(set) var benchmarking = false
    /// The class to explain (gradrollout models); nil: the predicted one.
    @Published var explainedClass: String? {
        didSet { if explainedClass != oldValue { explain() } }
    }
    @Published var computeUnits: ComputeUnits = .all {
        didSet { if computeUnits != oldValue { reload() } }
    }

    private var compiledModel: URL?
    private var modelName = ""
    private var photo: StoredImage?
    private var loading: Task<Void, Never>?
    private var opening: Task<Void, Never>?
    private var explaining: Task<Void, Never>?

    /// A model added to the app target (Xcode compiles `model.mlpackage` into the bundle as `model.mlmodelc`).
    func openBundledModel() {
        guard compiledModel == nil, let url = Bundle.main.url(forResource: "model", withExtension: "mlmodelc") else { return }
        compiledModel = url
        modelName = url.lastPathComponent
        reload()
    }

    /// A model the user chose: compiled (an `.mlpackage`) or copied (an `.mlmodelc`) into this app's
    /// temporary folder, then loaded with the chosen compute units.
    func openModel(at url: URL) {
        loading?.cancel()
        message = "Compiling \(url.lastPathComponent)…"
        loading = Task {
            do {
                let compiled = try await Self.compiledCopy(of: url)
                try Task.checkCancellation()
                compiledModel = compiled
                modelName = url.lastPathComponent
                await load()
            } catch is CancellationError {
            } catch {
                show(error)
            }
        }
    }

    /// A photo file's bytes (from the photo picker): decoded with its EXIF orientation, then explained.
    func openPhoto(_ data: Data) {
        opening?.cancel()
        opening = Task {
            do {
                let decoded = try await Self.decode(data)
                try Task.checkCancellation()
                photo = decoded
                explain()
            } catch is CancellationError {
            } catch {
                show(error)
            }
        }
    }

    /// Runs `explainable-vit-bench`'s harness (`ModelBench`) on this device over every compute unit.
    func runBenchmark() {
        guard let compiledModel, let metadata = classifier?.metadata, !benchmarking else { return }
        benchmarking = true
        message = "Benchmarking \(ComputeUnits.allCases.map(\.rawValue).joined(separator: ", ")): "
            + "\(DeviceBenchmark.runs) runs each after \(DeviceBenchmark.warmup) warm-up…"
        let name = modelName
        Task {
            defer { benchmarking = false }
            do {
                let result = try await DeviceBenchmark.run(compiled: compiledModel, metadata: metadata, modelName: name)
                benchmark = result
                message = "Benchmark done: \(result.rows.count) rows, JSON at \(result.file.lastPathComponent)."
            } catch {
                show(error)
            }
        }
    }

    /// The patch under `point`, a tap in a view that shows the overlay stretched to `size`.
    func inspect(_ point: CGPoint, in size: CGSize) {
        guard let explanation = shown?.explanation, size.width > 0, size.height > 0 else { return }
        let geometry = explanation.geometry
        let onPhoto = CGPoint(x: point.x / size.width * geometry.photoSize.width,
                              y: point.y / size.height * geometry.photoSize.height)
        guard let cell = geometry.cell(atPhoto: onPhoto) else {
            inspection = nil
            return
        }
        inspection = Inspection(row: cell.row, column: cell.column, relevance: explanation.heatmapGrid[cell.row, cell.column],
                                photoRect: geometry.photoRect(row: cell.row, column: cell.column))
    }

    /// What happened and what to do (`ExplainableViTError` is a `LocalizedError` with a recovery suggestion).
    func show(_ error: any Error) {
        let localized = error as? LocalizedError
        message = [error.localizedDescription, localized?.recoverySuggestion].compactMap { $0 }.joined(separator: " ")
    }

    private func reload() {
        loading?.cancel()
        loading = Task { await load() }
    }

    private func load() async {
        guard let compiledModel else { return }
        do {
            let loaded = try await ExplainableClassifier.load(compiledModelAt: compiledModel, computeUnits: computeUnits)
            try Task.checkCancellation()
            classifier = loaded
            let metadata = loaded.metadata
            message = "\(modelName) on \(computeUnits.rawValue): \(metadata.labels.count) classes, grid "
                + "\(metadata.grid.rows)x\(metadata.grid.columns), map '\(metadata.heatmapOutput ?? "none")'"
            if let label = explainedClass, metadata.classInput == nil || !metadata.labels.contains(label) {
                explainedClass = nil  // explains again through didSet
            } else {
                explain()
            }
        } catch is CancellationError {
        } catch {
            show(error)
        }
    }

    private func explain() {
        explaining?.cancel()
        inspection = nil
        guard let classifier, let photo else { return }
        let label = explainedClass
        explaining = Task {
            do {
                let made = try await Self.explanation(classifier, photo, label)
                try Task.checkCancellation()
                shown = made
            } catch is CancellationError {
            } catch {
                show(error)
            }
        }
    }

    /// A photo file's first image as stored, with its EXIF orientation (what the Python runtime reads
    /// from the same file), decoded off the main actor: a 12 MP HEIC takes a while.
    nonisolated private static func decode(_ data: Data) async throws -> StoredImage {
        try StoredImage(fileData: data)
    }

    /// Prediction and post-processing (`explain`), and the overlay as a CGImage, off the main actor.
    nonisolated private static func explanation(_ classifier: ExplainableClassifier, _ photo: StoredImage,
                                                _ label: String?) async throws -> Shown {
        let explanation = try await classifier.explain(photo, class: label)
        return Shown(explanation: explanation, overlay: try explanation.overlay.cgImage())
    }

    /// The model compiled into the temporary folder, or an `.mlmodelc` copied there (a file outside the
    /// app's sandbox is readable only while its security scope is open).
    nonisolated private static func compiledCopy(of url: URL) async throws -> URL {
        let scoped = url.startAccessingSecurityScopedResource()
        defer { if scoped { url.stopAccessingSecurityScopedResource() } }
        guard url.pathExtension == "mlmodelc" else { return try await ExplainableClassifier.compile(packageAt: url) }
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString + ".mlmodelc")
        try FileManager.default.copyItem(at: url, to: copy)
        return copy
    }
}
#endif
