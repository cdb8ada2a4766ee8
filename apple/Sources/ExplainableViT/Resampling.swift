import Dispatch
import Foundation

// Pillow's resampling (src/libImaging/Resample.c as of Pillow 13.0), the one implementation every
// resize in the package runs on: the photo cap (`ImagePreprocessing.capped`, also the size the
// `Explainer` draws at), the model input (`ImagePreprocessing.resized`) and the heatmap upsampling
// (`Heatmap.resized`). The taps are computed once per axis; the 8-bit passes run in row bands on
// the cores, both in one where a resize has both. The goldens check the bytes against Pillow; the scalar passes
// (`RGBAImage.referenceResampled`, `Heatmap.referenceResized`) check the fast ones at sizes the
// goldens do not reach.

/// Resample.c `precompute_coeffs`: output `i` reads `count[i]` inputs from `first[i]` with
/// `weights[i * width ..< i * width + count[i]]`, normalised to sum 1. Float images use them as
/// they are; 8-bit images in fixed point (`fixedPoint`).
struct ResampleTaps {
    static let precisionBits = 32 - 8 - 2
    let first: [Int]
    let count: [Int]
    let width: Int
    let weights: [Double]
    var outSize: Int { first.count }

    /// `inSize` samples, of which the region `in0..<in1` (single-precision, as C holds a box; the
    /// whole signal when nil) becomes `outSize` samples.
    init(inSize: Int, outSize: Int, filter: ResampleFilter, from in0: Float = 0, to in1: Float? = nil) {
        let scale = Double((in1 ?? Float(inSize)) - in0) / Double(outSize)  // the difference in Float, as in C
        let filterScale = max(scale, 1)  // shrinking widens the filter: Pillow's antialiasing
        let support = filter.support * filterScale
        let reciprocal = 1.0 / filterScale
        var first: [Int] = [], rows: [[Double]] = []
        for i in 0..<outSize {
            let centre = Double(in0) + (Double(i) + 0.5) * scale
            let lo = max(Int(centre - support + 0.5), 0)  // Int() truncates toward zero, as C's cast
            let hi = min(Int(centre + support + 0.5), inSize)
            var w = (lo..<max(hi, lo)).map { x in filter.weight((Double(x) - centre + 0.5) * reciprocal) }
            let total = w.reduce(0, +)
            if total != 0 { w = w.map { $0 / total } }
            first.append(lo)
            rows.append(w)
        }
        let width = max(rows.map(\.count).max() ?? 0, 1)
        var weights = [Double](repeating: 0, count: outSize * width)
        for (i, w) in rows.enumerated() {
            for (j, value) in w.enumerated() { weights[i * width + j] = value }
        }
        self.first = first
        count = rows.map(\.count)
        self.width = width
        self.weights = weights
    }

    /// `normalize_coeffs_8bpc`: the weights with `precisionBits` fractional bits, rounded half away from zero.
    var fixedPoint: [Int32] {
        weights.map { Int32(($0 < 0 ? -0.5 : 0.5) + $0 * Double(1 << Self.precisionBits)) }
    }
}

/// Resample.c's 8-bit passes (`ImagingResampleHorizontal_8bpc`, `..Vertical_8bpc`): each output
/// sample the Int32 sum of its taps plus a half, shifted down `precisionBits` and clipped to 8 bits.
/// `channels` 3: RGB (alpha written 255); 4: RGBa (premultiplied alpha resampled with the colours).
enum PixelResampling {
    static let half = Int32(1) << (ResampleTaps.precisionBits - 1)

    @inline(__always)
    static func clip8(_ sum: Int32) -> UInt8 {
        let v = sum >> Int32(ResampleTaps.precisionBits)
        return v < 0 ? 0 : v > 255 ? 255 : UInt8(truncatingIfNeeded: v)
    }

    /// Whether the horizontal pass sums a pixel's channels as one `SIMD4<Int32>`: in an optimized
    /// build a third less CPU time than two channels per `UInt64` (12 MP photo capped), in a debug
    /// build (`-Onone` runs SIMD's generic operators lane by lane) 30 times slower, 16 s for that
    /// photo. Debug builds (Xcode's default while developing) take the packed path; the bytes are the
    /// same (tests run both paths against the scalar one).
    #if DEBUG
    static let vectorized = false
    #else
    static let vectorized = true
    #endif

