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

    /// `Σ w · x` over one row: `Σ_b s_b · Σ q·x + Σ_b μ_b · Σ x`; `x` holds `superBlocks · 256` floats
    /// (zero-padded) and `blockSums` its per-block sums.
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blockSums: UnsafePointer<Float>, superBlocks: Int) -> Float {
        let xr = UnsafeRawPointer(x), sr = UnsafeRawPointer(blockSums)
        var acc = SIMD8<Float>(), accMin = SIMD8<Float>()
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            let d = header.loadUnaligned(fromByteOffset: 16, as: Float.self)
            let dmin = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
            let codes = Lanes.uint8(header)
            accMin.addProduct(Lanes.int8(header, 8) * dmin,
                              sr.loadUnaligned(fromByteOffset: sb * 32, as: SIMD8<Float>.self))
            let xs = xr + sb * superBlockSize * 4
            var partial = SIMD8<Float>()
            for b in 0..<8 {
                let q = header + quantOffset + b * 16
                let x0 = xs + b * blockSize * 4
                var p = Lanes.lowNibbles(q) * x0.loadUnaligned(as: SIMD8<Float>.self)
                p.addProduct(Lanes.lowNibbles(q, 8), x0.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                p.addProduct(Lanes.highNibbles(q), x0.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                p.addProduct(Lanes.highNibbles(q, 8), x0.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                partial.addProduct(p, SIMD8<Float>(repeating: codes[b]))
            }
            acc.addProduct(partial, SIMD8<Float>(repeating: d))
        }
        return acc.sum() + accMin.sum()
    }

}
