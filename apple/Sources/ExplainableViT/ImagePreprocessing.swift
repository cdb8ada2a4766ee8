import Foundation

// The photo the model sees, made the way `runtime.images` makes it, byte for byte: the long side
// capped at `MAX_SIDE` (Pillow's `thumbnail`, bilinear, reducing gap 2), EXIF orientation applied
// (`ImageOps.exif_transpose`), transparency composited on white (`Image.alpha_composite`), then
// resized to the model input (`Image.resize` with the manifest's filter), so Core ML gets an image
// already at its input size and never scales it with a filter of its own.
// Pillow's C code is mirrored step by step (src/libImaging/Reduce.c, AlphaComposite.c, Convert.c,
// and Resample.c in Resampling.swift, as of Pillow 13.0): fixed-point coefficients with 22
// fractional bits, two passes (their order as Pillow picks it), 8 bits in between; the goldens
// check every step against Pillow. The `Explainer` caps the photo it draws on with the same `capped`.

/// EXIF orientation (1-8), numbered as `CGImagePropertyOrientation` and the EXIF tag: how the
/// stored pixels must be turned to stand upright.
public enum ImageOrientation: Int, CaseIterable, Sendable {
    case up = 1, upMirrored, down, downMirrored, leftMirrored, right, rightMirrored, left

    /// True when the upright image is the stored one turned a quarter (width and height swap).
    public var swapsWidthAndHeight: Bool { rawValue >= 5 }
}

/// Pillow's resampling filters by `runtime.images.RESAMPLE` name (nearest is not a filter: refused).
public enum ResampleFilter: String, CaseIterable, Sendable {
    case box, bilinear, hamming, bicubic, lanczos

