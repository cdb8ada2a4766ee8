/// 8-bit RGBA pixels, row-major, 4 bytes per pixel, not premultiplied.
public struct RGBAImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 4 else {
            throw ExplainableViTError.image("\(pixels.count) bytes for \(width)x\(height) RGBA")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
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
        try self.init(width: width, height: height, pixels: pixels)
    }
}

public enum Overlay {
    /// Weight of the colour map over the photo in the pictures (`xai.plots.OVERLAY_ALPHA`).
    public static let defaultAlpha = 0.5

    /// The photo with the heatmap (at the photo's size) drawn over it as `xai.plots.overlay_pixels`
    /// does: stretched, coloured with jet, `alpha * colour + (1 - alpha) * photo` rounded half up; opaque.
    public static func composite(photo: RGBAImage, heatmap: Heatmap, alpha: Double = defaultAlpha) throws -> RGBAImage {
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
        return try RGBAImage(width: photo.width, height: photo.height, pixels: out)
    }
}
