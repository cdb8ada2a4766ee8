@_spi(Reference) import ExplainableViT
import Foundation

/// The post-processing alone, no model (`explainable-vit-bench --postprocess`): a synthetic photo
/// and grid through what `Explainer` does after a prediction (photo capped to the display size,
/// heatmap upsampled, stretched, coloured, blended). `reference` times the scalar full-resolution
/// path the package had before (`referenceResized` + `referenceComposite`) instead.
public struct PostprocessBench: Equatable, Sendable {
    public var photoWidth = 4032, photoHeight = 3024  // a 12 MP phone photo
    public var gridRows = 14, gridColumns = 14  // ViT-B/16 at 224 px
    public var maxSide = ImagePreprocessing.maxSide
    public var reference = false
    public var runs = 10
    public var warmup = 1

    public init() {}

    public var explainer: Explainer {
        let keys = ["schema": "1", "labels": "[\"a\", \"b\"]", "grid": "[\(gridRows), \(gridColumns)]", "image_size": "[224, 224]",
                    "image_fit": "stretch", "resample": "bilinear", "heatmap_output": "rollout", "heatmap_meaning": "synthetic",
                    "heatmap_display": "synthetic", "class_input": "", "special_tokens": "1", "source_sha256": "none",
                    "parity": "not run", "toolkit_version": "bench", "manifest": "{}"]
        let metadata = try! ModelMetadata(userDefined: Dictionary(uniqueKeysWithValues: keys.map { (ModelMetadata.prefix + $0.key, $0.value) }))
        return Explainer(metadata: metadata, maxSide: maxSide)
    }

    public func run(device: String = Machine.device(), build: String) throws -> BenchRow {
        let photo = try Self.photo(width: photoWidth, height: photoHeight), grid = Self.grid(rows: gridRows, columns: gridColumns)
        let explainer = self.explainer
        let reset = Machine.resetPeak(), baseline = Machine.residentMB()
        var overlay = (0, 0)
        let samples = try Stopwatch.samples(runs: runs, warmup: warmup) {
            if reference {
                let full = try Heatmap(width: gridColumns, height: gridRows, values: grid).referenceResized(width: photo.width, height: photo.height)
                let made = try Overlay.referenceComposite(photo: photo, heatmap: full)
                overlay = (made.width, made.height)
            } else {
                let made = try explainer.explanation(probabilities: [0.25, 0.75], grid: grid, photo: photo).overlay
                overlay = (made.width, made.height)
            }
        }
        let summary = Summary(samples)
        var row = BenchRow(target: "swift postprocess \(reference ? "reference full-size" : "display-size")", backend: "swift",
                           precision: "fp32", explain: "rollout", device: device)
        row.postprocess = "photo \(photoWidth)x\(photoHeight), grid \(gridRows)x\(gridColumns) -> overlay \(overlay.0)x\(overlay.1)"
        row.postprocessMsP50 = rounded(summary.p50, 3)
        row.postprocessMsP90 = rounded(summary.p90, 3)
        row.runs = runs
        row.build = build
        row.setMemory(baseline: baseline, reset: reset)
        return row
    }

    /// A deterministic photo: smooth gradients with a fine pattern (no flat regions), opaque and
    /// known to be (as a JPEG or a camera frame arrives), so the cap takes Pillow's RGB route unscanned.
    public static func photo(width: Int, height: Int) throws -> RGBAImage {
        let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 4) { buffer, count in
            for y in 0..<height {
                for x in 0..<width {
                    let p = 4 * (y * width + x)
                    buffer[p] = UInt8(truncatingIfNeeded: x &* 255 / width)
                    buffer[p + 1] = UInt8(truncatingIfNeeded: y &* 255 / height)
                    buffer[p + 2] = UInt8(truncatingIfNeeded: (x ^ y) & 255)
                    buffer[p + 3] = 255
                }
            }
            count = width * height * 4
        }
        return try RGBAImage(width: width, height: height, pixels: pixels, knownOpaque: true)
    }

    /// A deterministic grid, max 1: one bump off-centre.
    public static func grid(rows: Int, columns: Int) -> [Float] {
        (0..<(rows * columns)).map { i in
            let r = Double(i / columns) / Double(max(rows - 1, 1)) - 0.35, c = Double(i % columns) / Double(max(columns - 1, 1)) - 0.6
            return Float(exp(-8 * (r * r + c * c)))
        }
    }
}
