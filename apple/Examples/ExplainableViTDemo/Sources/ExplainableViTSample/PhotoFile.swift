#if canImport(CoreML) && canImport(ImageIO) && canImport(Combine)
import CoreGraphics
import ExplainableViT
import Foundation
import ImageIO

extension Photo {
    /// A photo file's first image as stored, with its EXIF orientation (`kCGImagePropertyOrientation`):
    /// what the Python runtime reads from the same file. Runs off the main actor (a 12 MP HEIC takes a while).
    static func decode(_ data: Data) async throws -> Photo {
        guard let source = CGImageSourceCreateWithData(data as CFData, nil),
              let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else {
            throw ExplainableViTError.image("the picked item is not an image ImageIO can read")
        }
        let properties = CGImageSourceCopyPropertiesAtIndex(source, 0, nil) as? [String: Any]
        let exif = properties?[kCGImagePropertyOrientation as String] as? UInt32
        return Photo(image: image, orientation: exif.flatMap(CGImagePropertyOrientation.init(rawValue:)) ?? .up)
    }
}
#endif
