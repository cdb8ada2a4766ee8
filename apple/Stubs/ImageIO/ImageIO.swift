// Linux-only stand-in for Apple's ImageIO (see apple/Stubs/README.md): the declarations the glue
// uses, with Apple's signatures; the orientation's raw values are the EXIF orientation tag's.
import CoreGraphics
import Foundation

/// `enum CGImagePropertyOrientation: UInt32` (ImageIO's CGImageProperties.h).
public enum CGImagePropertyOrientation: UInt32, Sendable {
    case up = 1, upMirrored, down, downMirrored, leftMirrored, right, rightMirrored, left
}

/// CoreFoundation's `CFURL` (toll-free bridged with `NSURL`, so `url as CFURL` type-checks as on Apple's systems)
public typealias CFURL = NSURL

/// `CGImageSource` (a CoreFoundation type; not Sendable in the SDK)
public final class CGImageSource {
    private init() {}
}

/// `func CGImageSourceCreateWithData(_ data: CFData, _ options: CFDictionary?) -> CGImageSource?`
public func CGImageSourceCreateWithData(_ data: CFData, _ options: CFDictionary?) -> CGImageSource? { AppleStub.unavailable() }

/// `func CGImageSourceCreateWithURL(_ url: CFURL, _ options: CFDictionary?) -> CGImageSource?`
public func CGImageSourceCreateWithURL(_ url: CFURL, _ options: CFDictionary?) -> CGImageSource? { AppleStub.unavailable() }

/// `func CGImageSourceGetCount(_ isrc: CGImageSource) -> Int`
public func CGImageSourceGetCount(_ isrc: CGImageSource) -> Int { AppleStub.unavailable() }

/// `func CGImageSourceCreateImageAtIndex(_ isrc: CGImageSource, _ index: Int, _ options: CFDictionary?) -> CGImage?`
public func CGImageSourceCreateImageAtIndex(_ isrc: CGImageSource, _ index: Int, _ options: CFDictionary?) -> CGImage? {
    AppleStub.unavailable()
}

/// `func CGImageSourceCopyPropertiesAtIndex(_ isrc: CGImageSource, _ index: Int, _ options: CFDictionary?) -> CFDictionary?`
public func CGImageSourceCopyPropertiesAtIndex(_ isrc: CGImageSource, _ index: Int, _ options: CFDictionary?) -> CFDictionary? {
    AppleStub.unavailable()
}

/// `let kCGImagePropertyOrientation: CFString`
public nonisolated(unsafe) let kCGImagePropertyOrientation: CFString = NSString(string: "Orientation")  // a C constant in the SDK
