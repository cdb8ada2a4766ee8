import Foundation

/// Everything that can go wrong between a model file and a drawn explanation. Each case says what
/// happened (`errorDescription`) and what to do about it (`recoverySuggestion`), so an app can show
/// both in an alert. Core ML's own errors (loading, compiling, predicting) and `CancellationError`
/// pass through unchanged.
public enum ExplainableViTError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The model's metadata lacks or garbles keys that `python -m export coreml` writes.
    case metadata(problems: [String])
    /// A class name the model does not have.
    case unknownLabel(String, known: [String])
    /// A class index outside `0..<classCount` (-1 means the predicted class).
    case classIndexOutOfRange(Int, classCount: Int)
    /// A rollout model explains every class with the same map; only gradrollout exports take a class.
    case classNotSelectable(heatmapOutput: String)
    /// The model has no heatmap output (exported with `--explain none`).
    case noHeatmap
    /// An input the package needs (the image) is missing from the model.
    case input(name: String, problem: String)
    /// An output the metadata names is missing from the prediction, or has the wrong size.
    case output(name: String, problem: String)
    /// An array of a type this package does not read (Float32, Float16 and Double are read).
    case unsupportedArrayType(String)
    /// Pixels that do not match the stated size, or an image that could not be drawn.
    case image(String)
    /// The compiled-model cache could not hash a package or keep its compiled model.
    case modelCache(String)

    /// What happened.
    public var errorDescription: String? {
        switch self {
        case .metadata(let problems):
            return "The model's explainable-vit metadata is incomplete: \(problems.joined(separator: "; "))."
        case .unknownLabel(let label, let known):
            return "The model has no class '\(label)'; its classes are \(known.joined(separator: ", "))."
        case .classIndexOutOfRange(let index, let count):
            return "Class index \(index) is out of range 0..\(count - 1) (-1 means the predicted class)."
        case .classNotSelectable(let output):
            return "This model's \(output) map is the same for every class, so a class cannot be chosen."
        case .noHeatmap:
            return "The model has no heatmap output."
        case .input(let name, let problem):
            return "Model input '\(name)': \(problem)."
        case .output(let name, let problem):
            return "Model output '\(name)': \(problem)."
        case .unsupportedArrayType(let type):
            return "Cannot read a \(type) array."
        case .image(let problem):
            return "Image: \(problem)."
        case .modelCache(let problem):
            return "Compiled-model cache: \(problem)."
        }
    }

    /// What to do about it.
    public var recoverySuggestion: String? {
        switch self {
        case .metadata:
            return "Re-export the model with `python -m export coreml` from the same version of explainable-vit."
        case .unknownLabel:
            return "Pass one of the model's class names (`metadata.labels`), or nil for the predicted class."
        case .classIndexOutOfRange:
            return "Pass an index in 0..<metadata.labels.count, or -1 for the predicted class."
        case .classNotSelectable:
            return "Pass nil to explain the predicted class, or export with `--explain gradrollout` to explain any class."
        case .noHeatmap:
            return "Export the model with `--explain rollout` or `--explain gradrollout` (it was exported with `--explain none`)."
        case .input, .output:
            return "Load a model exported by `python -m export coreml`; a model from elsewhere lacks the explanation outputs."
        case .unsupportedArrayType:
            return "Re-export the model: its MultiArray outputs are written as Float32 (Float16 and Double are read too)."
        case .image:
            return "Pass a non-empty, upright image that CoreGraphics can draw into 8-bit sRGB."
        case .modelCache:
            return "Check that the .mlpackage is a readable folder without links and that the caches folder is writable; "
                + "`CompiledModelCache.removeAll()` starts the cache afresh."
        }
    }

    /// Both, on one line (logs, `print`, test failures).
    public var description: String {
        [errorDescription, recoverySuggestion].compactMap { $0 }.joined(separator: " ")
    }
}
