/// Everything that can go wrong between a model file and a drawn explanation; each case says what to fix.
public enum ExplainableViTError: Error, Equatable, CustomStringConvertible {
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
    /// An output the metadata names is missing from the prediction, or has the wrong size.
    case output(name: String, problem: String)
    /// An array of a type this package does not read (Float32, Float16 and Double are read).
    case unsupportedArrayType(String)
    /// Pixels that do not match the stated size, or an image that could not be drawn.
    case image(String)

    public var description: String {
        switch self {
        case .metadata(let problems):
            return "model metadata: \(problems.joined(separator: "; ")) (re-export with `python -m export coreml`)"
        case .unknownLabel(let label, let known):
            return "unknown class '\(label)'; known: \(known.joined(separator: ", "))"
        case .classIndexOutOfRange(let index, let count):
            return "class index \(index) out of range 0..\(count - 1) (-1: the predicted class)"
        case .classNotSelectable(let output):
            return "this model's \(output) map is the same for every class; export with --explain gradrollout to name one"
        case .noHeatmap:
            return "the model has no heatmap output (exported with --explain none)"
        case .output(let name, let problem):
            return "model output '\(name)': \(problem)"
        case .unsupportedArrayType(let type):
            return "cannot read a \(type) array (Float32, Float16 and Double are read)"
        case .image(let problem):
            return "image: \(problem)"
        }
    }
}
