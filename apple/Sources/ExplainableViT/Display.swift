import Dispatch
import Foundation

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
        return [UInt8](unsafeUninitializedCapacity: lines * outWidth * 4) { buffer, initialized in
            input.withUnsafeBufferPointer { src in
                k.withUnsafeBufferPointer { k in
                    taps.first.withUnsafeBufferPointer { first in
                        taps.count.withUnsafeBufferPointer { count in
                            let src = src.baseAddress!, dst = buffer.baseAddress!, k = k.baseAddress!
                            let first = first.baseAddress!, count = count.baseAddress!
                            Parallel.bands(lines) { band in
                                for y in band {
                                    let row = src + y * inWidth * 4, out = dst + y * outWidth * 4
                                    for x in 0..<outWidth {
                                        // red and blue in the two 32-bit halves of one UInt64: bilinear
                                        // weights are >= 0 and a sum stays below 2^31, so no carry crosses
                                        var rb = UInt64(half) | UInt64(half) << 32, g = half
                                        let w = k + x * kw, p = row + first[x] * 4
                                        for j in 0..<count[x] {
                                            let q = p + 4 * j, wj = w[j]
                                            rb &+= (UInt64(q[0]) | UInt64(q[2]) << 32) &* UInt64(wj)
                                            g &+= Int32(q[1]) &* wj
                                        }
                                        let o = out + 4 * x
                                        o[0] = clip8(Int32(truncatingIfNeeded: rb))
                                        o[1] = clip8(g)
                                        o[2] = clip8(Int32(truncatingIfNeeded: rb >> 32))
                                        o[3] = 255
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = lines * outWidth * 4
        }
    }

    /// Rows of `rowBytes` bytes -> `taps.count.count` rows, each a weighted sum of input rows.
    static func vertical(_ input: [UInt8], rowBytes: Int, taps: SeparableTaps) -> [UInt8] {
        let outHeight = taps.count.count, k = taps.fixedPoint, kw = taps.width
        return [UInt8](unsafeUninitializedCapacity: outHeight * rowBytes) { buffer, initialized in
            input.withUnsafeBufferPointer { src in
                k.withUnsafeBufferPointer { k in
                    let src = src.baseAddress!, dst = buffer.baseAddress!, k = k.baseAddress!
                    Parallel.bands(outHeight) { band in
                        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
                        defer { acc.deallocate() }
                        for y in band {
                            acc.initialize(repeating: half, count: rowBytes)
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
            initialized = outHeight * rowBytes
        }
    }
}

/// Row bands run on the cores at once (`DispatchQueue.concurrentPerform`): the passes write
/// disjoint rows, so bands never share an output byte. Small images stay on the calling thread.
enum Parallel {
    static let minimumRows = 64
    static let maximumBands = 8

    /// `body` for each band of `0..<rows`, on as many threads as there are cores (at most `maximumBands`).
    static func bands(_ rows: Int, _ body: (Range<Int>) -> Void) {
        let bands = min(ProcessInfo.processInfo.activeProcessorCount, maximumBands, rows / minimumRows)
        guard bands > 1 else { return body(0..<rows) }
        withoutActuallyEscaping(body) { body in
            let shared = Unchecked(body)
            DispatchQueue.concurrentPerform(iterations: bands) { b in shared.value(b * rows / bands..<(b + 1) * rows / bands) }
        }
    }

    /// The one unchecked claim: a band's body reads shared input that nothing writes while the
    /// bands run, and writes only its own rows; `concurrentPerform` returns after every band.
    private struct Unchecked<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
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
