import Foundation

/// A heatmap, row-major: `values[row * width + column]`; the grid one is `(grid rows, grid columns)`, max 1.
public struct Heatmap: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let values: [Float]

    public init(width: Int, height: Int, values: [Float]) throws {
        guard width > 0, height > 0, values.count == width * height else {
            throw ExplainableViTError.output(name: "heatmap", problem: "\(values.count) values for \(width)x\(height)")
        }
        self.width = width
        self.height = height
        self.values = values
    }

    public subscript(row: Int, column: Int) -> Float { values[row * width + column] }

    /// Resized to `width x height` with bilinear interpolation exactly as `runtime` does it (Pillow's
    /// bilinear resample of a float image: a triangle filter widened when shrinking, weights
    /// normalised, sums in Double, horizontal pass then vertical, Float32 in between). The vertical
    /// pass, where the pixels are, runs over whole rows with its taps computed once: the same sums
    /// in the same order as `referenceResized`, so the same values.
    public func resized(width newWidth: Int, height newHeight: Int) throws -> Heatmap {
        guard newWidth > 0, newHeight > 0 else { throw ExplainableViTError.image("size \(newWidth)x\(newHeight)") }
        var rows = values
        if newWidth != width {  // the grid's few rows: the scalar pass
            rows = Self.resample(values, lines: height, length: width, stride: 1, lineStride: width,
                                 taps: ResampleTaps(inSize: width, outSize: newWidth, filter: .bilinear), outStride: 1, outLineStride: newWidth)
        }
        if newHeight != height {
            rows = Self.resampleRows(rows, rowLength: newWidth, taps: ResampleTaps(inSize: height, outSize: newHeight, filter: .bilinear))
        }
        return try Heatmap(width: newWidth, height: newHeight, values: rows)
    }

    /// Output row `y` = the weighted sum of input rows `first[y]...`, accumulated per pixel in Double
    /// in tap order (as `resample` sums one pixel's taps), then rounded to Float32.
    private static func resampleRows(_ input: [Float], rowLength n: Int, taps: ResampleTaps) -> [Float] {
        let outRows = taps.outSize
        return [Float](unsafeUninitializedCapacity: outRows * n) { output, initialized in
            input.withUnsafeBufferPointer { src in
                let src = src.baseAddress!, dst = output.baseAddress!
                Parallel.bands(outRows) { band in
                    let acc = UnsafeMutablePointer<Double>.allocate(capacity: n)
                    defer { acc.deallocate() }
                    for y in band {
                        acc.initialize(repeating: 0, count: n)
                        for j in 0..<taps.count[y] {  // `while` loops: see PixelResampling.verticalRow
                            let w = taps.weights[y * taps.width + j], line = src + (taps.first[y] + j) * n
                            var x = 0
                            while x < n {
                                acc[x] += Double(line[x]) * w
                                x &+= 1
                            }
                        }
                        let out = dst + y * n
                        var x = 0
                        while x < n {
                            out[x] = Float(acc[x])
                            x &+= 1
                        }
                    }
                }
            }
            initialized = outRows * n
        }
    }

    /// The scalar two-pass resize, one output pixel at a time: the reference `resized` is checked
    /// against, and the benchmark's "before" (`explainable-vit-bench --postprocess --reference`).
    @_spi(Reference)
    public func referenceResized(width newWidth: Int, height newHeight: Int) throws -> Heatmap {
        guard newWidth > 0, newHeight > 0 else { throw ExplainableViTError.image("size \(newWidth)x\(newHeight)") }
        var rows = values, rowWidth = width
        if newWidth != width {
            rows = Self.resample(values, lines: height, length: width, stride: 1, lineStride: width,
                                 taps: ResampleTaps(inSize: width, outSize: newWidth, filter: .bilinear), outStride: 1, outLineStride: newWidth)
            rowWidth = newWidth
        }
        var out = rows
        if newHeight != height {
            out = Self.resample(rows, lines: rowWidth, length: height, stride: rowWidth, lineStride: 1,
                                taps: ResampleTaps(inSize: height, outSize: newHeight, filter: .bilinear), outStride: newWidth, outLineStride: 1)
        }
        return try Heatmap(width: newWidth, height: newHeight, values: out)
    }

    /// One pass along one axis: `lines` independent 1-D signals of `length` samples.
    private static func resample(_ input: [Float], lines: Int, length: Int, stride: Int, lineStride: Int,
                                 taps: ResampleTaps, outStride: Int, outLineStride: Int) -> [Float] {
        var output = [Float](repeating: 0, count: lines * taps.outSize)
        for line in 0..<lines {
            for i in 0..<taps.outSize {
                var sum = 0.0
                for j in 0..<taps.count[i] {
                    sum += Double(input[line * lineStride + (taps.first[i] + j) * stride]) * taps.weights[i * taps.width + j]
                }
                output[line * outLineStride + i * outStride] = Float(sum)
            }
        }
        return output
    }
}