    /// `lines` rows of `inWidth` pixels -> rows of `taps.outSize` pixels.
    static func horizontal(_ input: [UInt8], lines: Int, inWidth: Int, taps: ResampleTaps, channels: Int,
                           vectorized: Bool = vectorized) -> [UInt8] {
        let outWidth = taps.outSize
        return [UInt8](unsafeUninitializedCapacity: lines * outWidth * 4) { buffer, initialized in
            input.withUnsafeBufferPointer { src in
                withRowTaps(taps) { rowTaps in
                    let src = src.baseAddress!, dst = buffer.baseAddress!
                    Parallel.bands(lines) { band in
                        for y in band {
                            horizontalRow(src + y * inWidth * 4, into: dst + y * outWidth * 4, rowTaps, channels, vectorized: vectorized)
                        }
                    }
                }
            }
            initialized = lines * outWidth * 4
        }
    }

    /// Both passes, horizontal then vertical, `lines` rows of `inWidth` pixels -> `v.outSize` rows of
    /// `h.outSize` pixels, the same bytes as `vertical(horizontal(...))` without the intermediate
    /// image: each band of output rows keeps the input rows it reads, horizontally resampled, in a
    /// ring of `v.width` rows (an output row reads at most that many, and the rows it reads never
    /// go back up), so they stay in the cache and each is made once (a band's first few again where
    /// bands meet). Capping a 12 MP photo to 2048 px wrote and read back a 25 MB intermediate image.
    static func resampled(_ input: [UInt8], inWidth: Int, horizontal h: ResampleTaps, vertical v: ResampleTaps,
                          channels: Int, vectorized: Bool = vectorized) -> [UInt8] {
        let outWidth = h.outSize, outHeight = v.outSize, rowBytes = outWidth * 4
        let kv = v.fixedPoint, ringRows = v.width
        return [UInt8](unsafeUninitializedCapacity: outHeight * rowBytes) { buffer, initialized in
            input.withUnsafeBufferPointer { src in
                kv.withUnsafeBufferPointer { kv in
                    withRowTaps(h) { rowTaps in
                        let src = src.baseAddress!, dst = buffer.baseAddress!, kv = kv.baseAddress!
                        Parallel.bands(outHeight) { band in
                            let ring = UnsafeMutablePointer<UInt8>.allocate(capacity: ringRows * rowBytes)
                            let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
                            defer { ring.deallocate(); acc.deallocate() }
                            var made = v.first[band.lowerBound]  // input rows below this are in the ring
                            for y in band {
                                let first = v.first[y], count = v.count[y]
                                while made < first + count {
                                    horizontalRow(src + made * inWidth * 4, into: ring + (made % ringRows) * rowBytes, rowTaps,
                                                  channels, vectorized: vectorized)
                                    made &+= 1
                                }
                                let line = { (j: Int) in UnsafePointer(ring + ((first + j) % ringRows) * rowBytes) }
                                verticalRow(count: count, weights: kv + y * v.width, line: line, acc: acc,
                                            into: dst + y * rowBytes, rowBytes: rowBytes, channels: channels)
                            }
                        }
                    }
                }
            }
            initialized = outHeight * rowBytes
        }
    }

    /// A horizontal pass's taps (weights in fixed point) as raw pointers for the row kernel.
    private struct RowTaps {
        let weights: UnsafePointer<Int32>, first: UnsafePointer<Int>, count: UnsafePointer<Int>
        let width: Int, outSize: Int, packed: Bool
    }

    private static func withRowTaps<R>(_ taps: ResampleTaps, _ body: (RowTaps) -> R) -> R {
        let k = taps.fixedPoint
        // Two samples in the 32-bit halves of one UInt64 when no weight is negative (box, bilinear,
        // hamming): a sum then stays below 2^31, so nothing carries across.
        let packed = k.allSatisfy { $0 >= 0 }
        return k.withUnsafeBufferPointer { k in
            taps.first.withUnsafeBufferPointer { first in
                taps.count.withUnsafeBufferPointer { count in
                    body(RowTaps(weights: k.baseAddress!, first: first.baseAddress!, count: count.baseAddress!,
                                 width: taps.width, outSize: taps.outSize, packed: packed))
                }
            }
        }
    }

