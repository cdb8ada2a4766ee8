// Linux-only stand-in for Apple's ImageIO (see apple/Stubs/README.md): the orientation type the
// glue takes, with Apple's raw values (the EXIF orientation tag's).

/// `enum CGImagePropertyOrientation: UInt32` (ImageIO's CGImageProperties.h).
public enum CGImagePropertyOrientation: UInt32, Sendable {
    case up = 1, upMirrored, down, downMirrored, leftMirrored, right, rightMirrored, left
}
