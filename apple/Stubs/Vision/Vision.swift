// Linux-only stand-in for Apple's Vision (see apple/Stubs/README.md): what the package's glue uses.
import Foundation

/// `VNImageCropAndScaleOption` (`enum VNImageCropAndScaleOption: UInt`, raw values as in the SDK).
public enum VNImageCropAndScaleOption: UInt, Sendable {
    case centerCrop = 0
    case scaleFit = 1
    case scaleFill = 2
    case scaleFitRotate90CCW = 0x101
    case scaleFillRotate90CCW = 0x102
}
