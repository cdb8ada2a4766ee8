// Image files (JPEG, HEIC, PNG, ...) read with ImageIO as the Python runtime reads them: the first
// image as stored plus its EXIF orientation, which `PreparedImage` then applies.
#if canImport(CoreGraphics) && canImport(ImageIO)
import CoreGraphics
import Foundation
import ImageIO

/// An image file's first image as stored, with the orientation that stands it upright
/// (`kCGImagePropertyOrientation`, up when the file has none). What `ExplainableClassifier.explain` takes.
public struct StoredImage: Sendable {
    public let image: CGImage
    public let orientation: CGImagePropertyOrientation

    public init(image: CGImage, orientation: CGImagePropertyOrientation = .up) {
        self.image = image
        self.orientation = orientation
    }

    /// A file's bytes (a photo picker's `Data`, a download). Decoding a 12 MP photo takes a while: call it off the main actor.
    public init(fileData data: Data) throws {
        guard let source = CGImageSourceCreateWithData(data as CFData, nil) else {
            throw ExplainableViTError.image("\(data.count) bytes that are not an image file ImageIO can read")
        }
        try self.init(source, named: "the image data")
    }

    /// A file on disk.
    public init(contentsOf url: URL) throws {
        guard let source = CGImageSourceCreateWithURL(url as CFURL, nil) else {
            throw ExplainableViTError.image("\(url.lastPathComponent) is not an image file ImageIO can read")
        }
        try self.init(source, named: url.lastPathComponent)
    }

    private init(_ source: CGImageSource, named name: String) throws {
        guard CGImageSourceGetCount(source) > 0, let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else {
            throw ExplainableViTError.image("\(name) holds no image ImageIO can decode")
        }
        let properties = CGImageSourceCopyPropertiesAtIndex(source, 0, nil) as? [String: Any]
        let exif = properties?[kCGImagePropertyOrientation as String] as? UInt32
        self.init(image: image, orientation: exif.flatMap(CGImagePropertyOrientation.init(rawValue:)) ?? .up)
    }
}

extension PreparedImage {
    /// An image file's pixels, turned upright by its EXIF orientation, capped, composited and resized as in Python.
    public init(_ stored: StoredImage, metadata: ModelMetadata, maxSide: Int = ImagePreprocessing.maxSide) throws {
        try self.init(stored.image, orientation: stored.orientation, metadata: metadata, maxSide: maxSide)
    }
}
#endif
