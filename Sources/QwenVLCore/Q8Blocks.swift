import KernelInterface

/// 8-bit block quantization: blocks of 32 weights, each `w ≈ d · q` with `q` in −127…127 and one f16 scale `d`
/// (llama.cpp's Q8_0 precision, 8.5 bits per weight).
///
/// Layout of one row, padded with zeros to whole super-blocks of 256 weights (8 blocks):
/// `[8 × Float16 d][8 × 32 Int8 q]` = 272 bytes per super-block, so the eight scales load as one vector and the
/// quants stay 16-byte aligned. Each format has a scalar reference path (`…Reference`) and a SIMD path; tests
/// check them against each other.
public enum Q8Blocks {
    /// Weights per block (one scale).
    public static let blockSize = 32
    /// Weights per super-block (8 blocks and their scales).
    public static let superBlockSize = 256
    /// Bytes per super-block.
    public static let superBlockBytes = BlockLayout.q8SuperBlockBytes

    /// Super-blocks in a row of `cols` weights.
    @inline(__always)
    public static func superBlocks(cols: Int) -> Int { (cols + superBlockSize - 1) / superBlockSize }

    /// Bytes of one quantized row.
    public static func rowBytes(cols: Int) -> Int { superBlocks(cols: cols) * superBlockBytes }

    // MARK: - quantization (scalar; runs once at load)

    /// Quantizes `cols` floats of `source` into one row at `destination` (`rowBytes(cols:)` bytes).
    ///
    /// `d = max|w| / 127` rounded to f16, then `q = round(w · (1/d))` with the rounded scale (half to even),
    /// clamped to ±127; NaN and ±inf weights become 0.
    public static func quantizeRow(_ source: UnsafePointer<Float>, cols: Int, into destination: UnsafeMutableRawPointer) {
        for sb in 0..<superBlocks(cols: cols) {
            let header = destination + sb * superBlockBytes
            for b in 0..<8 {
                let start = sb * superBlockSize + b * blockSize
                if start >= cols {
                    // Padding past the row: scale 0, quants 0.
                    header.storeBytes(of: UInt16(0), toByteOffset: b * 2, as: UInt16.self)
                    (header + 16 + b * blockSize).initializeMemory(as: UInt8.self, repeating: 0, count: blockSize)
                    continue
                }
                let v = Block32(source, start: start, count: cols)
                let d = Float16(v.maxMagnitude() / 127)
                header.storeBytes(of: d.bitPattern, toByteOffset: b * 2, as: UInt16.self)
                let scale = Float(d)
                let q = v.levels(offset: 0, inverseScale: scale > 0 ? 1 / scale : 0, low: -127, high: 127)
                q.storeBytes(to: header + 16 + b * blockSize)
            }
        }
    }

    // MARK: - scalar reference

    /// Dequantizes one row (scalar reference): `cols` floats.
    public static func dequantizeRowReference(_ row: UnsafeRawPointer, cols: Int, into out: UnsafeMutablePointer<Float>) {
        for c in 0..<cols {
            let sb = c / superBlockSize, b = (c % superBlockSize) / blockSize
            let header = row + sb * superBlockBytes
            let d = Float(Float16(bitPattern: header.loadUnaligned(fromByteOffset: b * 2, as: UInt16.self)))
            let q = header.load(fromByteOffset: 16 + c % superBlockSize, as: Int8.self)
            out[c] = d * Float(q)
        }
    }

    // MARK: - SIMD

    /// Dequantizes one row into `out`, which must hold `superBlocks(cols:) · 256` floats (padding becomes 0).
    @inline(__always)
    static func dequantizeRow(_ row: UnsafeRawPointer, superBlocks: Int, into out: UnsafeMutablePointer<Float>) {
        let o = UnsafeMutableRawPointer(out)
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            let scales = Lanes.half(header)
            for b in 0..<8 {
                let d = SIMD8<Float>(repeating: scales[b])
                let q = header + 16 + b * blockSize
                let base = (sb * superBlockSize + b * blockSize) * 4
                for k in 0..<4 {
                    o.storeBytes(of: d * Lanes.int8(q, k * 8), toByteOffset: base + k * 32, as: SIMD8<Float>.self)
                }
            }
        }
    }

    // MARK: - byte × byte decode

    // Decode quantizes x once per product to signed bytes per block of 32 (llama.cpp's Q8_0 × Q8_0:
    // `xq = round(x · 127 / max|x|)`, one float scale per block) and multiplies bytes: per block `vpsignb` ×2
    // (|w| and x with w's sign), one `vpmaddubsw` (|Σ pair| ≤ 2 · 127 · 127 < 2¹⁵), one `vpmaddwd` by ones into
    // 32-bit lanes (exact), one conversion and one FMA by `d_w · d_x`: ≈ 2 ops per 8 weights. A float dot (widen
    // bytes, convert, FMA: ≈ 4 ops per 8 weights) ran 2B decode at 14.0–14.3 tok/s against 15.3–15.8 for this one
    // (same session, interleaved). The cost is x's rounding: at most ½ of 1/127 of the block's largest |x| per
    // value.

    /// Quantizes x (`superBlocks · 256` floats, zero-padded) for ``dot(_:quantizedX:xScales:superBlocks:kernels:)``
    /// with `kernels`' x-preparation: `xq` gets `superBlocks · 256` Int8, `scales` one Float per block of 32.
    static func quantizeX(_ x: UnsafePointer<Float>, superBlocks: Int, into xq: UnsafeMutablePointer<Int8>,
                          scales: UnsafeMutablePointer<Float>, kernels: KernelSet = .active) {
        kernels.quantizeQ8(x, superBlocks, xq, scales)
    }

    /// `Σ w · x` over one row with x quantized by ``quantizeX(_:superBlocks:into:scales:)`` (scalar reference):
    /// per block `(d_w · d_x) · Σ q · xq`, the integer sums exact, blocks added in order.
    public static func dotReference(_ row: UnsafeRawPointer, quantizedX xq: UnsafePointer<Int8>, xScales: UnsafePointer<Float>,
                                    superBlocks: Int) -> Float {
        var total: Float = 0
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            for b in 0..<8 {
                let d = Float(Float16(bitPattern: header.loadUnaligned(fromByteOffset: b * 2, as: UInt16.self)))
                var sum: Int32 = 0
                for i in 0..<blockSize {
                    sum += Int32(header.load(fromByteOffset: 16 + b * blockSize + i, as: Int8.self)) * Int32(xq[(sb * 8 + b) * blockSize + i])
                }
                total += (d * xScales[sb * 8 + b]) * Float(sum)
            }
        }
        return total
    }

    /// `Σ w · x` over one row with x quantized by ``quantizeX(_:superBlocks:into:scales:kernels:)``, by `kernels`'
    /// q8 row kernel (the decode products call it per row range, in Sources/KernelSources/DecodeKernels.swift).
    static func dot(_ row: UnsafeRawPointer, quantizedX xq: UnsafeRawPointer, xScales: UnsafePointer<Float>,
                    superBlocks: Int, kernels: KernelSet = .active) -> Float {
        var result: Float = 0
        withUnsafeMutablePointer(to: &result) { y in
        let product = QuantizedProduct(weights: row, rowStride: 0, rows: 1, superBlocks: superBlocks, xq: xq,
                                       byteStride: 0, xScales: xScales, scaleStride: 0, blockSums: xScales, sumStride: 0,
                                       count: 1, y: y)
        kernels.q8Rows(product, 0..<1)
        }
        return result
    }
}