    /// One row of pixels -> `taps.outSize` pixels.
    @inline(__always)
    private static func horizontalRow(_ row: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<UInt8>, _ taps: RowTaps,
                                      _ channels: Int, vectorized: Bool) {
        var x = 0
        while x < taps.outSize {  // `while`: see `verticalRow`
            let w = taps.weights + x * taps.width, p = row + taps.first[x] * 4, o = out + 4 * x
            if vectorized {
                pixelVector(p, w, taps.count[x], o, channels)
            } else if taps.packed {
                pixelPacked(p, w, taps.count[x], o, channels)
            } else {
                pixel(p, step: 4, w, taps.count[x], o, channels)
            }
            x &+= 1
        }
    }

    /// One output pixel, its four channels in one vector: each tap's 4 bytes widened to Int32 lanes,
    /// times the tap's weight, summed (Int32 wrapping, as C's int sums), shifted, clipped to 8 bits.
    @inline(__always)
    private static func pixelVector(_ p: UnsafePointer<UInt8>, _ w: UnsafePointer<Int32>, _ n: Int,
                                    _ o: UnsafeMutablePointer<UInt8>, _ channels: Int) {
        var sum = SIMD4<Int32>(repeating: half)
        for j in 0..<n {
            let bytes = UnsafeRawPointer(p + 4 * j).loadUnaligned(as: SIMD4<UInt8>.self)
            sum &+= SIMD4<Int32>(truncatingIfNeeded: bytes) &* w[j]
        }
        let shifted = (sum &>> Int32(ResampleTaps.precisionBits)).clamped(lowerBound: .zero, upperBound: SIMD4(repeating: 255))
        var bytes = SIMD4<UInt8>(truncatingIfNeeded: shifted)
        if channels == 3 { bytes[3] = 255 }
        UnsafeMutableRawPointer(o).storeBytes(of: bytes, as: SIMD4<UInt8>.self)
    }

    @inline(__always)
    private static func pixelPacked(_ p: UnsafePointer<UInt8>, _ w: UnsafePointer<Int32>, _ n: Int,
                                    _ o: UnsafeMutablePointer<UInt8>, _ channels: Int) {
        var rb = UInt64(UInt32(half)) | UInt64(UInt32(half)) << 32, ga = rb
        var j = 0
        while j < n {
            let q = p + 4 * j, wj = UInt64(UInt32(w[j]))
            rb &+= (UInt64(q[0]) | UInt64(q[2]) << 32) &* wj
            ga &+= (UInt64(q[1]) | UInt64(q[3]) << 32) &* wj
            j &+= 1
        }
        o[0] = clip8(Int32(truncatingIfNeeded: rb))
        o[1] = clip8(Int32(truncatingIfNeeded: ga))
        o[2] = clip8(Int32(truncatingIfNeeded: rb >> 32))
        o[3] = channels == 4 ? clip8(Int32(truncatingIfNeeded: ga >> 32)) : 255
    }

    @inline(__always)
    private static func pixel(_ p: UnsafePointer<UInt8>, step: Int, _ w: UnsafePointer<Int32>, _ n: Int,
                              _ o: UnsafeMutablePointer<UInt8>, _ channels: Int) {
        var s0 = half, s1 = half, s2 = half, s3 = half
        for j in 0..<n {
            let q = p + step * j, wj = w[j]
            s0 &+= Int32(q[0]) &* wj
            s1 &+= Int32(q[1]) &* wj
            s2 &+= Int32(q[2]) &* wj
            s3 &+= Int32(q[3]) &* wj
        }
        (o[0], o[1], o[2]) = (clip8(s0), clip8(s1), clip8(s2))
        o[3] = channels == 4 ? clip8(s3) : 255
    }

