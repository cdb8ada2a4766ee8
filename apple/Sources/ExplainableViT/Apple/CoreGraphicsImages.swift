#if canImport(CoreGraphics)
import CoreGraphics
import Foundation

extension RGBAImage {
    /// A CGImage's stored pixels, straight (not premultiplied) alpha, as Pillow decodes a file: no
    /// colour matching (Pillow ignores embedded profiles) and no orientation (a CGImage carries none;
    /// pass it to `PreparedImage`). 8-bit RGB layouts are read byte for byte; any other (16-bit,
    /// float, grey, CMYK, indexed) is drawn into 8-bit sRGB first, which is not byte-exact.
    /// Premultiplied pixels are un-premultiplied as Pillow does (exact where alpha is 0 or 255).
    public init(_ image: CGImage) throws {
        let width = image.width, height = image.height
        guard width > 0, height > 0 else { throw ExplainableViTError.image("an empty \(width)x\(height) CGImage") }
        if let layout = ByteLayout(image), let data = image.dataProvider?.data,
           CFDataGetLength(data) >= image.bytesPerRow * (height - 1) + width * layout.bytesPerPixel {
            self = try layout.read(CFDataGetBytePtr(data), width: width, height: height, bytesPerRow: image.bytesPerRow)
        } else {
            self = try Self.drawn(image)
        }
    }

    /// Drawn into premultiplied 8-bit sRGB (Core Graphics has no straight-alpha bitmap), then un-premultiplied.
    private static func drawn(_ image: CGImage) throws -> RGBAImage {
        let width = image.width, height = image.height
        guard let space = CGColorSpace(name: CGColorSpace.sRGB) else { throw ExplainableViTError.image("no sRGB colour space") }
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        let drawn = pixels.withUnsafeMutableBytes { buffer -> Bool in
            guard let context = CGContext(data: buffer.baseAddress, width: width, height: height, bitsPerComponent: 8,
                                          bytesPerRow: width * 4, space: space,
                                          bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue) else { return false }
            context.draw(image, in: CGRect(x: 0, y: 0, width: width, height: height))
            return true
        }
        guard drawn else { throw ExplainableViTError.image("could not draw a \(width)x\(height) CGImage") }
        // A source without alpha (a grey or CMYK JPEG) covers the whole context: read as RGB, known opaque.
        let info = image.alphaInfo, opaque = info == .none || info == .noneSkipFirst || info == .noneSkipLast
        let layout = opaque ? ByteLayout(bytesPerPixel: 4, red: 0, green: 1, blue: 2, alpha: nil, premultiplied: false)
                            : ByteLayout.rgba(premultiplied: true)
        return try layout.read(pixels, width: width, height: height, bytesPerRow: width * 4)
    }

    /// These pixels as an opaque sRGB CGImage (alpha ignored: explanations are opaque).
    public func cgImage() throws -> CGImage {
        guard let space = CGColorSpace(name: CGColorSpace.sRGB),
              let context = CGContext(data: nil, width: width, height: height, bitsPerComponent: 8, bytesPerRow: 0,
                                      space: space, bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue),
              let destination = context.data
        else { throw ExplainableViTError.image("could not make a \(width)x\(height) bitmap context") }
        let rowBytes = width * 4, stride = context.bytesPerRow  // Core Graphics may pad its rows
        pixels.withUnsafeBytes { source in
            for row in 0..<height {
                (destination + row * stride).copyMemory(from: source.baseAddress! + row * rowBytes, byteCount: rowBytes)
            }
        }
        guard let image = context.makeImage() else { throw ExplainableViTError.image("could not make a \(width)x\(height) CGImage") }
        return image
    }
}

/// Where R, G, B and alpha sit in one pixel of an 8-bit buffer.
struct ByteLayout {
    let bytesPerPixel: Int
    let red: Int, green: Int, blue: Int
    let alpha: Int?  // nil: opaque (none or skip)
    let premultiplied: Bool

    static func rgba(premultiplied: Bool) -> ByteLayout {
        ByteLayout(bytesPerPixel: 4, red: 0, green: 1, blue: 2, alpha: 3, premultiplied: premultiplied)
    }

    /// The layout of an 8-bit RGB CGImage, nil for any other.
    init?(_ image: CGImage) {
        guard image.bitsPerComponent == 8, image.colorSpace?.model == .rgb,
              !image.bitmapInfo.contains(.floatComponents) else { return nil }
        let info = image.alphaInfo
        let premultiplied = info == .premultipliedFirst || info == .premultipliedLast
        let hasAlpha = premultiplied || info == .first || info == .last
        let alphaFirst = info == .premultipliedFirst || info == .first || info == .noneSkipFirst
        switch (image.bitsPerPixel, image.byteOrderInfo) {
        case (24, .orderDefault) where info == .none:
            self.init(bytesPerPixel: 3, red: 0, green: 1, blue: 2, alpha: nil, premultiplied: false)
        case (32, .orderDefault), (32, .order32Big):  // memory order as named: ARGB or RGBA
            self.init(bytesPerPixel: 4, red: alphaFirst ? 1 : 0, green: alphaFirst ? 2 : 1, blue: alphaFirst ? 3 : 2,
                      alpha: hasAlpha ? (alphaFirst ? 0 : 3) : nil, premultiplied: premultiplied)
        case (32, .order32Little):  // reversed: BGRA or ABGR
            self.init(bytesPerPixel: 4, red: alphaFirst ? 2 : 3, green: alphaFirst ? 1 : 2, blue: alphaFirst ? 0 : 1,
                      alpha: hasAlpha ? (alphaFirst ? 3 : 0) : nil, premultiplied: premultiplied)
        default:
            return nil
        }
    }

    init(bytesPerPixel: Int, red: Int, green: Int, blue: Int, alpha: Int?, premultiplied: Bool) {
        (self.bytesPerPixel, self.red, self.green, self.blue, self.alpha, self.premultiplied) =
            (bytesPerPixel, red, green, blue, alpha, premultiplied)
    }

    /// Rows of `bytesPerRow` bytes (padding skipped) -> straight-alpha RGBA.
    func read(_ bytes: UnsafePointer<UInt8>, width: Int, height: Int, bytesPerRow: Int) throws -> RGBAImage {
        var out = [UInt8](repeating: 255, count: width * height * 4)
        for y in 0..<height {
            for x in 0..<width {
                let p = bytes + y * bytesPerRow + x * bytesPerPixel, o = 4 * (y * width + x)
                (out[o], out[o + 1], out[o + 2]) = (p[red], p[green], p[blue])
                if let alpha { out[o + 3] = p[alpha] }
            }
        }
        // No alpha in the layout (none or skip: a JPEG, a camera frame): every alpha is the 255 written above.
        let image = try RGBAImage(width: width, height: height, pixels: out, knownOpaque: alpha == nil)
        return premultiplied ? image.unpremultiplied() : image
    }

    func read(_ bytes: [UInt8], width: Int, height: Int, bytesPerRow: Int) throws -> RGBAImage {
        try bytes.withUnsafeBufferPointer { try read($0.baseAddress!, width: width, height: height, bytesPerRow: bytesPerRow) }
    }
}

extension Explanation {
    /// The overlay as a CGImage at the photo's size, ready for `Image(decorative:scale:)` or a layer.
    public var overlayImage: CGImage? { try? overlay.cgImage() }
}
#endif
