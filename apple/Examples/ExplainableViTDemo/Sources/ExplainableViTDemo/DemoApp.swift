#if canImport(SwiftUI) && os(macOS)
import AppKit
import ExplainableViT
import ImageIO
import SwiftUI
import UniformTypeIdentifiers

@main
struct DemoApp: App {
    var body: some Scene {
        WindowGroup("ExplainableViT") { ContentView().frame(minWidth: 560, minHeight: 460) }
    }
}

/// Holds the loaded classifier and the last result; every number comes from the library.
@MainActor
final class DemoModel: ObservableObject {
    @Published var classifier: ExplainableClassifier?
    @Published var photo: CGImage?
    @Published var result: Explanation?
    @Published var explainedClass: String?  // nil: the predicted class
    @Published var message = "Open a model (.mlpackage or .mlmodelc), then an image."

    func openModel(_ url: URL) async {
        do {
            let compiled = url.pathExtension == "mlmodelc" ? url : try await ExplainableClassifier.compile(packageAt: url)
            let loaded = try await ExplainableClassifier.load(compiledModelAt: compiled, computeUnits: .all)
            classifier = loaded
            explainedClass = nil
            message = "\(url.lastPathComponent): \(loaded.metadata.labels.count) classes, "
                + "heatmap '\(loaded.metadata.heatmapOutput ?? "none")'"
            await explain()
        } catch {
            message = Self.describe(error)
        }
    }

    func openImage(_ url: URL) async {
        guard let source = CGImageSourceCreateWithURL(url as CFURL, nil),
              let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else {
            message = "\(url.lastPathComponent) is not an image"
            return
        }
        photo = image
        await explain()
    }

    func explain() async {
        guard let classifier, let photo else { return }
        do {
            result = try await classifier.explain(photo, class: explainedClass)
        } catch is CancellationError {  // superseded by a newer request: nothing to show
        } catch {
            message = Self.describe(error)
        }
    }

    /// What happened and what to do, as an alert would show it.
    static func describe(_ error: Error) -> String {
        let localized = error as? LocalizedError
        return [error.localizedDescription, localized?.recoverySuggestion].compactMap { $0 }.joined(separator: " ")
    }
}

struct ContentView: View {
    @StateObject private var model = DemoModel()

    var body: some View {
        VStack(alignment: .leading, spacing: 12) {
            HStack {
                Button("Open model…") {
                    if let url = choose(Self.modelTypes) { Task { await model.openModel(url) } }
                }
                Button("Open image…") {
                    if let url = choose([.image]) { Task { await model.openImage(url) } }
                }
                .disabled(model.classifier == nil)
                if let classifier = model.classifier, classifier.metadata.classInput != nil {
                    Picker("Explain", selection: $model.explainedClass) {
                        Text("predicted class").tag(String?.none)
                        ForEach(classifier.metadata.labels, id: \.self) { Text($0).tag(String?.some($0)) }
                    }
                    .frame(maxWidth: 220)
                    .onChange(of: model.explainedClass) { _ in Task { await model.explain() } }
                }
            }
            Text(model.message).font(.callout).foregroundStyle(.secondary)
            if let result = model.result {
                HStack(alignment: .top, spacing: 16) {
                    if let overlay = result.overlayImage {
                        Image(decorative: overlay, scale: 1).resizable().interpolation(.none).scaledToFit()
                    }
                    VStack(alignment: .leading, spacing: 6) {
                        ForEach(result.ranked.prefix(3), id: \.index) { scored in
                            Text("\(scored.label)  \(Double(scored.probability), format: .percent.precision(.fractionLength(1)))")
                                .fontWeight(scored.label == result.label ? .bold : .regular)
                        }
                        Text("explains: \(result.explainedLabel)" + (result.classSpecific ? "" : " (same map for every class)"))
                            .font(.caption)
                    }
                    .frame(width: 180, alignment: .leading)
                }
            }
            Spacer()
        }
        .padding()
    }

    private static let modelTypes = ["mlpackage", "mlmodelc"].compactMap { UTType(filenameExtension: $0) }

    private func choose(_ types: [UTType]) -> URL? {
        let panel = NSOpenPanel()
        panel.allowedContentTypes = types
        panel.canChooseDirectories = types == Self.modelTypes  // both model formats are folders
        panel.treatsFilePackagesAsDirectories = false
        return panel.runModal() == .OK ? panel.url : nil
    }
}
#else
@main
enum DemoApp {
    static func main() { print("ExplainableViTDemo is a SwiftUI app for macOS 13 or newer.") }
}
#endif
