/// 4-bit block quantization with per-block scale and minimum: blocks of 32 weights, `w ≈ s_b · q + μ_b` with
/// `q` in 0…15; the eight blocks of a 256-weight super-block code `s_b = d · sc_b` (sc: UInt8) and
/// `μ_b = dmin · m_b` (m: Int8) against two Float32 super-block scales — 4.75 bits per weight.
///
/// Why this scheme: llama.cpp's Q4_1 (f16 scale and min per block) costs 5 bits/weight; Q4_K packs 6-bit codes
/// into 4.5. Eight-bit codes (signed minimum, so blocks that are all positive keep their full range) cost 0.25
/// bit more than Q4_K and quantize the block parameters 4× finer, with plain byte loads in the kernels.
/// Each block's (s, μ) is a least-squares fit over a few candidate grids, and the 4-bit values are recomputed
/// from the coded (s, μ), so the stored codes and quants agree.
///
/// Layout of one super-block (152 bytes; rows padded with zeros to whole super-blocks):
/// `[8 × UInt8 sc][8 × Int8 m][Float32 d][Float32 dmin][8 blocks × 16 bytes]`, where byte `j` of a block holds
/// weight `j` in its low nibble and weight `j + 16` in its high nibble (as in ggml).
public enum Q4Blocks {
    /// Weights per block (one scale and one minimum).
    public static let blockSize = 32
    /// Weights per super-block.
    public static let superBlockSize = 256
    /// Bytes per super-block.
    public static let superBlockBytes = 24 + 128
    static let quantOffset = 24

    /// Super-blocks in a row of `cols` weights.
    @inline(__always)
    public static func superBlocks(cols: Int) -> Int { (cols + superBlockSize - 1) / superBlockSize }

    /// Bytes of one quantized row.
    public static func rowBytes(cols: Int) -> Int { superBlocks(cols: cols) * superBlockBytes }

    // MARK: - quantization (runs once at load)

    /// Quantizes `cols` floats of `source` into one row at `destination` (`rowBytes(cols:)` bytes) with
    /// ``Q4Quantizer``; NaN and ±inf weights become 0.
    public static func quantizeRow(_ source: UnsafePointer<Float>, cols: Int, into destination: UnsafeMutableRawPointer) {
        var quantizer = Q4Quantizer()
        for sb in 0..<superBlocks(cols: cols) {
            quantizer.quantize(source, cols: cols, superBlock: sb, into: destination + sb * superBlockBytes)
        }
    }

    // MARK: - scalar reference

    /// Weight `c` of one row (scalar reference).
    @inline(__always)
    static func valueReference(_ row: UnsafeRawPointer, _ c: Int) -> Float {
        let sb = c / superBlockSize, b = (c % superBlockSize) / blockSize, j = c % blockSize
        let header = row + sb * superBlockBytes
        let d = header.loadUnaligned(fromByteOffset: 16, as: Float.self)
        let dmin = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
        let sc = header.load(fromByteOffset: b, as: UInt8.self), m = header.load(fromByteOffset: 8 + b, as: Int8.self)
        let byte = header.load(fromByteOffset: quantOffset + b * 16 + j % 16, as: UInt8.self)
        let q = j < 16 ? byte & 15 : byte >> 4
        return d * Float(sc) * Float(q) + dmin * Float(m)
    }

    /// Dequantizes one row (scalar reference): `cols` floats.
    public static func dequantizeRowReference(_ row: UnsafeRawPointer, cols: Int, into out: UnsafeMutablePointer<Float>) {
        for c in 0..<cols { out[c] = valueReference(row, c) }
    }

    /// `Σ w[c] · x[c]` over one row (scalar reference).
    public static func dotReference(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, cols: Int) -> Float {
        var total: Float = 0
        for c in 0..<cols { total += valueReference(row, c) * x[c] }
        return total
    }

    // MARK: - SIMD

    /// Per-block sums of `x` (`superBlocks · 8` values), the minimum term of ``dot(_:_:blockSums:superBlocks:)``.
    static func blockSums(_ x: UnsafePointer<Float>, superBlocks: Int, into sums: UnsafeMutablePointer<Float>) {
        for k in 0..<(superBlocks * 8) {
            sums[k] = UnsafeRawPointer(x + k * blockSize).loadUnaligned(as: SIMD32<Float>.self).sum()
        }
    }

