/// 8-bit RGBA pixels, row-major, 4 bytes per pixel, not premultiplied.
public struct RGBAImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]
    /// True when every alpha is 255 by how the image was made, so `isOpaque` need not look: an RGB
    /// source (a JPEG, a camera frame, a CGImage whose alpha info says none, `init(width:height:rgb:)`)
    /// or a step that writes opaque pixels (compositing on white, an RGB resize, the overlay). False:
    /// not known (`isOpaque` reads every alpha). Not part of equality: the pixels are.
    public let knownOpaque: Bool

    /// `knownOpaque`: the caller vouches that every alpha is 255 (it decoded a format without alpha),
    /// which spares the image path its opacity check (a read of every pixel); nothing verifies it.
    public init(width: Int, height: Int, pixels: [UInt8], knownOpaque: Bool = false) throws {
        guard width > 0, height > 0, pixels.count == width * height * 4 else {
            throw ExplainableViTError.image("\(pixels.count) bytes for \(width)x\(height) RGBA")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
        self.knownOpaque = knownOpaque
    }

    public static func == (a: RGBAImage, b: RGBAImage) -> Bool {
        a.width == b.width && a.height == b.height && a.pixels == b.pixels
    }

    /// From packed RGB bytes (3 per pixel), opaque.
    public init(width: Int, height: Int, rgb: [UInt8]) throws {
        guard rgb.count == width * height * 3 else {
            throw ExplainableViTError.image("\(rgb.count) bytes for \(width)x\(height) RGB")
        }
        var pixels = [UInt8](repeating: 255, count: width * height * 4)
        for p in 0..<(width * height) {
            pixels[4 * p] = rgb[3 * p]
            pixels[4 * p + 1] = rgb[3 * p + 1]
            pixels[4 * p + 2] = rgb[3 * p + 2]
        }
        try self.init(width: width, height: height, pixels: pixels, knownOpaque: true)
    }
}

public enum Overlay {
    /// Weight of the colour map over the photo in the pictures (`xai.plots.OVERLAY_ALPHA`).
    public static let defaultAlpha = 0.5

    /// The photo with the heatmap (at the photo's size) drawn over it as `xai.plots.overlay_pixels`
    /// does: stretched, coloured with jet, `alpha * colour + (1 - alpha) * photo` rounded half up; opaque.
    /// One pass over the pixels with two lookups per channel: the jet entry of the stretched value,
    /// and the blend of (colour, photo) bytes from a 256x256 table made by the same formula, so the
    /// pixels equal `referenceComposite`'s.
    public static func composite(photo: RGBAImage, heatmap: Heatmap, alpha: Double = defaultAlpha) throws -> RGBAImage {
        try checkSizes(photo: photo, heatmap: heatmap)
        let table = alpha == defaultAlpha ? defaultBlend : blendTable(alpha: alpha)
        let (low, scale) = stretchRange(heatmap.values)
        let pixels = [UInt8](unsafeUninitializedCapacity: photo.pixels.count) { out, initialized in
            photo.pixels.withUnsafeBufferPointer { src in
                heatmap.values.withUnsafeBufferPointer { map in
                    table.withUnsafeBufferPointer { blend in
                        jetBytes.withUnsafeBufferPointer { jet in
                            let src = src.baseAddress!, map = map.baseAddress!, blend = blend.baseAddress!
                            let jet = jet.baseAddress!, dst = out.baseAddress!
                            let flat = scale == nil, divisor = scale ?? 1, width = photo.width
                            Parallel.bands(photo.height) { rows in
                                var p = rows.lowerBound * width
                                let end = rows.upperBound * width
                                while p < end {  // `while`: a debug build runs it faster than a `for ... in` range
                                    let colour = jet + 3 * (flat ? 0 : ColourMap.jetIndex((map[p] - low) / divisor))
                                    let q = 4 * p
                                    dst[q] = blend[Int(colour[0]) << 8 | Int(src[q])]
                                    dst[q + 1] = blend[Int(colour[1]) << 8 | Int(src[q + 1])]
                                    dst[q + 2] = blend[Int(colour[2]) << 8 | Int(src[q + 2])]
                                    dst[q + 3] = 255
                                    p &+= 1
                                }
                            }
                        }
                    }
                }
            }
            initialized = photo.pixels.count
        }
        return try RGBAImage(width: photo.width, height: photo.height, pixels: pixels, knownOpaque: true)
    }

    private static func checkSizes(photo: RGBAImage, heatmap: Heatmap) throws {
        guard heatmap.width == photo.width, heatmap.height == photo.height else {
            throw ExplainableViTError.image("heatmap \(heatmap.width)x\(heatmap.height) over a \(photo.width)x\(photo.height) photo; "
                                            + "resize it first (Heatmap.resized)")
        }
    }

    /// `ColourMap.stretch`'s low and divisor; a nil divisor for a flat map (drawn as zeros).
    private static func stretchRange(_ values: [Float]) -> (low: Float, scale: Float?) {
        guard var low = values.first else { return (0, nil) }
        var high = low
        values.withUnsafeBufferPointer { values in  // one pass, both ends (as `min()` and `max()`: `<` and `>`)
            var i = 0
            while i < values.count {
                let v = values[i]
                if v < low { low = v }
                if v > high { high = v }
                i &+= 1
            }
        }
        let range = Double(high) - Double(low)
        return (low, range > ColourMap.flatMapRange ? Float(range) : nil)
    }

    /// Jet as 768 bytes, r g b per entry.
    private static let jetBytes: [UInt8] = ColourMap.jet.flatMap { [$0.r, $0.g, $0.b] }
    private static let defaultBlend = blendTable(alpha: defaultAlpha)

    /// `blend[colour << 8 | photo]` = `floor(alpha * colour + (1 - alpha) * photo + 0.5)`, in Double.
    static func blendTable(alpha: Double) -> [UInt8] {
        (0..<65536).map { i in
            UInt8((alpha * Double(i >> 8) + (1 - alpha) * Double(i & 255) + 0.5).rounded(.down))
        }
    }

    /// The per-pixel scalar composite: the reference `composite` is checked against, and the
    /// benchmark's "before" (`explainable-vit-bench --postprocess --reference`).
    @_spi(Reference)
    public static func referenceComposite(photo: RGBAImage, heatmap: Heatmap, alpha: Double = defaultAlpha) throws -> RGBAImage {
        guard heatmap.width == photo.width, heatmap.height == photo.height else {
            throw ExplainableViTError.image("heatmap \(heatmap.width)x\(heatmap.height) over a \(photo.width)x\(photo.height) photo; "
                                            + "resize it first (Heatmap.resized)")
        }
        let shown = ColourMap.stretch(heatmap.values)
        var out = photo.pixels
        for p in 0..<shown.count {
            let c = ColourMap.jet[ColourMap.jetIndex(shown[p])]
            for (k, channel) in [c.r, c.g, c.b].enumerated() {
                let blended = alpha * Double(channel) + (1 - alpha) * Double(photo.pixels[4 * p + k]) + 0.5
                out[4 * p + k] = UInt8(blended.rounded(.down))
            }
            out[4 * p + 3] = 255
        }
        return try RGBAImage(width: photo.width, height: photo.height, pixels: out, knownOpaque: true)
    }
}
