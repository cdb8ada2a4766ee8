#if canImport(CoreML) && canImport(CoreGraphics)
import CoreGraphics
import CoreML
import ExplainableViT
import ExplainableViTBenchKit
import Foundation

/// Model mode: the export compiled once, then per compute unit loaded, predicted and post-processed
/// on a synthetic 12 MP photo (`ModelBench`), with the op placement Core ML plans.
enum CoreMLBench {
    static func rows(_ path: String, _ options: BenchOptions) async throws -> [BenchRow] {
        let url = URL(fileURLWithPath: path)
        let compiled = url.pathExtension == "mlmodelc" ? url : try await ExplainableClassifier.compile(packageAt: url)
        let photo = try PostprocessBench.photo(width: options.postprocess.photoWidth, height: options.postprocess.photoHeight)
        let probe = try await ExplainableClassifier.load(compiledModelAt: compiled, computeUnits: .cpu)
        let bench = ModelBench(explainer: Explainer(metadata: probe.metadata, maxSide: options.postprocess.maxSide),
                               photo: photo, runs: options.runs, warmup: options.warmup)
        return await bench.run(CoreMLModel(compiled: compiled, image: try photo.cgImage()), units: options.computeUnits)
    }
}
#endif
