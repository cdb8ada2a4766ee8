import Foundation

/// One row of a results JSON, with `python -m bench`'s field names (`bench.run`: target, backend,
/// precision, explain, status, latency_ms_p50/p90, baseline_rss_mb, peak_rss_mb, memory_mb,
/// peak_reset, placement), plus what only a device run has: `device`, `compute_units`, `load_ms`,
/// `first_prediction_ms`, `postprocess_ms_p50/p90`, `runs`. Absent values are left out of the JSON.
public struct BenchRow: Codable, Equatable, Sendable {
    public var target: String
    public var backend: String
    public var precision: String
    public var explain: String
    public var status: String = "works"
    public var device: String
    public var computeUnits: String?
    public var loadMs: Double?
    public var firstPredictionMs: Double?
    public var latencyMsP50: Double?
    public var latencyMsP90: Double?
    public var postprocessMsP50: Double?
    public var postprocessMsP90: Double?
    public var runs: Int?
    public var baselineRssMb: Double?
    public var peakRssMb: Double?
    public var memoryMb: Double?
    public var peakReset: Bool?
    public var placement: Placement?
    /// What the post-processing was given and made, e.g. "photo 4032x3024, grid 14x14 -> overlay 2048x1536".
    public var postprocess: String?
    /// "release" or "debug": the Swift build that ran the row.
    public var build: String?

    public init(target: String, backend: String, precision: String, explain: String, device: String) {
        self.target = target
        self.backend = backend
        self.precision = precision
        self.explain = explain
        self.device = device
    }

    enum CodingKeys: String, CodingKey {
        case target, backend, precision, explain, status, device, runs, placement, postprocess, build
        case computeUnits = "compute_units", loadMs = "load_ms", firstPredictionMs = "first_prediction_ms"
        case latencyMsP50 = "latency_ms_p50", latencyMsP90 = "latency_ms_p90"
        case postprocessMsP50 = "postprocess_ms_p50", postprocessMsP90 = "postprocess_ms_p90"
        case baselineRssMb = "baseline_rss_mb", peakRssMb = "peak_rss_mb", memoryMb = "memory_mb", peakReset = "peak_reset"
    }

    /// Memory fields as `bench.memory` writes them, from a baseline taken after `Machine.resetPeak()`.
    public mutating func setMemory(baseline: Double?, reset: Bool) {
        let peak = Machine.peakResidentMB()
        peakRssMb = rounded(peak, 1)
        baselineRssMb = baseline.map { rounded($0, 1) }
        memoryMb = baseline.map { rounded(peak - $0, 1) }
        peakReset = reset
    }
}

/// Core ML's planned device per op (`MLComputePlan`), summed as `bench.placement.summarize` sums it:
/// `{"ops", "devices": {name: {"ops", "op_share", "cost_share"}}}`, or `{"reason"}` where there is none.
public struct Placement: Codable, Equatable, Sendable {
    public struct Device: Codable, Equatable, Sendable {
        public let ops: Int
        public let opShare: Double
        public let costShare: Double
        enum CodingKeys: String, CodingKey { case ops, opShare = "op_share", costShare = "cost_share" }
    }

    public var ops: Int?
    public var devices: [String: Device]?
    public var reason: String?

    public init(reason: String) { self.reason = reason }

    /// `(device name or nil, estimated cost weight or nil)` per op; names as `bench.placement.DEVICES`
    /// ("cpu", "gpu", "neural engine"), ops with no device counted as "not reported".
    public init(ops planned: [(device: String?, cost: Double?)]) {
        let total = planned.reduce(0) { $0 + ($1.cost ?? 0) }
        var counts: [String: (ops: Int, cost: Double)] = [:]
        for op in planned {
            let name = op.device ?? "not reported"
            counts[name, default: (0, 0)].ops += 1
            counts[name, default: (0, 0)].cost += op.cost ?? 0
        }
        ops = planned.count
        devices = counts.mapValues { Device(ops: $0.ops, opShare: Double($0.ops) / Double(planned.count),
                                            costShare: total > 0 ? $0.cost / total : 0) }
    }
}

/// A results JSON as `python -m bench` writes it: `{"header": {"machine": {...}, ...}, "rows": [...]}`.
public struct BenchReport: Codable, Sendable {
    public struct Header: Codable, Sendable {
        /// `bench.timing.machine_info`'s fields (`Machine.info()`).
        public var machine: [String: String]
        /// The command that wrote the file.
        public var command: String
        /// The model measured (model mode), nil for `--postprocess`.
        public var model: String?
    }

    public var header: Header
    public var rows: [BenchRow]

    public init(command: String, model: String? = nil, rows: [BenchRow]) {
        header = Header(machine: Machine.info(), command: command, model: model)
        self.rows = rows
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

func rounded(_ value: Double, _ digits: Int) -> Double {
    let scale = pow(10, Double(digits))
    return (value * scale).rounded() / scale
}
