#if canImport(CoreGraphics)
import CoreGraphics
import Foundation

extension RGBAImage {
    /// A CGImage's pixels in sRGB, transparency composited on white (as `runtime` loads photos).
    /// The image must be upright: a CGImage carries no orientation.
    public init(_ image: CGImage) throws {
        let width = image.width, height = image.height
        guard width > 0, height > 0 else { throw ExplainableViTError.image("an empty \(width)x\(height) CGImage") }
        guard let space = CGColorSpace(name: CGColorSpace.sRGB) else { throw ExplainableViTError.image("no sRGB colour space") }
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        // 8-bit RGBX, default byte order: R, G, B, X in memory, top row first.
        let drawn = pixels.withUnsafeMutableBytes { buffer -> Bool in
            guard let context = CGContext(data: buffer.baseAddress, width: width, height: height, bitsPerComponent: 8,
                                          bytesPerRow: width * 4, space: space,
                                          bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue) else { return false }
            let rect = CGRect(x: 0, y: 0, width: width, height: height)
            context.setFillColor(CGColor(red: 1, green: 1, blue: 1, alpha: 1))
            context.fill(rect)
            context.draw(image, in: rect)
            return true
        }
        guard drawn else { throw ExplainableViTError.image("could not draw a \(width)x\(height) CGImage") }
        for p in 0..<(width * height) { pixels[4 * p + 3] = 255 }
        try self.init(width: width, height: height, pixels: pixels)
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

extension Explanation {
    /// The overlay as a CGImage at the photo's size, ready for `Image(decorative:scale:)` or a layer.
    public var overlayImage: CGImage? { try? overlay.cgImage() }
}
#endif
