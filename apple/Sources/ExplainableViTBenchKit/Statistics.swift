/// Latency samples summed up as `python -m bench` sums them (`bench.timing`): numpy's median and
/// 90th percentile (linear interpolation between the two nearest samples) and the mean, in ms.
public struct Summary: Equatable, Sendable {
    public let p50: Double
    public let p90: Double
    public let mean: Double
    public let samples: Int

    public init(_ milliseconds: [Double]) {
        let sorted = milliseconds.sorted()
        p50 = Self.percentile(sorted, 50)
        p90 = Self.percentile(sorted, 90)
        mean = sorted.isEmpty ? .nan : sorted.reduce(0, +) / Double(sorted.count)
        samples = sorted.count
    }

    /// `numpy.percentile(samples, q)` of sorted samples (its default "linear" method); NaN when empty.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = Double(sorted.count - 1) * q / 100
        let low = Int(position.rounded(.down)), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }
}

/// Wall-clock milliseconds of calls: `warmup` untimed calls, then `runs` timed ones.
public enum Stopwatch {
    public static func milliseconds<T>(_ body: () throws -> T) rethrows -> (value: T, ms: Double) {
        let clock = ContinuousClock(), start = clock.now
        let value = try body()
        return (value, ms(clock.now - start))
    }

    public static func milliseconds<T>(_ body: () async throws -> T) async rethrows -> (value: T, ms: Double) {
        let clock = ContinuousClock(), start = clock.now
        let value = try await body()
        return (value, ms(clock.now - start))
    }

    public static func samples(runs: Int, warmup: Int, _ body: () throws -> Void) rethrows -> [Double] {
        for _ in 0..<warmup { try body() }
        return try (0..<runs).map { _ in try milliseconds(body).ms }
    }

    public static func samples(runs: Int, warmup: Int, _ body: () async throws -> Void) async rethrows -> [Double] {
        for _ in 0..<warmup { try await body() }
        var out: [Double] = []
        for _ in 0..<runs { out.append(try await milliseconds(body).ms) }
        return out
    }

    static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
    }
}
