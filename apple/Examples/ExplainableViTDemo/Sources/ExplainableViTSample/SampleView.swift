#if canImport(SwiftUI) && canImport(PhotosUI) && canImport(CoreML)
import ExplainableViT
import PhotosUI
import SwiftUI
import UniformTypeIdentifiers

/// The whole sample: choose a model and a photo, see the explanation, tap a patch, benchmark the device.
public struct SampleView: View {
    @StateObject private var model = SampleModel()
    @State private var pickedPhoto: PhotosPickerItem?
    @State private var choosingModel = false

    public init() {}

    public var body: some View {
        NavigationStack {
            ScrollView {
                VStack(alignment: .leading, spacing: 16) {
                    controls
                    Text(model.message).font(.callout).foregroundStyle(.secondary)
                    if let shown = model.shown {
                        ExplanationView(model: model, shown: shown)
                    }
                    BenchmarkView(model: model)
                }
                .padding()
            }
            .navigationTitle("ExplainableViT")
        }
        .fileImporter(isPresented: $choosingModel, allowedContentTypes: Self.modelTypes) { result in
            switch result {
            case .success(let url): model.openModel(at: url)
            case .failure(let error): model.show(error)
            }
        }
        .task(id: pickedPhoto) { await openPicked() }
        .onAppear { model.openBundledModel() }
    }

    @ViewBuilder private var controls: some View {
        HStack {
            Button { choosingModel = true } label: { Label("Model", systemImage: "cpu") }
            PhotosPicker(selection: $pickedPhoto, matching: .images) { Label("Photo", systemImage: "photo") }
                .disabled(model.classifier == nil)
        }
        Picker("Compute units", selection: $model.computeUnits) {
            ForEach(ComputeUnits.allCases, id: \.self) { Text($0.rawValue).tag($0) }
        }
        .pickerStyle(.segmented)
        // Only gradrollout exports take a class (the metadata names their class input); a rollout map
        // is the same for every class.
        if let metadata = model.classifier?.metadata, metadata.classInput != nil {
            Picker("Explain", selection: $model.explainedClass) {
                Text("predicted class").tag(String?.none)
                ForEach(metadata.labels, id: \.self) { Text($0).tag(String?.some($0)) }
            }
        }
    }

    private func openPicked() async {
        guard let item = pickedPhoto else { return }
        do {
            guard let data = try await Self.data(of: item) else {
                return model.show(ExplainableViTError.image("the picked item has no image data"))
            }
            model.openPhoto(data)
        } catch {
            model.show(error)
        }
    }

    /// The picked photo's file bytes, EXIF orientation included. The completion-handler form:
    /// `PhotosPickerItem` is not declared `Sendable`, so its async form may not be handed the item
    /// from the main actor under Swift 6.
    private static func data(of item: PhotosPickerItem) async throws -> Data? {
        try await withCheckedThrowingContinuation { continuation in
            item.loadTransferable(type: Data.self) { continuation.resume(with: $0) }
        }
    }

    /// Both model formats are folders; `.folder` lets the Files picker (iOS) and the open panel (macOS) choose one.
    private static let modelTypes: [UTType] = [.folder] + ["mlpackage", "mlmodelc"].compactMap { UTType(filenameExtension: $0) }
}

/// The overlay (tap a patch to read its relevance), the top 3 classes and what the map explains.
struct ExplanationView: View {
    @ObservedObject var model: SampleModel
    let shown: Shown

    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            Image(decorative: shown.overlay, scale: 1)
                .resizable()
                .scaledToFit()
                .overlay { GeometryReader { proxy in patchLayer(proxy.size) } }
            if let inspection = model.inspection {
                // One literal: `format:` interpolation is Text's (LocalizedStringKey), not String's.
                Text("patch row \(inspection.row), column \(inspection.column): relevance \(Double(inspection.relevance), format: .number.precision(.fractionLength(3))) (max 1)")
                    .font(.callout.monospacedDigit())
            } else {
                Text("Tap the picture to inspect a patch.").font(.callout).foregroundStyle(.secondary)
            }
            ForEach(shown.explanation.ranked.prefix(3), id: \.index) { scored in
                Text("\(scored.label)  \(Double(scored.probability), format: .percent.precision(.fractionLength(1)))")
                    .fontWeight(scored.label == shown.explanation.label ? .bold : .regular)
            }
            Text("explains: \(shown.explanation.explainedLabel)"
                 + (shown.explanation.classSpecific ? "" : " (rollout: the same map for every class)"))
                .font(.caption)
        }
    }

    /// Taps in the picture's own coordinates (the picture fills `size`), and the inspected patch outlined.
    private func patchLayer(_ size: CGSize) -> some View {
        ZStack(alignment: .topLeading) {
            Color.clear
                .contentShape(Rectangle())
                .gesture(SpatialTapGesture().onEnded { tap in model.inspect(tap.location, in: size) })
            if let inspection = model.inspection {
                let rect = inspection.rect(in: size, photoSize: shown.explanation.geometry.photoSize)
                Rectangle()
                    .stroke(Color.white, lineWidth: 2)
                    .frame(width: rect.width, height: rect.height)
                    .offset(x: rect.minX, y: rect.minY)
                    .allowsHitTesting(false)
            }
        }
    }
}

/// The benchmark button, its rows, and the JSON to share (`python -m bench --device-results`).
struct BenchmarkView: View {
    @ObservedObject var model: SampleModel

    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            Button { model.runBenchmark() } label: {
                Label(model.benchmarking ? "Benchmarking…" : "Benchmark this device", systemImage: "speedometer")
            }
            .disabled(model.classifier == nil || model.benchmarking)
            if let result = model.benchmark {
                ForEach(result.rows, id: \.target) { row in
                    Text(BenchmarkResult.line(row)).font(.caption.monospacedDigit())
                }
                ShareLink(item: result.file) { Label("Share JSON", systemImage: "square.and.arrow.up") }
                ScrollView([.horizontal, .vertical]) {
                    Text(result.json).font(.caption2.monospaced()).textSelection(.enabled)
                }
                .frame(maxHeight: 240)
            }
        }
    }
}
#endif
