// Linux-only stand-in for Apple's CoreVideo (see apple/Stubs/README.md): the pixel-buffer calls the
// glue uses for camera frames and for feeding Core ML, with Apple's signatures.
import CoreGraphics

/// MacTypes `OSType` (a four-character code).
public typealias OSType = UInt32
/// `CVReturn` (`kCVReturnSuccess` is 0).
public typealias CVReturn = Int32
/// `kCVReturnSuccess`
public let kCVReturnSuccess: CVReturn = 0
/// `CVOptionFlags`
public typealias CVOptionFlags = UInt64

/// `CVBuffer` (a CoreFoundation type; not Sendable in the SDK).
public class CVBuffer {
    private init() {}
}
/// `CVImageBuffer`
public typealias CVImageBuffer = CVBuffer
/// `CVPixelBuffer`
public typealias CVPixelBuffer = CVImageBuffer

/// `kCVPixelFormatType_32BGRA` ('BGRA')
public let kCVPixelFormatType_32BGRA: OSType = 0x4247_5241
/// `kCVPixelFormatType_32ARGB` (0x20)
public let kCVPixelFormatType_32ARGB: OSType = 0x0000_0020
/// `kCVPixelFormatType_32RGBA` ('RGBA')
public let kCVPixelFormatType_32RGBA: OSType = 0x5247_4241

/// `CVPixelBufferLockFlags`
public struct CVPixelBufferLockFlags: OptionSet, Sendable {
    public let rawValue: CVOptionFlags
    public init(rawValue: CVOptionFlags) { self.rawValue = rawValue }
    /// `CVPixelBufferLockFlags.readOnly`
    public static let readOnly = CVPixelBufferLockFlags(rawValue: 1)
}

/// `func CVPixelBufferCreate(_ allocator: CFAllocator?, _ width: Int, _ height: Int, _ pixelFormatType: OSType, _ pixelBufferAttributes: CFDictionary?, _ pixelBufferOut: UnsafeMutablePointer<CVPixelBuffer?>) -> CVReturn`
public func CVPixelBufferCreate(_ allocator: CFAllocator?, _ width: Int, _ height: Int, _ pixelFormatType: OSType,
                                _ pixelBufferAttributes: CFDictionary?,
                                _ pixelBufferOut: UnsafeMutablePointer<CVPixelBuffer?>) -> CVReturn { AppleStub.unavailable() }
/// `func CVPixelBufferLockBaseAddress(_ pixelBuffer: CVPixelBuffer, _ lockFlags: CVPixelBufferLockFlags) -> CVReturn`
public func CVPixelBufferLockBaseAddress(_ pixelBuffer: CVPixelBuffer, _ lockFlags: CVPixelBufferLockFlags) -> CVReturn {
    AppleStub.unavailable()
}
/// `func CVPixelBufferUnlockBaseAddress(_ pixelBuffer: CVPixelBuffer, _ unlockFlags: CVPixelBufferLockFlags) -> CVReturn`
public func CVPixelBufferUnlockBaseAddress(_ pixelBuffer: CVPixelBuffer, _ unlockFlags: CVPixelBufferLockFlags) -> CVReturn {
    AppleStub.unavailable()
}
/// `func CVPixelBufferGetBaseAddress(_ pixelBuffer: CVPixelBuffer) -> UnsafeMutableRawPointer?`
public func CVPixelBufferGetBaseAddress(_ pixelBuffer: CVPixelBuffer) -> UnsafeMutableRawPointer? { AppleStub.unavailable() }
/// `func CVPixelBufferGetWidth(_ pixelBuffer: CVPixelBuffer) -> Int`
public func CVPixelBufferGetWidth(_ pixelBuffer: CVPixelBuffer) -> Int { AppleStub.unavailable() }
/// `func CVPixelBufferGetHeight(_ pixelBuffer: CVPixelBuffer) -> Int`
public func CVPixelBufferGetHeight(_ pixelBuffer: CVPixelBuffer) -> Int { AppleStub.unavailable() }
/// `func CVPixelBufferGetBytesPerRow(_ pixelBuffer: CVPixelBuffer) -> Int`
public func CVPixelBufferGetBytesPerRow(_ pixelBuffer: CVPixelBuffer) -> Int { AppleStub.unavailable() }
/// `func CVPixelBufferGetPixelFormatType(_ pixelBuffer: CVPixelBuffer) -> OSType`
public func CVPixelBufferGetPixelFormatType(_ pixelBuffer: CVPixelBuffer) -> OSType { AppleStub.unavailable() }
