// explainable-vit-bench: on-device latency of an explainable-vit Core ML export per compute unit
// (Mac or iPhone), or the post-processing alone (`--postprocess`, anywhere). Rows as `python -m bench`.
import ExplainableViT
import ExplainableViTBenchKit
import Foundation

#if DEBUG
let build = "debug"
#else
let build = "release"
#endif

func rows(_ options: BenchOptions) async throws -> (rows: [BenchRow], model: String?) {
    switch options.mode {
    case .postprocess:
        return ([try options.postprocess.run(build: build)], nil)
    case .model(let path):
        #if canImport(CoreML) && !os(Linux)
        return (try await CoreMLBench.rows(path, options), path)
        #else
        throw BenchOptions.Problem(description: "timing a model needs Apple's Core ML runtime (macOS or iOS; this is Linux): "
                                   + "run it on a Mac, or time the post-processing alone with --postprocess")
        #endif
    }
}

func line(_ row: BenchRow) -> String {
    func ms(_ v: Double?) -> String { v.map { String(format: "%.2f ms", $0) } ?? "-" }
    var parts = ["\(row.target) [\(row.status)]"]
    if let load = row.loadMs { parts.append("load \(ms(load)), first \(ms(row.firstPredictionMs))") }
    if row.latencyMsP50 != nil { parts.append("predict p50 \(ms(row.latencyMsP50)) p90 \(ms(row.latencyMsP90))") }
    if row.postprocessMsP50 != nil { parts.append("post-processing p50 \(ms(row.postprocessMsP50)) p90 \(ms(row.postprocessMsP90))") }
    if let peak = row.peakRssMb { parts.append("peak RSS \(peak) MB (+\(row.memoryMb.map { String($0) } ?? "?") MB)") }
    if let what = row.postprocess { parts.append(what) }
    return parts.joined(separator: "; ")
}

do {
    let arguments = Array(CommandLine.arguments.dropFirst())
    let options = try BenchOptions.parse(arguments)
    let (measured, model) = try await rows(options)
    for row in measured { print(line(row)) }
    if let path = options.json {
        let report = BenchReport(command: (["explainable-vit-bench"] + arguments).joined(separator: " ") + " (\(build) build)",
                                 model: model, rows: measured)
        try report.json().write(to: URL(fileURLWithPath: path))
        print("wrote \(path)")
    }
} catch let problem as BenchOptions.Problem {
    FileHandle.standardError.write(Data("explainable-vit-bench: \(problem)\n\(BenchOptions.usage)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("explainable-vit-bench: \(error)\n".utf8))
    exit(1)
}