    /// Dequantizes one row into `out`, which must hold `superBlocks(cols:) · 256` floats.
    @inline(__always)
    static func dequantizeRow(_ row: UnsafeRawPointer, superBlocks: Int, into out: UnsafeMutablePointer<Float>) {
        let o = UnsafeMutableRawPointer(out)
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            let scales = Lanes.uint8(header) * header.loadUnaligned(fromByteOffset: 16, as: Float.self)
            let minimums = Lanes.int8(header, 8) * header.loadUnaligned(fromByteOffset: 20, as: Float.self)
            for b in 0..<8 {
                let s = SIMD8<Float>(repeating: scales[b]), mu = SIMD8<Float>(repeating: minimums[b])
                let q = header + quantOffset + b * 16
                let base = (sb * superBlockSize + b * blockSize) * 4
                o.storeBytes(of: Lanes.lowNibbles(q) * s + mu, toByteOffset: base, as: SIMD8<Float>.self)
                o.storeBytes(of: Lanes.lowNibbles(q, 8) * s + mu, toByteOffset: base + 32, as: SIMD8<Float>.self)
                o.storeBytes(of: Lanes.highNibbles(q) * s + mu, toByteOffset: base + 64, as: SIMD8<Float>.self)
                o.storeBytes(of: Lanes.highNibbles(q, 8) * s + mu, toByteOffset: base + 96, as: SIMD8<Float>.self)
            }
        }
    }

    // MARK: - integer dot product (decode)
    //
    // The float form of the dot (widen nibbles, convert, FMA: ≈ 5 vector ops per 8 weights) is compute-bound at
    // ~15 GB/s on two cores. Decode instead quantizes x once per product to 10-bit integers per super-block
    // (`xq = round(x · 511 / max|x|)`, stored in the order the nibbles unpack) and multiplies in 16-bit lanes:
    // a 32-byte load yields 64 weights as four SIMD16<UInt16> nibble vectors (mask / shift), each multiplied by
    // 16 x values with one `vpmullw`; four products per lane stay below 2¹⁵ (4 · 15 · 511), the pairs of lanes
    // then widen to 32 bits and convert exactly. ≈ 3 vector ops per 8 weights: 7.8 → 13.7 GB/s on one core.
    // The cost is x's rounding: a relative error of about 1/1000 of the super-block's largest |x| per value.

    /// Largest quantized |x| (4 products of a 4-bit weight and x per 16-bit lane must stay below 2¹⁵).
    static let xLevels: Float = 511

    /// Source index, within a super-block of x, of each position of the quantized x layout: for each pair of
    /// blocks `p` and nibble `k` (low/high of the even byte, low/high of the odd byte), 16 lanes, lanes 0–7 from
    /// block 2p and 8–15 from block 2p+1.
    static let xOrder: [Int] = {
        var order = [Int](repeating: 0, count: superBlockSize)
        for p in 0..<4 { for k in 0..<4 { for lane in 0..<16 {
            let block = 2 * p + lane / 8, pairIndex = lane % 8
            let weight = [2 * pairIndex, 2 * pairIndex + 16, 2 * pairIndex + 1, 2 * pairIndex + 17][k]
            order[p * 64 + k * 16 + lane] = block * blockSize + weight
        } } }
        return order
    }()

    /// Quantizes x (`superBlocks · 256` floats, zero-padded) for ``dot(_:quantizedX:xScales:blockSums:superBlocks:)``:
    /// `xq` gets `superBlocks · 256` Int16 in the layout of ``xOrder``, `scales` one Float per super-block.
    static func quantizeX(_ x: UnsafePointer<Float>, superBlocks: Int, into xq: UnsafeMutablePointer<Int16>,
                          scales: UnsafeMutablePointer<Float>) {
        xOrder.withUnsafeBufferPointer { order in
            for sb in 0..<superBlocks {
                let xs = x + sb * superBlockSize
                var m = SIMD8<Float>()
                for i in Swift.stride(from: 0, to: superBlockSize, by: 8) {
                    m = Block32.max(m, Block32.magnitude(UnsafeRawPointer(xs + i).loadUnaligned(as: SIMD8<Float>.self)))
                }
                let largest = Lanes.max(m)
                let inverse: Float = largest > 0 ? xLevels / largest : 0
                scales[sb] = largest > 0 ? largest / xLevels : 0
                let out = xq + sb * superBlockSize
                for i in 0..<superBlockSize { out[i] = Int16((xs[order[i]] * inverse).rounded(.toNearestOrEven)) }
            }
        }
    }

    /// `Σ w · x` over one row with x quantized by ``quantizeX(_:superBlocks:into:scales:)`` (scalar reference):
    /// per block `s_b · dx · Σ q·xq + μ_b · Σ x` with the integer sums exact.
    public static func dotReference(_ row: UnsafeRawPointer, quantizedX xq: UnsafePointer<Int16>, xScales: UnsafePointer<Float>,
                                    blockSums: UnsafePointer<Float>, superBlocks: Int) -> Float {
        var total: Float = 0
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            let d = header.loadUnaligned(fromByteOffset: 16, as: Float.self)
            let dmin = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
            // Undo the layout: the quantized x value of each weight position.
            var xValue = [Int32](repeating: 0, count: superBlockSize)
            for i in 0..<superBlockSize { xValue[xOrder[i]] = Int32(xq[sb * superBlockSize + i]) }
            for b in 0..<8 {
                var sum: Int32 = 0
                for j in 0..<blockSize {
                    let byte = header.load(fromByteOffset: quantOffset + b * 16 + j % 16, as: UInt8.self)
                    let q = Int32(j < 16 ? byte & 15 : byte >> 4)
                    sum += q * xValue[b * blockSize + j]
                }
                let sc = Float(header.load(fromByteOffset: b, as: UInt8.self)), m = Float(header.load(fromByteOffset: 8 + b, as: Int8.self))
                total += (d * xScales[sb]) * sc * Float(sum) + dmin * m * blockSums[sb * 8 + b]
            }
        }
        return total
    }

    /// `Σ w · x` over one row with x quantized by ``quantizeX(_:superBlocks:into:scales:)``; `blockSums` are the
    /// float per-block sums of x (the minimum term stays exact).
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, quantizedX xq: UnsafeRawPointer, xScales: UnsafePointer<Float>,
                    blockSums: UnsafePointer<Float>, superBlocks: Int) -> Float {
        let sr = UnsafeRawPointer(blockSums)
        let mask = SIMD16<UInt16>(repeating: 15)
        var acc = SIMD8<Float>(), accMin = SIMD8<Float>()
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            let d = header.loadUnaligned(fromByteOffset: 16, as: Float.self)
            let dmin = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
            accMin.addProduct(Lanes.int8(header, 8) * dmin, sr.loadUnaligned(fromByteOffset: sb * 32, as: SIMD8<Float>.self))
            let s = Lanes.uint8(header) * (d * xScales[sb])
            let xs = xq + sb * superBlockSize * 2
            // Blocks 2p and 2p+1: lanes 0–3 of the result hold block 2p's partial sums, lanes 4–7 block 2p+1's.
            @inline(__always) func pair(_ p: Int) -> SIMD8<Float> {
                let v = (header + quantOffset + p * 32).loadUnaligned(as: SIMD16<UInt16>.self)
                let xb = xs + p * 128
                var t = (v & mask) &* xb.loadUnaligned(as: SIMD16<UInt16>.self)
                t &+= ((v &>> 4) & mask) &* xb.loadUnaligned(fromByteOffset: 32, as: SIMD16<UInt16>.self)
                t &+= ((v &>> 8) & mask) &* xb.loadUnaligned(fromByteOffset: 64, as: SIMD16<UInt16>.self)
                t &+= (v &>> 12) &* xb.loadUnaligned(fromByteOffset: 96, as: SIMD16<UInt16>.self)
                // Signed 16-bit lanes → sums of lane pairs in 32 bits → exact floats (|n| < 2²²).
                let u = unsafeBitCast(t, to: SIMD8<Int32>.self)
                let n = ((u &<< 16) &>> 16) &+ (u &>> 16)
                return unsafeBitCast(n &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12_582_912
            }
            acc.addProduct(pair(0), SIMD8(lowHalf: SIMD4(repeating: s[0]), highHalf: SIMD4(repeating: s[1])))
            acc.addProduct(pair(1), SIMD8(lowHalf: SIMD4(repeating: s[2]), highHalf: SIMD4(repeating: s[3])))
            acc.addProduct(pair(2), SIMD8(lowHalf: SIMD4(repeating: s[4]), highHalf: SIMD4(repeating: s[5])))
            acc.addProduct(pair(3), SIMD8(lowHalf: SIMD4(repeating: s[6]), highHalf: SIMD4(repeating: s[7])))
        }
        return acc.sum() + accMin.sum()
    }
}
