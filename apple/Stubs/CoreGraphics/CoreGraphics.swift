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

// CoreFoundation's toll-free bridged types, as the Foundation classes they bridge to on Apple's
// systems, so the glue's bridging casts (`data as CFData`, `kCGImagePropertyOrientation as String`,
// `properties as? [String: Any]`) type-check here exactly as written for the SDK.
/// CoreFoundation's `CFString` (re-exported by CoreGraphics; toll-free bridged with `NSString`)
public typealias CFString = NSString
/// CoreFoundation's `CFData` (re-exported by CoreGraphics; toll-free bridged with `NSData`)
public typealias CFData = NSData
/// CoreFoundation's `CFDictionary` (toll-free bridged with `NSDictionary`)
public typealias CFDictionary = NSDictionary
/// CoreFoundation's `CFIndex`
public typealias CFIndex = Int
/// `func CFDataGetBytePtr(_ theData: CFData!) -> UnsafePointer<UInt8>!`
public func CFDataGetBytePtr(_ theData: CFData!) -> UnsafePointer<UInt8>! { AppleStub.unavailable() }
/// `func CFDataGetLength(_ theData: CFData!) -> CFIndex`
public func CFDataGetLength(_ theData: CFData!) -> CFIndex { AppleStub.unavailable() }
/// CoreFoundation's `CFAllocator` (used as nil: the default allocator).
public final class CFAllocator {
    private init() {}
}

/// `CGDataProvider` (Sendable in the SDK).
public final class CGDataProvider: Sendable {
    private init() {}
    /// `var data: CFData? { get }`
    public var data: CFData? { AppleStub.unavailable() }
}

/// `enum CGColorSpaceModel: Int32`
public enum CGColorSpaceModel: Int32, Sendable {
    case unknown = -1, monochrome, rgb, cmyk, lab, deviceN, indexed, pattern, XYZ
}

/// `struct CGBitmapInfo: OptionSet` (the flags the glue reads).
public struct CGBitmapInfo: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `CGBitmapInfo.floatComponents`
    public static let floatComponents = CGBitmapInfo(rawValue: 1 << 8)
}

/// `enum CGImageByteOrderInfo: UInt32`
public enum CGImageByteOrderInfo: UInt32, Sendable {
    case orderMask = 0x7000, orderDefault = 0, order16Little = 0x1000, order32Little = 0x2000
    case order16Big = 0x3000, order32Big = 0x4000
}

/// `CGColorSpace` (Sendable in the SDK).
public final class CGColorSpace: Sendable {
    /// `var model: CGColorSpaceModel { get }`
    public var model: CGColorSpaceModel { AppleStub.unavailable() }
    /// `CGColorSpace.sRGB`
    public nonisolated(unsafe) static let sRGB: CFString = NSString(string: "kCGColorSpaceSRGB")  // a C constant in the SDK
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
    /// `var bitsPerComponent: Int { get }`
    public var bitsPerComponent: Int { AppleStub.unavailable() }
    /// `var bitsPerPixel: Int { get }`
    public var bitsPerPixel: Int { AppleStub.unavailable() }
    /// `var bytesPerRow: Int { get }`
    public var bytesPerRow: Int { AppleStub.unavailable() }
    /// `var alphaInfo: CGImageAlphaInfo { get }`
    public var alphaInfo: CGImageAlphaInfo { AppleStub.unavailable() }
    /// `var bitmapInfo: CGBitmapInfo { get }`
    public var bitmapInfo: CGBitmapInfo { AppleStub.unavailable() }
    /// `var byteOrderInfo: CGImageByteOrderInfo { get }` (iOS 12, macOS 10.14)
    public var byteOrderInfo: CGImageByteOrderInfo { AppleStub.unavailable() }
    /// `var colorSpace: CGColorSpace? { get }`
    public var colorSpace: CGColorSpace? { AppleStub.unavailable() }
    /// `var dataProvider: CGDataProvider? { get }`
    public var dataProvider: CGDataProvider? { AppleStub.unavailable() }
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
