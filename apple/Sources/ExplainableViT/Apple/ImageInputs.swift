// The image path's entry points for Apple's image types: each hands the stored pixels and their
// orientation to `PreparedImage`, which caps, turns upright, composites on white and resizes to the
// model input exactly as the Python runtime does. CGImage and CVPixelBuffer are compiled on Linux
// against apple/Stubs; UIImage and NSImage only where UIKit / AppKit exist (no stubs: not compiled here).
#if canImport(CoreGraphics) && canImport(ImageIO) && canImport(CoreVideo)
import CoreGraphics
import CoreVideo
import ImageIO

extension ImageOrientation {
    /// The same orientation (ImageIO numbers it as EXIF does).
    public init(_ orientation: CGImagePropertyOrientation) {
        self = ImageOrientation(rawValue: Int(orientation.rawValue)) ?? .up
    }
}

extension PreparedImage {
    /// A CGImage as stored (for a file: `CGImageSourceCreateImageAtIndex`) with its orientation
    /// (`kCGImagePropertyOrientation` of `CGImageSourceCopyPropertiesAtIndex`).
    public init(_ image: CGImage, orientation: CGImagePropertyOrientation = .up, metadata: ModelMetadata,
                maxSide: Int = ImagePreprocessing.maxSide) throws {
        try self.init(RGBAImage(image), orientation: ImageOrientation(orientation), metadata: metadata, maxSide: maxSide)
    }

    /// A camera frame (32BGRA, 32ARGB or 32RGBA; set the capture output's `kCVPixelBufferPixelFormatTypeKey`
    /// to `kCVPixelFormatType_32BGRA`) with the orientation that makes it upright (back camera in
    /// portrait: `.right`).
    public init(_ pixelBuffer: CVPixelBuffer, orientation: CGImagePropertyOrientation = .up, metadata: ModelMetadata,
                maxSide: Int = ImagePreprocessing.maxSide) throws {
        try self.init(RGBAImage(pixelBuffer), orientation: ImageOrientation(orientation), metadata: metadata, maxSide: maxSide)
    }
}

extension RGBAImage {
    /// A pixel buffer's pixels (opaque: camera frames carry no meaningful alpha).
    public init(_ pixelBuffer: CVPixelBuffer) throws {
        let format = CVPixelBufferGetPixelFormatType(pixelBuffer)
        let layouts: [OSType: ByteLayout] = [
            kCVPixelFormatType_32BGRA: ByteLayout(bytesPerPixel: 4, red: 2, green: 1, blue: 0, alpha: nil, premultiplied: false),
            kCVPixelFormatType_32ARGB: ByteLayout(bytesPerPixel: 4, red: 1, green: 2, blue: 3, alpha: nil, premultiplied: false),
            kCVPixelFormatType_32RGBA: ByteLayout(bytesPerPixel: 4, red: 0, green: 1, blue: 2, alpha: nil, premultiplied: false),
        ]
        guard let layout = layouts[format] else {
            throw ExplainableViTError.image("pixel format \(format) (32BGRA, 32ARGB or 32RGBA are read; ask the camera for 32BGRA)")
        }
        guard CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly) == kCVReturnSuccess else {
            throw ExplainableViTError.image("could not lock the pixel buffer")
        }
        defer { _ = CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
        guard let base = CVPixelBufferGetBaseAddress(pixelBuffer) else { throw ExplainableViTError.image("a pixel buffer without memory") }
        self = try layout.read(base.assumingMemoryBound(to: UInt8.self), width: CVPixelBufferGetWidth(pixelBuffer),
                               height: CVPixelBufferGetHeight(pixelBuffer), bytesPerRow: CVPixelBufferGetBytesPerRow(pixelBuffer))
    }

    /// These pixels as a 32BGRA pixel buffer: the model input handed to Core ML as is (no scaling,
    /// no colour matching).
    public func pixelBuffer() throws -> CVPixelBuffer {
        var made: CVPixelBuffer?
        guard CVPixelBufferCreate(nil, width, height, kCVPixelFormatType_32BGRA, nil, &made) == kCVReturnSuccess,
              let buffer = made, CVPixelBufferLockBaseAddress(buffer, []) == kCVReturnSuccess else {
            throw ExplainableViTError.image("could not make a \(width)x\(height) pixel buffer")
        }
        defer { _ = CVPixelBufferUnlockBaseAddress(buffer, []) }
        guard let base = CVPixelBufferGetBaseAddress(buffer) else { throw ExplainableViTError.image("a pixel buffer without memory") }
        let rowBytes = CVPixelBufferGetBytesPerRow(buffer), out = base.assumingMemoryBound(to: UInt8.self)
        for y in 0..<height {
            for x in 0..<width {
                let p = 4 * (y * width + x), o = y * rowBytes + 4 * x
                (out[o], out[o + 1], out[o + 2], out[o + 3]) = (pixels[p + 2], pixels[p + 1], pixels[p], 255)
            }
        }
        return buffer
    }
}
#endif

#if canImport(UIKit)
import UIKit

extension PreparedImage {
    /// A UIImage with its `imageOrientation` (its `cgImage` is the stored pixels). A UIImage backed
    /// by a CIImage only is refused: render it to a CGImage first.
    public init(_ image: UIImage, metadata: ModelMetadata, maxSide: Int = ImagePreprocessing.maxSide) throws {
        guard let cgImage = image.cgImage else { throw ExplainableViTError.image("a UIImage without a CGImage") }
        try self.init(cgImage, orientation: CGImagePropertyOrientation(image.imageOrientation), metadata: metadata, maxSide: maxSide)
    }
}

extension CGImagePropertyOrientation {
    /// UIKit's numbering (up = 0, ...) to ImageIO's (EXIF's, up = 1, ...).
    public init(_ orientation: UIImage.Orientation) {
        switch orientation {
        case .up: self = .up
        case .upMirrored: self = .upMirrored
        case .down: self = .down
        case .downMirrored: self = .downMirrored
        case .left: self = .left
        case .leftMirrored: self = .leftMirrored
        case .right: self = .right
        case .rightMirrored: self = .rightMirrored
        @unknown default: self = .up
        }
    }
}
#endif

#if canImport(AppKit) && !targetEnvironment(macCatalyst)
import AppKit

extension PreparedImage {
    /// An NSImage as AppKit draws it: its best CGImage, taken as upright (NSImage has no
    /// orientation property). For a file with an EXIF orientation, read it with ImageIO and pass
    /// the CGImage and its orientation instead, which is what the Python runtime does.
    public init(_ image: NSImage, metadata: ModelMetadata, maxSide: Int = ImagePreprocessing.maxSide) throws {
        var rect = CGRect(origin: .zero, size: image.size)
        guard let cgImage = image.cgImage(forProposedRect: &rect, context: nil, hints: nil) else {
            throw ExplainableViTError.image("an NSImage without a CGImage")
        }
        try self.init(cgImage, orientation: .up, metadata: metadata, maxSide: maxSide)
    }
}
#endif
