/// Explanations at the size they are shown (issue 27, "Fast"): a 12 MP photo is reduced to the Python
/// runtime's cap before the heatmap is upsampled, coloured and blended, so the post-processing costs
/// the display's pixels, not the sensor's. Every pass is separable with its taps computed once per
/// axis; the values equal the scalar reference passes (`referenceResized`, `referenceComposite`).
public enum Display {
    /// Longest side of the pictures, as `runtime.images.MAX_SIDE`: larger photos are reduced to it.
    public static let maxSide = 2048

    /// `width x height` reduced to fit `maxSide x maxSide` with its aspect kept, sized as Pillow's
    /// `Image.thumbnail` sizes it (the Python runtime caps photos with it); unchanged when it fits.
    public static func size(width: Int, height: Int, maxSide: Int = maxSide) -> (width: Int, height: Int) {
        guard width > maxSide || height > maxSide, width > 0, height > 0, maxSide > 0 else { return (width, height) }
        let aspect = Double(width) / Double(height), side = Double(maxSide)
        if 1 >= aspect {  // portrait or square: the height is the cap
            return (roundAspect(side * aspect) { abs(aspect - Double($0) / side) }, maxSide)
        }
        return (maxSide, roundAspect(side / aspect) { $0 == 0 ? 0 : abs(aspect - side / Double($0)) })
    }

    /// Pillow's `round_aspect`: floor or ceil, whichever keeps the aspect better (floor on a tie), at least 1.
    private static func roundAspect(_ value: Double, key: (Int) -> Double) -> Int {
        let low = Int(value.rounded(.down)), high = Int(value.rounded(.up))
        return max(key(high) < key(low) ? high : low, 1)
    }
}

/// One axis's resampling taps, flattened: output `i` reads `count[i]` inputs from `first[i]` with
/// `weights[i * width ..< i * width + count[i]]`. Pillow's bilinear coefficients (`BilinearTaps`).
struct SeparableTaps {
    let first: [Int]
    let count: [Int]
    let width: Int
    let weights: [Double]

    init(from inSize: Int, to outSize: Int) {
        let taps = BilinearTaps(from: inSize, to: outSize)
        first = taps.first
        count = taps.weights.map(\.count)
        let width = max(count.max() ?? 0, 1)
        var weights = [Double](repeating: 0, count: outSize * width)
        for (i, w) in taps.weights.enumerated() {
            for (j, value) in w.enumerated() { weights[i * width + j] = value }
        }
        self.width = width
        self.weights = weights
    }

    /// Pillow's 8-bit coefficients (`normalize_coeffs_8bpc`): the weights in fixed point.
    var fixedPoint: [Int32] {
        weights.map { Int32(($0 < 0 ? -0.5 : 0.5) + $0 * Double(1 << PixelResampling.precisionBits)) }
    }
}

/// Pillow's bilinear resize of 8-bit RGB (`ImagingResample`, 8 bpc): fixed-point taps, horizontal
/// pass, then vertical, each rounded and clipped to 8 bits.
enum PixelResampling {
    static let precisionBits = 32 - 8 - 2
    static let half = Int32(1) << (precisionBits - 1)

    @inline(__always)
    static func clip8(_ sum: Int32) -> UInt8 {
        let v = sum >> Int32(precisionBits)
        return v < 0 ? 0 : v > 255 ? 255 : UInt8(truncatingIfNeeded: v)
    }

    /// `lines` rows of `inWidth` RGBA pixels -> rows of `taps.count.count` pixels; alpha set opaque.
    static func horizontal(_ input: [UInt8], lines: Int, inWidth: Int, taps: SeparableTaps) -> [UInt8] {
        let outWidth = taps.count.count, k = taps.fixedPoint, kw = taps.width
        var output = [UInt8](repeating: 255, count: lines * outWidth * 4)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                k.withUnsafeBufferPointer { k in
                    let src = src.baseAddress!, dst = dst.baseAddress!, k = k.baseAddress!
                    for y in 0..<lines {
                        let row = src + y * inWidth * 4, out = dst + y * outWidth * 4
                        for x in 0..<outWidth {
                            var r = half, g = half, b = half
                            let w = k + x * kw, p = row + taps.first[x] * 4
                            for j in 0..<taps.count[x] {
                                let q = p + 4 * j
                                r &+= Int32(q[0]) &* w[j]
                                g &+= Int32(q[1]) &* w[j]
                                b &+= Int32(q[2]) &* w[j]
                            }
                            out[4 * x] = clip8(r)
                            out[4 * x + 1] = clip8(g)
                            out[4 * x + 2] = clip8(b)
                        }
                    }
                }
            }
        }
        return output
    }

    /// Rows of `rowBytes` bytes -> `taps.count.count` rows, each a weighted sum of input rows.
    static func vertical(_ input: [UInt8], rowBytes: Int, taps: SeparableTaps) -> [UInt8] {
        let outHeight = taps.count.count, k = taps.fixedPoint, kw = taps.width
        var output = [UInt8](repeating: 255, count: outHeight * rowBytes)
        var sums = [Int32](repeating: 0, count: rowBytes)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                sums.withUnsafeMutableBufferPointer { acc in
                    let src = src.baseAddress!, dst = dst.baseAddress!, acc = acc.baseAddress!
                    for y in 0..<outHeight {
                        acc.update(repeating: half, count: rowBytes)
                        for j in 0..<taps.count[y] {
                            let w = k[y * kw + j], line = src + (taps.first[y] + j) * rowBytes
                            for i in 0..<rowBytes { acc[i] &+= Int32(line[i]) &* w }
                        }
                        let out = dst + y * rowBytes
                        for i in 0..<rowBytes { out[i] = clip8(acc[i]) }
                    }
                }
            }
        }
        return output
    }
}

extension RGBAImage {
    /// This photo at `width x height` by Pillow's bilinear resize of an RGB image (what the Python
    /// runtime's `thumbnail` cap does to a photo at most twice the cap; a larger one Pillow first
    /// box-reduces, and a JPEG it decodes at a reduced scale). Opaque.
    public func resized(width newWidth: Int, height newHeight: Int) throws -> RGBAImage {
        guard newWidth > 0, newHeight > 0 else { throw ExplainableViTError.image("size \(newWidth)x\(newHeight)") }
        var rows = pixels
        if newWidth != width {
            rows = PixelResampling.horizontal(pixels, lines: height, inWidth: width, taps: SeparableTaps(from: width, to: newWidth))
        }
        if newHeight != height {
            rows = PixelResampling.vertical(rows, rowBytes: newWidth * 4, taps: SeparableTaps(from: height, to: newHeight))
        }
        return try RGBAImage(width: newWidth, height: newHeight, pixels: rows)
    }

    /// This photo reduced to fit `maxSide` (`Display.size`), or itself when it fits.
    public func displayed(maxSide: Int = Display.maxSide) throws -> RGBAImage {
        let size = Display.size(width: width, height: height, maxSide: maxSide)
        return size == (width, height) ? self : try resized(width: size.width, height: size.height)
    }
}
