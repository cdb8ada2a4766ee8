/// The pictures' colour map and scaling (`xai.plots`): the map min-max stretched to 0..1, then jet.
public enum ColourMap {
    /// A map whose max - min is below this is drawn as all zeros (`xai.plots.FLAT_MAP_RANGE`).
    public static let flatMapRange = 1e-6

    /// Jet's 256-entry RGB table as 8-bit values, built from its piecewise-linear definition the way
    /// matplotlib builds its lookup table (interpolated in Double, then scaled by 255 and truncated).
    public static let jet: [(r: UInt8, g: UInt8, b: UInt8)] = {
        let red: [(Double, Double)] = [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)]
        let green: [(Double, Double)] = [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)]
        let blue: [(Double, Double)] = [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)]
        let r = table(red), g = table(green), b = table(blue)
        return (0..<256).map { (r[$0], g[$0], b[$0]) }
    }()

    private static func table(_ points: [(x: Double, y: Double)], size: Int = 256) -> [UInt8] {
        let xs = points.map { $0.x * Double(size - 1) }
        return (0..<size).map { i in
            var value: Double
            if i == 0 {
                value = points[0].y
            } else if i == size - 1 {
                value = points[points.count - 1].y
            } else {
                let k = xs.firstIndex { $0 >= Double(i) }!  // the first breakpoint at or after i
                let distance = (Double(i) - xs[k - 1]) / (xs[k] - xs[k - 1])
                value = distance * (points[k].y - points[k - 1].y) + points[k - 1].y
            }
            return UInt8(min(max(value, 0), 1) * 255)  // truncation, as matplotlib's bytes=True
        }
    }

    /// Min-max stretch to 0..1 in Float32, as `xai.plots.stretch`; a flat map becomes zeros.
    public static func stretch(_ values: [Float]) -> [Float] {
        guard let low = values.min(), let high = values.max() else { return [] }
        let range = Double(high) - Double(low)
        guard range > flatMapRange else { return [Float](repeating: 0, count: values.count) }
        let scale = Float(range)
        return values.map { ($0 - low) / scale }
    }

    /// The table entry for a stretched value (0..1): `Int(v * 256)` in Float32, 1 maps to the last entry.
    public static func jetIndex(_ value: Float) -> Int {
        let scaled = value * Float(256)
        guard scaled.isFinite else { return 0 }
        return min(max(Int(scaled), 0), 255)
    }
}