    /// Rows of `rowBytes` bytes -> `taps.outSize` rows, each a weighted sum of input rows.
    static func vertical(_ input: [UInt8], rowBytes: Int, taps: ResampleTaps, channels: Int) -> [UInt8] {
        let outHeight = taps.outSize, k = taps.fixedPoint, kw = taps.width
        return [UInt8](unsafeUninitializedCapacity: outHeight * rowBytes) { buffer, initialized in
            input.withUnsafeBufferPointer { src in
                k.withUnsafeBufferPointer { k in
                    let src = src.baseAddress!, dst = buffer.baseAddress!, k = k.baseAddress!
                    Parallel.bands(outHeight) { band in
                        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
                        defer { acc.deallocate() }
                        for y in band {
                            let first = taps.first[y]
                            verticalRow(count: taps.count[y], weights: k + y * kw, line: { src + (first + $0) * rowBytes },
                                        acc: acc, into: dst + y * rowBytes, rowBytes: rowBytes, channels: channels)
                        }
                    }
                }
            }
            initialized = outHeight * rowBytes
        }
    }

    /// One output row: the sum of `count` input rows (`line(j)`) times their weights, in `acc`.
    @inline(__always)
    private static func verticalRow(count: Int, weights: UnsafePointer<Int32>, line: (Int) -> UnsafePointer<UInt8>,
                                    acc: UnsafeMutablePointer<Int32>, into out: UnsafeMutablePointer<UInt8>,
                                    rowBytes: Int, channels: Int) {
        // `while` loops: a debug build runs them several times faster than `for ... in` ranges; an
        // optimized build vectorizes both forms alike.
        acc.initialize(repeating: half, count: rowBytes)
        var j = 0
        while j < count {
            let w = weights[j], line = line(j)
            var i = 0
            while i < rowBytes {
                acc[i] &+= Int32(line[i]) &* w
                i &+= 1
            }
            j &+= 1
        }
        var i = 0
        while i < rowBytes {
            out[i] = clip8(acc[i])
            i &+= 1
        }
        if channels == 3 {
            i = 3
            while i < rowBytes {
                out[i] = 255
                i &+= 4
            }
        }
    }

    /// The scalar pass, one output sample at a time (Resample.c read literally): what the fast
    /// passes are checked against. `step`: bytes between neighbouring input samples.
    static func scalar(_ input: [UInt8], inWidth: Int, outWidth: Int, outHeight: Int, horizontal: Bool,
                       taps: ResampleTaps, channels: Int) -> [UInt8] {
        var out = [UInt8](repeating: 255, count: outWidth * outHeight * 4)
        let k = taps.fixedPoint, step = horizontal ? 4 : 4 * inWidth
        input.withUnsafeBufferPointer { src in
            k.withUnsafeBufferPointer { k in
                out.withUnsafeMutableBufferPointer { dst in
                    for y in 0..<outHeight {
                        for x in 0..<outWidth {
                            let i = horizontal ? x : y
                            let start = horizontal ? 4 * (y * inWidth + taps.first[i]) : 4 * (taps.first[i] * inWidth + x)
                            pixel(src.baseAddress! + start, step: step, k.baseAddress! + i * taps.width, taps.count[i],
                                  dst.baseAddress! + 4 * (y * outWidth + x), channels)
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Row bands run on the cores at once (`DispatchQueue.concurrentPerform`): the passes write
/// disjoint rows, so bands never share an output byte. There are `bandsPerCore` bands per core,
/// handed out as threads free up, so a core that runs slow (another process on it, or memory far
/// from it) takes fewer: on the shared 2-core Linux host, where the two cores are at times far
/// apart, a 12 MP photo's post-processing took up to 57-75 ms in two bands (one core alone: 56 ms)
/// and 33-37 ms in sixteen. Small images stay on the calling thread.
enum Parallel {
    static let minimumRows = 64
    static let bandsPerCore = 8
    static let maximumBands = 64

    /// `body` for each band of `0..<rows`, on as many threads as there are cores.
    static func bands(_ rows: Int, _ body: (Range<Int>) -> Void) {
        let bands = min(ProcessInfo.processInfo.activeProcessorCount * bandsPerCore, maximumBands, rows / minimumRows)
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