    /// Half-width of the filter at scale 1 (Resample.c `struct filter`).
    var support: Double {
        switch self {
        case .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    /// The filter's weight at `x` (Resample.c `*_filter`; Float constants where C has them).
    func weight(_ x: Double) -> Double {
        switch self {
        case .box: return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear: return max(0, 1 - abs(x))
        case .hamming:
            let a = abs(x)
            if a == 0 { return 1 }
            if a >= 1 { return 0 }
            let t = a * Double.pi
            return sin(t) / t * (Double(Float(0.54)) + Double(Float(0.46)) * cos(t))
        case .bicubic:
            let a = abs(x), k = -0.5
            if a < 1 { return ((k + 2) * a - (k + 3)) * a * a + 1 }
            if a < 2 { return (((a - 5) * a + 8) * a - 4) * k }
            return 0
        case .lanczos:
            return -3 <= x && x < 3 ? Self.sinc(x) * Self.sinc(x / 3) : 0
        }
    }

    private static func sinc(_ x: Double) -> Double {
        x == 0 ? 1 : sin(x * Double.pi) / (x * Double.pi)
    }
}

/// The whole image path: `photo` is what `runtime` explains (capped, upright, opaque), `modelInput`
/// what the model is fed (`photo` resized to the input size).
public struct PreparedImage: Equatable, Sendable {
    public let photo: RGBAImage
    public let modelInput: RGBAImage

    /// `raw`: the stored pixels (straight alpha); `inputSize`: the model's (width, height).
    public init(_ raw: RGBAImage, orientation: ImageOrientation = .up, inputSize: (width: Int, height: Int),
                filter: ResampleFilter = .bilinear, maxSide: Int = ImagePreprocessing.maxSide) throws {
        photo = try ImagePreprocessing.photo(raw, orientation: orientation, maxSide: maxSide)
        modelInput = try ImagePreprocessing.resized(photo, width: inputSize.width, height: inputSize.height, filter: filter)
    }

    /// For a model: its input size and the filter its manifest names.
    public init(_ raw: RGBAImage, orientation: ImageOrientation = .up, metadata: ModelMetadata,
                maxSide: Int = ImagePreprocessing.maxSide) throws {
        try self.init(raw, orientation: orientation, inputSize: metadata.inputSize,
                      filter: try metadata.resampleFilter(), maxSide: maxSide)
    }
}

public enum ImagePreprocessing {
    /// Photos longer than this are reduced to it first (`runtime.images.MAX_SIDE`).
    public static let maxSide = 2048

    /// Capped, turned upright and composited on white, in that order (`runtime.images.to_rgb`).
    public static func photo(_ raw: RGBAImage, orientation: ImageOrientation, maxSide: Int = maxSide) throws -> RGBAImage {
        try capped(raw, maxSide: maxSide).oriented(orientation).compositedOnWhite()
    }

    /// `image.resize((width, height), filter)` of an opaque (RGB) image; unchanged at the same size.
    public static func resized(_ image: RGBAImage, width: Int, height: Int, filter: ResampleFilter) throws -> RGBAImage {
        guard width > 0, height > 0 else { throw ExplainableViTError.image("resize to \(width)x\(height)") }
        if image.width == width && image.height == height { return image }
        return try image.resampled(width: width, height: height, filter: filter, channels: 3)
    }

    /// `image.thumbnail((maxSide, maxSide), BILINEAR, reducing_gap=2.0)`: unchanged when it fits.
    /// Over four times the cap on a side, Pillow first box-reduces by a whole factor (`reduce`).
    /// Images with transparency are resized premultiplied, as Pillow resizes RGBA.
    public static func capped(_ image: RGBAImage, maxSide: Int = maxSide) throws -> RGBAImage {
        guard maxSide > 0 else { throw ExplainableViTError.image("a long side of at most \(maxSide)") }
        guard let size = thumbnailSize(width: image.width, height: image.height, maxSide: maxSide),
              size != (image.width, image.height) else { return image }
        let opaque = image.isOpaque
        var work = opaque ? image : image.premultiplied()
        var box = (x0: Float(0), y0: Float(0), x1: Float(image.width), y1: Float(image.height))
        // Image.resize's reducing gap: first an integer box reduction, then the remaining resample.
        let factorX = max(Int(Double(image.width) / Double(size.width) / 2.0), 1)
        let factorY = max(Int(Double(image.height) / Double(size.height) / 2.0), 1)
        if factorX > 1 || factorY > 1 {
            work = try work.reduced(factorX: factorX, factorY: factorY)
            box = (0, 0, Float(Double(image.width) / Double(factorX)), Float(Double(image.height) / Double(factorY)))
        }
        let out = try work.resampled(width: size.width, height: size.height, filter: .bilinear, box: box, channels: opaque ? 3 : 4)
        return opaque ? out : out.unpremultiplied()
    }

    /// Pillow's `thumbnail` size for a square bound: the aspect kept, each side rounded the way that
    /// keeps the aspect best (floor on a tie), at least 1. Nil when the image already fits.
    static func thumbnailSize(width: Int, height: Int, maxSide: Int) -> (width: Int, height: Int)? {
        guard width > maxSide || height > maxSide else { return nil }
        let aspect = Double(width) / Double(height), side = Double(maxSide)
        func rounded(_ value: Double, key: (Int) -> Double) -> Int {
            let low = Int(value.rounded(.down)), high = Int(value.rounded(.up))
            return max(key(high) < key(low) ? high : low, 1)
        }
        if 1.0 >= aspect {  // x / y >= aspect with x == y
            return (rounded(side * aspect) { abs(aspect - Double($0) / side) }, maxSide)
        }
        return (maxSide, rounded(side / aspect) { $0 == 0 ? 0 : abs(aspect - side / Double($0)) })
    }
}

extension ModelMetadata {
    /// The resampling filter the manifest names (`preprocessing.resample`); bilinear when absent.
    public func resampleFilter() throws -> ResampleFilter {
        let manifest = try? JSONSerialization.jsonObject(with: Data(manifestJSON.utf8)) as? [String: Any]
        let name = (manifest?["preprocessing"] as? [String: Any])?["resample"] as? String ?? "bilinear"
        guard let filter = ResampleFilter(rawValue: name) else {
            throw ExplainableViTError.metadata(problems: ["resample filter '\(name)' is not one of "
                                                          + ResampleFilter.allCases.map(\.rawValue).joined(separator: ", ")])
        }
        return filter
    }
}

// MARK: - The steps, each as Pillow does it

extension RGBAImage {
    /// Every alpha is 255: `knownOpaque`, or else every alpha read.
    public var isOpaque: Bool {
        if knownOpaque { return true }
        return pixels.withUnsafeBytes { bytes in
            let words = bytes.count / 4
            var start = 0
            while start < words {  // every pixel ANDed into one word, a chunk at a time: an early exit, and vectorised
                var all = UInt32.max
                for i in start..<min(start + 16_384, words) { all &= bytes.load(fromByteOffset: 4 * i, as: UInt32.self) }
                if Swift.withUnsafeBytes(of: all, { $0[3] }) != 255 { return false }  // byte 3 of every pixel, either endianness
                start += 16_384
            }
            return true
        }
    }

    /// Turned upright (`Image.transpose` with the method `exif_transpose` picks for the orientation).
    public func oriented(_ orientation: ImageOrientation) -> RGBAImage {
        if orientation == .up { return self }
        let (w, h) = (width, height)
        let (outW, outH) = orientation.swapsWidthAndHeight ? (h, w) : (w, h)
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<outH {
            for x in 0..<outW {
                let (sx, sy): (Int, Int)
                switch orientation {
                case .up: (sx, sy) = (x, y)
                case .upMirrored: (sx, sy) = (w - 1 - x, y)  // FLIP_LEFT_RIGHT
                case .down: (sx, sy) = (w - 1 - x, h - 1 - y)  // ROTATE_180
                case .downMirrored: (sx, sy) = (x, h - 1 - y)  // FLIP_TOP_BOTTOM
                case .leftMirrored: (sx, sy) = (y, x)  // TRANSPOSE
                case .right: (sx, sy) = (y, h - 1 - x)  // ROTATE_270 (a quarter clockwise)
                case .rightMirrored: (sx, sy) = (w - 1 - y, h - 1 - x)  // TRANSVERSE
                case .left: (sx, sy) = (w - 1 - y, x)  // ROTATE_90 (a quarter anticlockwise)
                }
                let from = 4 * (sy * w + sx), to = 4 * (y * outW + x)
                out[to..<(to + 4)] = pixels[from..<(from + 4)]
            }
        }
        return try! RGBAImage(width: outW, height: outH, pixels: out, knownOpaque: knownOpaque)  // same pixel count, sides swapped
    }

    /// `Image.alpha_composite(white, image)`: AlphaComposite.c's integer blend (7 extra bits,
    /// divisions by 255 rounded by shifts); opaque out.
    public func compositedOnWhite() -> RGBAImage {
        if isOpaque { return self }
        var out = pixels
        for p in stride(from: 0, to: pixels.count, by: 4) {
            let a = UInt32(pixels[p + 3])
            defer { out[p + 3] = 255 }
            guard a != 0 else { out[p] = 255; out[p + 1] = 255; out[p + 2] = 255; continue }
            let outA255 = a * 255 + 255 * (255 - a)  // the white background is opaque
            let coef1 = a * 255 * 255 * 128 / outA255, coef2 = 255 * 128 - coef1
            for c in 0..<3 {
                let t = UInt32(pixels[p + c]) * coef1 + 255 * coef2 + (0x80 << 7)
                out[p + c] = UInt8(truncatingIfNeeded: (((t >> 8) + t) >> 8) >> 7)
            }
        }
        return try! RGBAImage(width: width, height: height, pixels: out, knownOpaque: true)
    }

    /// RGBA -> RGBa (Convert.c `rgbA2rgba`): colour times alpha / 255, rounded.
    public func premultiplied() -> RGBAImage {
        var out = pixels
        for p in stride(from: 0, to: pixels.count, by: 4) {
            let a = UInt32(pixels[p + 3])
            for c in 0..<3 {
                let t = UInt32(pixels[p + c]) * a + 128
                out[p + c] = UInt8(truncatingIfNeeded: ((t >> 8) + t) >> 8)
            }
        }
        return try! RGBAImage(width: width, height: height, pixels: out, knownOpaque: knownOpaque)  // alpha unchanged
    }

    /// RGBa -> RGBA (Convert.c `rgba2rgbA`): colour times 255 / alpha, truncated, clipped.
    public func unpremultiplied() -> RGBAImage {
        var out = pixels
        for p in stride(from: 0, to: pixels.count, by: 4) {
            let a = Int(pixels[p + 3])
            guard a != 0 && a != 255 else { continue }
            for c in 0..<3 { out[p + c] = UInt8(min(255 * Int(pixels[p + c]) / a, 255)) }
        }
        return try! RGBAImage(width: width, height: height, pixels: out, knownOpaque: knownOpaque)  // alpha unchanged
    }

    /// `Image.reduce((factorX, factorY))` of the whole image (Reduce.c): each output pixel the
    /// rounded mean of its block; blocks at the right and bottom edges are partial. Output rows in
    /// bands on the cores, each summed a whole input row at a time.
    func reduced(factorX: Int, factorY: Int) throws -> RGBAImage {
        let outW = (width + factorX - 1) / factorX, outH = (height + factorY - 1) / factorY, width = self.width, height = self.height
        let out = [UInt8](unsafeUninitializedCapacity: outW * outH * 4) { buffer, initialized in
            pixels.withUnsafeBufferPointer { src in
                let src = src.baseAddress!, dst = buffer.baseAddress!
                Parallel.bands(outH) { band in
                    let sums = UnsafeMutablePointer<UInt32>.allocate(capacity: outW * 4)
                    defer { sums.deallocate() }
                    for y in band {
                        let rows = (y * factorY)..<min((y + 1) * factorY, height)
                        sums.initialize(repeating: 0, count: outW * 4)
                        for row in rows {
                            let line = src + row * width * 4
                            for x in 0..<outW {
                                let s = sums + 4 * x
                                for column in (x * factorX)..<min((x + 1) * factorX, width) {
                                    let q = line + 4 * column
                                    (s[0], s[1], s[2], s[3]) = (s[0] &+ UInt32(q[0]), s[1] &+ UInt32(q[1]), s[2] &+ UInt32(q[2]), s[3] &+ UInt32(q[3]))
                                }
                            }
                        }
                        for x in 0..<outW {
                            let count = UInt32(rows.count * (min((x + 1) * factorX, width) - x * factorX))
                            let multiplier = UInt32(Float(4_294_967_296) / Float(256 * count))  // Reduce.c division_UINT32
                            for c in 0..<4 {  // amend (half the block) + sum, times the multiplier, in UInt32 as C
                                dst[4 * (y * outW + x) + c] = UInt8(truncatingIfNeeded: ((count / 2 &+ sums[4 * x + c]) &* multiplier) >> 24)
                            }
                        }
                    }
                }
            }
            initialized = outW * outH * 4
        }
        return try RGBAImage(width: outW, height: outH, pixels: out)
    }

    /// `Image.resize` of an 8-bit image (Resample.c `ImagingResample`, `_imaging.c` `_resize`):
    /// source region `box` (single-precision floats, as C holds it), one pass per axis that changes.
    /// `channels`: 3 for RGB (alpha set to 255), 4 for RGBa.
    func resampled(width outW: Int, height outH: Int, filter: ResampleFilter,
                   box: (x0: Float, y0: Float, x1: Float, y1: Float)? = nil, channels: Int) throws -> RGBAImage {
        try resampled(width: outW, height: outH, filter: filter, box: box, channels: channels, scalar: false)
    }

    /// The same with Resample.c's passes read literally, one sample at a time: what `resampled`'s
    /// passes (taps flattened, two samples per multiply, row bands on the cores) are checked against.
    @_spi(Reference)
    public func referenceResampled(width outW: Int, height outH: Int, filter: ResampleFilter,
                                   box: (x0: Float, y0: Float, x1: Float, y1: Float)? = nil, channels: Int) throws -> RGBAImage {
        try resampled(width: outW, height: outH, filter: filter, box: box, channels: channels, scalar: true)
    }

    private func resampled(width outW: Int, height outH: Int, filter: ResampleFilter,
                           box: (x0: Float, y0: Float, x1: Float, y1: Float)?, channels: Int, scalar: Bool) throws -> RGBAImage {
        guard outW > 0, outH > 0, channels == 3 || channels == 4 else {
            throw ExplainableViTError.image("resample to \(outW)x\(outH) with \(channels) channels")
        }
        let box = box ?? (0, 0, Float(width), Float(height))
        if box.x0 == box.x0.rounded(.towardZero) && box.x1 - box.x0 == Float(outW)
            && box.y0 == box.y0.rounded(.towardZero) && box.y1 - box.y0 == Float(outH) {
            return try cropped(x: Int(box.x0), y: Int(box.y0), width: outW, height: outH)  // _resize's crop shortcut
        }
        let needHorizontal = outW != width || box.x0 != 0 || box.x1 != Float(outW)
        let needVertical = outH != height || box.y0 != 0 || box.y1 != Float(outH)
        // Pillow 13: when the height shrinks by more than twice what the width does, the vertical
        // pass runs first (8-bit rounding in between makes the order visible in the pixels).
        let verticalFirst = height - outH > 0 && height - outH > (width - outW) * 2
        func taps(horizontal: Bool) -> ResampleTaps {
            horizontal ? ResampleTaps(inSize: width, outSize: outW, filter: filter, from: box.x0, to: box.x1)
                       : ResampleTaps(inSize: height, outSize: outH, filter: filter, from: box.y0, to: box.y1)
        }
        if needHorizontal && needVertical && !verticalFirst && !scalar {  // both passes in one, no intermediate image
            let out = PixelResampling.resampled(pixels, inWidth: width, horizontal: taps(horizontal: true),
                                                vertical: taps(horizontal: false), channels: channels)
            return try RGBAImage(width: outW, height: outH, pixels: out, knownOpaque: channels == 3)
        }
        var image = self
        for horizontal in verticalFirst ? [false, true] : [true, false] where horizontal ? needHorizontal : needVertical {
            image = try image.pass(taps(horizontal: horizontal), horizontal: horizontal, channels: channels, scalar: scalar)
        }
        return image
    }

    private func cropped(x: Int, y: Int, width w: Int, height h: Int) throws -> RGBAImage {
        var out: [UInt8] = []
        out.reserveCapacity(w * h * 4)
        for row in y..<(y + h) { out += pixels[(4 * (row * width + x))..<(4 * (row * width + x + w))] }
        return try RGBAImage(width: w, height: h, pixels: out, knownOpaque: knownOpaque)
    }

    /// One pass along rows (horizontal) or columns (`PixelResampling`).
    private func pass(_ taps: ResampleTaps, horizontal: Bool, channels: Int, scalar: Bool) throws -> RGBAImage {
        let (outW, outH) = horizontal ? (taps.outSize, height) : (width, taps.outSize)
        let out = scalar ? PixelResampling.scalar(pixels, inWidth: width, outWidth: outW, outHeight: outH, horizontal: horizontal,
                                                  taps: taps, channels: channels)
            : horizontal ? PixelResampling.horizontal(pixels, lines: height, inWidth: width, taps: taps, channels: channels)
            : PixelResampling.vertical(pixels, rowBytes: width * 4, taps: taps, channels: channels)
        // RGB passes write alpha 255.
        return try RGBAImage(width: outW, height: outH, pixels: out, knownOpaque: channels == 3)
    }
}
