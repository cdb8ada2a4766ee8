// Linux-only stand-in for Apple's CoreGraphics (see apple/Stubs/README.md): the declarations the
// package's glue uses, with Apple's signatures, so the glue is type- and concurrency-checked here.
// Geometry (CGFloat, CGPoint, CGSize, CGRect) is Foundation's on Linux: a file using it imports Foundation.
import Foundation

/// Traps: a stub has no Core Graphics / Core ML runtime behind it.
public enum AppleStub {
    public static func unavailable(_ symbol: String = #function) -> Never {
        fatalError("\(symbol): Apple framework stub (Linux type-checking only); run on macOS or iOS")
    }
}

/// CoreFoundation's `CFString` (re-exported by CoreGraphics); immutable, as `NSString` is.
public final class CFString: Sendable {
    let value: String
    init(_ value: String) { self.value = value }
}

/// `CGColorSpace` (Sendable in the SDK).
public final class CGColorSpace: Sendable {
    /// `CGColorSpace.sRGB`
    public static let sRGB = CFString("kCGColorSpaceSRGB")
    /// `init?(name: CFString)`
    public init?(name: CFString) { AppleStub.unavailable() }
}

/// `CGColor` (Sendable in the SDK).
public final class CGColor: Sendable {
    /// `init(red:green:blue:alpha:)`
    public init(red: CGFloat, green: CGFloat, blue: CGFloat, alpha: CGFloat) { AppleStub.unavailable() }
}

/// `CGImage` (Sendable in the SDK: immutable).
public final class CGImage: Sendable {
    private init() {}
    /// `var width: Int { get }`
    public var width: Int { AppleStub.unavailable() }
    /// `var height: Int { get }`
    public var height: Int { AppleStub.unavailable() }
}

/// `CGImageAlphaInfo` (`enum CGImageAlphaInfo: UInt32`).
public enum CGImageAlphaInfo: UInt32, Sendable {
    case none = 0, premultipliedLast, premultipliedFirst, last, first, noneSkipLast, noneSkipFirst, alphaOnly
}

/// `CGContext` (not Sendable: a drawing destination with mutable state).
public final class CGContext {
    /// `init?(data:width:height:bitsPerComponent:bytesPerRow:space:bitmapInfo:)`
    public init?(data: UnsafeMutableRawPointer?, width: Int, height: Int, bitsPerComponent: Int, bytesPerRow: Int,
                 space: CGColorSpace, bitmapInfo: UInt32) { AppleStub.unavailable() }
    /// `var data: UnsafeMutableRawPointer? { get }`
    public var data: UnsafeMutableRawPointer? { AppleStub.unavailable() }
    /// `var bytesPerRow: Int { get }`
    public var bytesPerRow: Int { AppleStub.unavailable() }
    /// `func setFillColor(_ color: CGColor)`
    public func setFillColor(_ color: CGColor) { AppleStub.unavailable() }
    /// `func fill(_ rect: CGRect)`
    public func fill(_ rect: CGRect) { AppleStub.unavailable() }
    /// `func draw(_ image: CGImage, in rect: CGRect, byTiling: Bool = false)`
    public func draw(_ image: CGImage, in rect: CGRect, byTiling: Bool = false) { AppleStub.unavailable() }
    /// `func makeImage() -> CGImage?`
    public func makeImage() -> CGImage? { AppleStub.unavailable() }
}
