import Foundation
import XCTest
@_spi(Reference) @testable import ExplainableViT

/// The display-size path: the fast passes give exactly what the scalar reference passes give, the
/// Explainer caps the photo with the image path's own cap (Pillow's `thumbnail`, reduce step included).
final class DisplayTests: XCTestCase {
    /// A deterministic, non-square test pattern (no flat regions, every channel different).
    static func photo(width: Int, height: Int, alpha: Bool = false) throws -> RGBAImage {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                pixels += [UInt8((x * 37 + y * 91) % 256), UInt8((x * x * 13 + y * 7) % 256), UInt8((255 - x * 29 - y * 17) & 255),
                           alpha ? UInt8((x * 50 + y * 30) % 256) : 255]
            }
        }
        return try RGBAImage(width: width, height: height, pixels: pixels)
    }

    static func grid(rows: Int, columns: Int, seed: UInt64 = 7) throws -> Heatmap {
        var state = seed
        let values = (0..<(rows * columns)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        return try Heatmap(width: columns, height: rows, values: values)
    }

    func testSizesAreThumbnails() {
        // Pillow 13's `Image.thumbnail((2048, 2048))` on these sizes
        let cases: [((Int, Int), (Int, Int))] = [((4032, 3024), (2048, 1536)), ((3024, 4032), (1536, 2048)),
                                                 ((4000, 3001), (2048, 1537)), ((2049, 7), (2048, 7)), ((5, 3000), (3, 2048)),
                                                 ((2048, 2048), (2048, 2048)), ((4097, 4096), (2048, 2048)), ((40, 30), (40, 30))]
        for (size, expected) in cases {
            let got = ImagePreprocessing.thumbnailSize(width: size.0, height: size.1, maxSide: 2048) ?? size
            XCTAssert(got == expected, "\(size): \(got), Pillow \(expected)")
        }
    }

    func testUpsamplingEqualsTheReferenceOnNonSquareGrids() throws {
        let sizes = [(37, 23), (23, 37), (6, 9), (3, 2), (4, 6), (1, 1), (160, 120)]
        for (rows, columns) in [(4, 6), (6, 4), (1, 3)] {
            let grid = try Self.grid(rows: rows, columns: columns)
            for (w, h) in sizes {
                XCTAssertEqual(try grid.resized(width: w, height: h), try grid.referenceResized(width: w, height: h),
                               "grid \(rows)x\(columns) to \(w)x\(h)")
            }
        }
    }

    func testOverlayEqualsTheReference() throws {
        let photo = try Self.photo(width: 37, height: 23)
        let map = try Self.grid(rows: 4, columns: 6).resized(width: 37, height: 23)
        for alpha in [0.5, 0.3, 1] {
            XCTAssertEqual(try Overlay.composite(photo: photo, heatmap: map, alpha: alpha),
                           try Overlay.referenceComposite(photo: photo, heatmap: map, alpha: alpha), "alpha \(alpha)")
        }
        let flat = try Heatmap(width: 37, height: 23, values: [Float](repeating: 0.5, count: 37 * 23))
        XCTAssertEqual(try Overlay.composite(photo: photo, heatmap: flat), try Overlay.referenceComposite(photo: photo, heatmap: flat))
        XCTAssertThrowsError(try Overlay.composite(photo: photo, heatmap: try Self.grid(rows: 4, columns: 6)))
    }

    func testPhotoReductionIsPillowsBilinear() throws {
        // Pillow 13: `Image.fromarray(<the 7x5 pattern>).resize(size, Image.Resampling.BILINEAR)`, RGB bytes
        let expected: [(Int, Int, [UInt8])] = [
            (3, 2, [99, 24, 213, 129, 121, 151, 129, 157, 89, 106, 38, 179, 118, 135, 117, 128, 171, 55]),
            (7, 3, [39, 3, 248, 76, 16, 219, 113, 55, 190, 150, 120, 161, 187, 211, 132, 114, 72, 103, 151, 215, 74,
                    125, 14, 221, 162, 27, 192, 57, 66, 163, 94, 131, 134, 131, 222, 105, 111, 83, 76, 148, 226, 47,
                    69, 25, 194, 106, 38, 165, 143, 77, 136, 180, 142, 107, 71, 233, 78, 108, 94, 49, 145, 237, 20]),
            (4, 5, [19, 8, 240, 77, 62, 195, 145, 155, 141, 203, 151, 96, 110, 15, 223, 168, 69, 178, 185, 162,
                    124, 50, 158, 79, 189, 22, 206, 54, 76, 161, 71, 169, 107, 129, 165, 62, 36, 29, 189, 94, 83, 144,
                    162, 176, 90, 220, 172, 45, 127, 36, 172, 185, 90, 127, 69, 183, 73, 55, 179, 28]),
        ]
        let photo = try Self.photo(width: 7, height: 5)
        for (w, h, rgb) in expected {
            XCTAssertEqual(try ImagePreprocessing.resized(photo, width: w, height: h, filter: .bilinear),
                           try RGBAImage(width: w, height: h, rgb: rgb), "\(w)x\(h)")
        }
    }

    func testExplainerDrawsAtTheDisplaySizeAndMapsThePhoto() throws {
        let values = ["schema": "1", "labels": "[\"a\", \"b\"]", "grid": "[4, 6]", "image_size": "[32, 48]", "image_fit": "stretch",
                      "resample": "bilinear", "heatmap_output": "rollout", "heatmap_meaning": "m", "heatmap_display": "d",
                      "class_input": "", "special_tokens": "1", "source_sha256": "abc", "parity": "passed",
                      "toolkit_version": "0.1.0", "manifest": "{}"]
        let metadata = try ModelMetadata(userDefined: Dictionary(uniqueKeysWithValues: values.map { (ModelMetadata.prefix + $0.key, $0.value) }))
        let photo = try Self.photo(width: 60, height: 40)
        let grid = try Self.grid(rows: 4, columns: 6)
        let e = try Explainer(metadata: metadata, maxSide: 30).explanation(probabilities: [0.3, 0.7], grid: grid.values, photo: photo)
        XCTAssert((e.heatmap.width, e.heatmap.height, e.overlay.width, e.overlay.height) == (30, 20, 30, 20))
        XCTAssertEqual(e.geometry.photoSize, CGSize(width: 60, height: 40))
        let shown = try photo.referenceResampled(width: 30, height: 20, filter: .bilinear, channels: 3)
        XCTAssertEqual(e.overlay, try Overlay.referenceComposite(photo: shown, heatmap: try grid.referenceResized(width: 30, height: 20)))
        let full = try Explainer(metadata: metadata, maxSide: 60).explanation(probabilities: [0.3, 0.7], grid: grid.values, photo: photo)
        XCTAssert((full.overlay.width, full.overlay.height) == (60, 40))
        // Over four times the cap: Pillow's `thumbnail` box-reduces by whole factors first (reducing gap 2)
        let small = try Explainer(metadata: metadata, maxSide: 12).explanation(probabilities: [0.3, 0.7], grid: grid.values, photo: photo)
        let reduced = try photo.reduced(factorX: 2, factorY: 2).referenceResampled(width: 12, height: 8, filter: .bilinear,
                                                                                   box: (0, 0, 30, 20), channels: 3)
        XCTAssertEqual(small.overlay, try Overlay.referenceComposite(photo: reduced, heatmap: try grid.referenceResized(width: 12, height: 8)))
    }

    func testReduceIsPillows() throws {
        // Pillow 13: `Image.fromarray(<the 7x5 RGBA pattern>).convert("RGBa").reduce((3, 2))` (what `thumbnail`
        // reduces: the premultiplied image), partial blocks at the right and bottom
        let expected: [UInt8] = [28, 10, 51, 65, 120, 98, 90, 172, 28, 51, 17, 59, 40, 23, 86, 125, 44, 53, 45, 104,
                                 93, 107, 18, 119, 101, 36, 101, 170, 9, 36, 14, 64, 48, 154, 8, 164]
        let photo = try Self.photo(width: 7, height: 5, alpha: true).premultiplied()
        XCTAssertEqual(try photo.reduced(factorX: 3, factorY: 2).pixels, expected)
    }

    /// The fast passes (flattened taps, two samples per multiply, row bands) against the scalar ones,
    /// at sizes that split into bands: every filter (negative lobes included), RGB and RGBa, either
    /// pass order, a source box.
    func testResamplingEqualsTheReference() throws {
        let cases: [(Int, Int, (x0: Float, y0: Float, x1: Float, y1: Float)?)] = [
            (70, 130, nil),  // horizontal pass first, both passes over two bands
            (150, 40, nil),  // the height shrinks most: vertical first
            (230, 150, nil),  // enlarged
            (90, 135, (3.5, 2.25, 150.75, 139.5)),  // a box, as after a reduce
        ]
        for alpha in [false, true] {
            let photo = try Self.photo(width: 160, height: 140, alpha: alpha)
            for filter in ResampleFilter.allCases {
                for (w, h, box) in cases {
                    let channels = alpha ? 4 : 3
                    XCTAssertEqual(try photo.resampled(width: w, height: h, filter: filter, box: box, channels: channels),
                                   try photo.referenceResampled(width: w, height: h, filter: filter, box: box, channels: channels),
                                   "\(filter) \(w)x\(h) box \(String(describing: box)) channels \(channels)")
                }
            }
        }
    }

    /// The horizontal pass's two fast paths (one SIMD4 per pixel: optimized builds; two channels per
    /// UInt64 or four Int32 sums: debug builds) give the scalar pass's bytes for every filter,
    /// negative lobes included, RGB and RGBa, shrinking and enlarging.
    func testBothHorizontalPathsEqualTheScalarPass() throws {
        for alpha in [false, true] {
            let photo = try Self.photo(width: 150, height: 70, alpha: alpha), channels = alpha ? 4 : 3
            for filter in ResampleFilter.allCases {
                for outWidth in [61, 150, 233] {
                    let taps = ResampleTaps(inSize: 150, outSize: outWidth, filter: filter)
                    let scalar = PixelResampling.scalar(photo.pixels, inWidth: 150, outWidth: outWidth, outHeight: 70,
                                                        horizontal: true, taps: taps, channels: channels)
                    for vectorized in [true, false] {
                        XCTAssertEqual(PixelResampling.horizontal(photo.pixels, lines: 70, inWidth: 150, taps: taps,
                                                                  channels: channels, vectorized: vectorized),
                                       scalar, "\(filter) to \(outWidth) channels \(channels) vectorized \(vectorized)")
                    }
                }
            }
        }
    }

    /// Both passes in one (`PixelResampling.resampled`: a ring of horizontally resampled rows per
    /// band, no intermediate image) give the two separate passes' bytes, where bands meet too (150
    /// to 300 output rows: two bands or more), for both horizontal paths, every filter, RGB and RGBa.
    func testOnePassResizeEqualsTheTwoPasses() throws {
        let cases: [(Int, Int, (x0: Float, y0: Float, x1: Float, y1: Float)?)] = [
            (61, 150, nil), (200, 300, nil), (97, 190, (3.5, 2.25, 120.75, 391.5)),
        ]
        for alpha in [false, true] {
            let photo = try Self.photo(width: 130, height: 400, alpha: alpha), channels = alpha ? 4 : 3
            for filter in ResampleFilter.allCases {
                for (outWidth, outHeight, box) in cases {
                    let h = ResampleTaps(inSize: 130, outSize: outWidth, filter: filter, from: box?.x0 ?? 0, to: box?.x1)
                    let v = ResampleTaps(inSize: 400, outSize: outHeight, filter: filter, from: box?.y0 ?? 0, to: box?.y1)
                    for vectorized in [true, false] {
                        let rows = PixelResampling.horizontal(photo.pixels, lines: 400, inWidth: 130, taps: h, channels: channels,
                                                              vectorized: vectorized)
                        XCTAssertEqual(PixelResampling.resampled(photo.pixels, inWidth: 130, horizontal: h, vertical: v,
                                                                 channels: channels, vectorized: vectorized),
                                       PixelResampling.vertical(rows, rowBytes: outWidth * 4, taps: v, channels: channels),
                                       "\(filter) to \(outWidth)x\(outHeight) channels \(channels) vectorized \(vectorized)")
                    }
                }
            }
        }
    }

    func testOpacityIsEveryAlpha() throws {
        var pixels = try Self.photo(width: 300, height: 100).pixels
        XCTAssertTrue(try RGBAImage(width: 300, height: 100, pixels: pixels).isOpaque)
        pixels[4 * 29_999 + 3] = 254  // the last pixel, past the first chunk
        XCTAssertFalse(try RGBAImage(width: 300, height: 100, pixels: pixels).isOpaque)
        pixels[4 * 29_999 + 3] = 255
        pixels[2] = 0  // a colour byte is not alpha
        XCTAssertTrue(try RGBAImage(width: 300, height: 100, pixels: pixels).isOpaque)
    }

    func testKnownOpaqueSkipsTheCheckAndChangesNoByte() throws {
        let pixels = try Self.photo(width: 300, height: 100).pixels
        let scanned = try RGBAImage(width: 300, height: 100, pixels: pixels)
        let known = try RGBAImage(width: 300, height: 100, pixels: pixels, knownOpaque: true)
        XCTAssertFalse(scanned.knownOpaque)
        XCTAssertEqual(scanned, known)  // the flag is not part of equality
        // The flag is trusted, not checked: the caller vouches for it.
        var clear = pixels
        clear[3] = 0
        XCTAssertTrue(try RGBAImage(width: 300, height: 100, pixels: clear, knownOpaque: true).isOpaque)
        // The same bytes either way: the cap (with and without Pillow's reduce step) and the whole image path.
        for maxSide in [120, 40, 7] {
            let a = try ImagePreprocessing.capped(scanned, maxSide: maxSide), b = try ImagePreprocessing.capped(known, maxSide: maxSide)
            XCTAssertEqual(a.pixels, b.pixels, "cap \(maxSide)")
            XCTAssertTrue(a.knownOpaque && b.knownOpaque, "cap \(maxSide)")
            for orientation in ImageOrientation.allCases {
                let p = try PreparedImage(scanned, orientation: orientation, inputSize: (24, 16), maxSide: maxSide)
                let q = try PreparedImage(known, orientation: orientation, inputSize: (24, 16), maxSide: maxSide)
                XCTAssertEqual(p, q, "cap \(maxSide) \(orientation)")
                XCTAssertTrue(p.photo.knownOpaque && q.photo.knownOpaque && q.modelInput.knownOpaque)
            }
        }
    }

    func testOpaqueOutputsAreKnownOpaque() throws {
        let translucent = try Self.photo(width: 160, height: 140, alpha: true)
        XCTAssertFalse(translucent.isOpaque)
        XCTAssertTrue(translucent.compositedOnWhite().knownOpaque)
        XCTAssertFalse(try ImagePreprocessing.capped(translucent, maxSide: 50).knownOpaque)  // RGBA route: alpha kept
        XCTAssertTrue(try RGBAImage(width: 1, height: 1, rgb: [1, 2, 3]).knownOpaque)
        let photo = try RGBAImage(width: 160, height: 140, rgb: [UInt8](repeating: 90, count: 160 * 140 * 3))
        let map = try Heatmap(width: 160, height: 140, values: (0..<(160 * 140)).map { Float($0 % 7) })
        XCTAssertTrue(try Overlay.composite(photo: photo, heatmap: map).knownOpaque)
    }
}
