import Foundation

/// The facts an exported model carries in its own metadata (`MLModel.modelDescription.metadata[.creatorDefinedKey]`),
/// written by `python -m export coreml` (`runtime.coreml.app_metadata` lists the keys): no sidecar file needed.
public struct ModelMetadata: Equatable, Sendable {
    public static let prefix = "explainable_vit."
    /// The metadata layout this package reads.
    public static let schema = "1"

    /// Class names in output order: probability `i` belongs to `labels[i]`.
    public let labels: [String]
    /// Heatmap grid (rows, columns): one cell per image patch.
    public let grid: (rows: Int, columns: Int)
    /// The model's input size in pixels.
    public let inputSize: (width: Int, height: Int)
    /// How a photo is fitted to the input: "stretch" = resized to exactly `inputSize`, no crop, no letterbox.
    public let imageFit: String
    /// Name of the heatmap output ("rollout" or "relevance"), nil for `--explain none` exports.
    public let heatmapOutput: String?
    /// What the heatmap means, in words.
    public let heatmapMeaning: String
    /// How pictures show it (min-max stretch, colour map, alpha).
    public let heatmapDisplay: String
    /// Name of the class input of gradrollout models ("target"), nil when the map is class-agnostic.
    public let classInput: String?
    /// Tokens before the patches (1: CLS; 2: CLS + distillation).
    public let specialTokens: Int
    /// SHA-256 of the checkpoint weights the model was exported from.
    public let sourceSHA256: String
    /// Parity of the export against PyTorch: "passed", "failed" or "not run".
    public let parity: String
    public let toolkitVersion: String
    /// The whole `manifest.json`, as JSON text.
    public let manifestJSON: String

    public static func == (a: ModelMetadata, b: ModelMetadata) -> Bool {
        a.manifestJSON == b.manifestJSON && a.labels == b.labels && a.grid == b.grid && a.parity == b.parity
    }

    /// Reads the creator-defined metadata; every missing or malformed key is listed in one error.
    public init(userDefined: [String: String]) throws {
        var reader = MetadataReader(values: userDefined)
        let schema = reader.string("schema")
        if let schema, schema != Self.schema {
            reader.problems.append("schema \(schema), this package reads schema \(Self.schema)")
        }
        labels = reader.json("labels", as: [String].self) ?? []
        let grid = reader.json("grid", as: [Int].self, count: 2) ?? [0, 0]
        self.grid = (grid[0], grid[1])
        let size = reader.json("image_size", as: [Int].self, count: 2) ?? [0, 0]
        inputSize = (size[1], size[0])  // stored as [H, W], like the manifest
        imageFit = reader.string("image_fit") ?? ""
        heatmapOutput = (reader.string("heatmap_output")).flatMap { $0.isEmpty ? nil : $0 }
        heatmapMeaning = reader.string("heatmap_meaning") ?? ""
        heatmapDisplay = reader.string("heatmap_display") ?? ""
        classInput = (reader.string("class_input")).flatMap { $0.isEmpty ? nil : $0 }
        specialTokens = reader.string("special_tokens").flatMap { Int($0) } ?? 0
        sourceSHA256 = reader.string("source_sha256") ?? ""
        parity = reader.string("parity") ?? ""
        toolkitVersion = reader.string("toolkit_version") ?? ""
        manifestJSON = reader.string("manifest") ?? ""
        if labels.isEmpty && reader.problems.isEmpty { reader.problems.append("no labels") }
        if imageFit != "stretch" && !imageFit.isEmpty {
            reader.problems.append("image fit '\(imageFit)' is not one this package maps (stretch)")
        }
        if !reader.problems.isEmpty { throw ExplainableViTError.metadata(problems: reader.problems) }
    }

    /// Index of a class name.
    public func index(of label: String) throws -> Int {
        guard let i = labels.firstIndex(of: label) else { throw ExplainableViTError.unknownLabel(label, known: labels) }
        return i
    }

    /// Name of a class index (0..<labels.count).
    public func label(at index: Int) throws -> String {
        guard labels.indices.contains(index) else {
            throw ExplainableViTError.classIndexOutOfRange(index, classCount: labels.count)
        }
        return labels[index]
    }

    /// The value to feed a gradrollout model's class input: -1 (the predicted class) for nil, else the
    /// checked index. Throws for rollout models, which explain every class with the same map.
    public func classInputValue(for label: String?) throws -> Int32 {
        guard let label else { return -1 }
        guard classInput != nil else { throw ExplainableViTError.classNotSelectable(heatmapOutput: heatmapOutput ?? "none") }
        return Int32(try index(of: label))
    }

    /// The same as `classInputValue(for:)` for an index: -1 or 0..<labels.count, anything else throws.
    public func classInputValue(forIndex index: Int) throws -> Int32 {
        guard index >= -1 && index < labels.count else {
            throw ExplainableViTError.classIndexOutOfRange(index, classCount: labels.count)
        }
        guard index == -1 || classInput != nil else {
            throw ExplainableViTError.classNotSelectable(heatmapOutput: heatmapOutput ?? "none")
        }
        return Int32(index)
    }
}

/// Collects problems instead of stopping at the first one.
private struct MetadataReader {
    let values: [String: String]
    var problems: [String] = []

    mutating func string(_ key: String) -> String? {
        guard let value = values[ModelMetadata.prefix + key] else {
            problems.append("missing key '\(ModelMetadata.prefix + key)'")
            return nil
        }
        return value
    }

    mutating func json<T: Decodable>(_ key: String, as type: T.Type, count: Int? = nil) -> T? {
        guard let text = string(key) else { return nil }
        guard let value = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else {
            problems.append("key '\(ModelMetadata.prefix + key)' is not a JSON \(T.self): \(text)")
            return nil
        }
        if let count, let array = value as? [Int], array.count != count {
            problems.append("key '\(ModelMetadata.prefix + key)' has \(array.count) values, expected \(count)")
            return nil
        }
        return value
    }
}
