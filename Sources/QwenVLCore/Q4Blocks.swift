import KernelInterface

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
    public static let superBlockBytes = BlockLayout.q4SuperBlockBytes
    static let quantOffset = BlockLayout.q4QuantOffset

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

    /// Per-block sums of `x` (`superBlocks · 8` values), the minimum term of the dot (scalar, as the kernels sum).
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
    // ~15 GB/s on two cores. Decode instead quantizes x once per product to signed bytes per super-block
    // (`xq = round(x · 127 / max|x|)`, stored in the order the nibbles unpack) and multiplies bytes: a 32-byte
    // load holds blocks 2p and 2p+1, whose low nibbles (weights 0–15) and high nibbles (16–31) each meet 32 x
    // bytes in one `vpmaddubsw` (unsigned nibble × signed byte, pairs summed in 16 bits: |Σ| ≤ 4·15·127 < 2¹⁵),
    // then one `vpmaddwd` multiplies by the blocks' 8-bit scale codes and sums pairs into 32 bits (≤ 4 pairs ·
    // 2 · 7,620 · 255 < 2²⁴ per lane, so the float conversion is exact). ≈ 1.5 vector ops per 8 weights, as
    // llama.cpp's Q4_K·Q8_K dot. The cost is x's rounding: at most ½ of 1/127 of the super-block's largest |x|
    // per value.

    /// Largest quantized |x|.
    static let xLevels: Float = 127

    /// Source index, within a super-block of x, of each position of the quantized x layout: for each pair of
    /// blocks `p`, 32 bytes meeting the low nibbles (weights 0–15 of block 2p, then of block 2p+1) and 32 meeting
    /// the high nibbles (weights 16–31 of block 2p, then of block 2p+1).
    static let xOrder: [Int] = {
        var order = [Int](repeating: 0, count: superBlockSize)
        for i in 0..<superBlockSize {
            let p = i / 64, nibble = (i % 64) / 32, lane = i % 32
            order[i] = (2 * p + lane / 16) * blockSize + 16 * nibble + lane % 16
        }
        return order
    }()

    /// Quantizes x (`superBlocks · 256` floats, zero-padded) with `kernels`' x-preparation: `xq` gets
    /// `superBlocks · 256` Int8 in the layout of ``xOrder``, `scales` one Float per super-block.
    static func quantizeX(_ x: UnsafePointer<Float>, superBlocks: Int, into xq: UnsafeMutablePointer<Int8>,
                          scales: UnsafeMutablePointer<Float>, kernels: KernelSet = .active) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: superBlocks * 8) { sums in
            kernels.quantizeQ4(x, superBlocks, xq, scales, sums.baseAddress!)
        }
    }

    /// `Σ w · x` over one row with x quantized by ``quantizeX(_:superBlocks:into:scales:)`` (scalar reference):
    /// per block `s_b · dx · Σ q·xq + μ_b · Σ x` with the integer sums exact.
    public static func dotReference(_ row: UnsafeRawPointer, quantizedX xq: UnsafePointer<Int8>, xScales: UnsafePointer<Float>,
                                    blockSums: UnsafePointer<Float>, superBlocks: Int) -> Float {
        var total: Float = 0
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            let d = header.loadUnaligned(fromByteOffset: 16, as: Float.self)
            let dmin = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
            // Undo the layout: the quantized x value of each weight position.
            var xValue = [Int32](repeating: 0, count: superBlockSize)
            for i in 0..<superBlockSize { xValue[xOrder[i]] = Int32(xq[sb * superBlockSize + i]) }
            var integerSum: Int32 = 0
            var minimumSum: Float = 0
            for b in 0..<8 {
                var sum: Int32 = 0
                for j in 0..<blockSize {
                    let byte = header.load(fromByteOffset: quantOffset + b * 16 + j % 16, as: UInt8.self)
                    let q = Int32(j < 16 ? byte & 15 : byte >> 4)
                    sum += q * xValue[b * blockSize + j]
                }
                integerSum += Int32(header.load(fromByteOffset: b, as: UInt8.self)) * sum
                minimumSum += dmin * Float(header.load(fromByteOffset: 8 + b, as: Int8.self)) * blockSums[sb * 8 + b]
            }
            total += (d * xScales[sb]) * Float(integerSum) + minimumSum
        }
        return total
    }

    /// `Σ w · x` over one row with x quantized by ``quantizeX(_:superBlocks:into:scales:kernels:)``, by `kernels`'
    /// q4 row kernel; `blockSums` are the float per-block sums of x (the minimum term stays exact).
    static func dot(_ row: UnsafeRawPointer, quantizedX xq: UnsafeRawPointer, xScales: UnsafePointer<Float>,
                    blockSums: UnsafePointer<Float>, superBlocks: Int, kernels: KernelSet = .active) -> Float {
        var result: Float = 0
        withUnsafeMutablePointer(to: &result) { y in
        let product = QuantizedProduct(weights: row, rowStride: 0, rows: 1, superBlocks: superBlocks, xq: xq,
                                       byteStride: 0, xScales: xScales, scaleStride: 0, blockSums: blockSums, sumStride: 0,
                                       count: 1, y: y)
        kernels.q4Rows(product, 0..<1)
        }
        return result
    }
}
