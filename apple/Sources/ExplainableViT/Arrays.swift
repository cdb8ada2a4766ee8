/// Reading model output arrays without Apple's types: Float16 bit patterns (Swift's `Float16` does
/// not exist on Intel Macs) and strided buffers (Core ML may pad an array's rows).
public enum Arrays {
    /// IEEE 754 half precision bits -> Float (subnormals, infinities and NaN included).
    public static func float(fromHalf bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0 {  // zero or subnormal: mantissa * 2^-24
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F {  // infinity or NaN
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// The elements of an array of `shape` with element `strides`, in row-major order: `read(offset)`
    /// is called with each element's offset. Padded rows are skipped.
    public static func rowMajor<T>(shape: [Int], strides: [Int], read: (Int) -> T) throws -> [T] {
        guard shape.count == strides.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw ExplainableViTError.output(name: "array", problem: "shape \(shape) with strides \(strides)")
        }
        let count = shape.reduce(1, *)
        var out: [T] = []
        out.reserveCapacity(count)
        var index = [Int](repeating: 0, count: shape.count)
        for _ in 0..<count {
            out.append(read(zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 }))
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return out
    }
}
