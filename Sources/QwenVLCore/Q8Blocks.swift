import CPUIntrinsics

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
    public static let superBlockBytes = 16 + 256

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
                let out = header + 16 + b * blockSize
                Lanes.storeBytes(q.v0, to: out, 0)
                Lanes.storeBytes(q.v1, to: out, 8)
                Lanes.storeBytes(q.v2, to: out, 16)
                Lanes.storeBytes(q.v3, to: out, 24)
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

    /// `Σ w[c] · x[c]` over one row (scalar reference, per-block sums scaled as the SIMD path does).
    public static func dotReference(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, cols: Int) -> Float {
        var total: Float = 0
        for sb in 0..<superBlocks(cols: cols) {
            let header = row + sb * superBlockBytes
            for b in 0..<8 {
                let d = Float(Float16(bitPattern: header.loadUnaligned(fromByteOffset: b * 2, as: UInt16.self)))
                var sum: Float = 0
                for i in 0..<blockSize {
                    let c = sb * superBlockSize + b * blockSize + i
                    guard c < cols else { break }
                    sum += Float(header.load(fromByteOffset: 16 + b * blockSize + i, as: Int8.self)) * x[c]
                }
                total += d * sum
            }
        }
        return total
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

    /// `Σ w · x` over one row; `x` must hold `superBlocks · 256` floats (zero-padded).
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, superBlocks: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let ahead = GEMVTuning.prefetchDistanceQ8
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            prefetchSuperBlock(header + ahead)
            let scales = Lanes.half(header)
            let xs = xr + sb * superBlockSize * 4
            var b = 0
            while b < 8 {
                let q0 = header + 16 + b * blockSize, x0 = xs + b * blockSize * 4
                var p = Lanes.int8(q0) * x0.loadUnaligned(as: SIMD8<Float>.self)
                p.addProduct(Lanes.int8(q0, 8), x0.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                p.addProduct(Lanes.int8(q0, 16), x0.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                p.addProduct(Lanes.int8(q0, 24), x0.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                acc0.addProduct(p, SIMD8<Float>(repeating: scales[b]))
                let q1 = q0 + blockSize, x1 = x0 + blockSize * 4
                var r = Lanes.int8(q1) * x1.loadUnaligned(as: SIMD8<Float>.self)
                r.addProduct(Lanes.int8(q1, 8), x1.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                r.addProduct(Lanes.int8(q1, 16), x1.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                r.addProduct(Lanes.int8(q1, 24), x1.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                acc1.addProduct(r, SIMD8<Float>(repeating: scales[b + 1]))
                b += 2
            }
        }
        return (acc0 + acc1).sum()
    }

    /// Dot products of four rows (`stride` bytes apart) with x, each x load serving all four: the kernel for long
    /// rows, whose x does not stay in L1 (one row at a time re-read x from L2 for every row: 15 GB/s on
    /// [1536×8960] against 33 on short rows). Same per-block float operations as ``dot(_:_:superBlocks:)``.
    @inline(__always)
    static func dot4(_ row: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, superBlocks: Int) -> SIMD4<Float> {
        let xr = UnsafeRawPointer(x)
        let r1 = row + stride, r2 = row + 2 * stride, r3 = row + 3 * stride
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        let ahead = GEMVTuning.prefetchDistanceQ8
        for sb in 0..<superBlocks {
            let offset = sb * superBlockBytes
            prefetchSuperBlock(row + offset + ahead); prefetchSuperBlock(r1 + offset + ahead)
            prefetchSuperBlock(r2 + offset + ahead); prefetchSuperBlock(r3 + offset + ahead)
            let s0 = Lanes.half(row + offset), s1 = Lanes.half(r1 + offset)
            let s2 = Lanes.half(r2 + offset), s3 = Lanes.half(r3 + offset)
            let xs = xr + sb * superBlockSize * 4
            for b in 0..<8 {
                let q = offset + 16 + b * blockSize, xb = xs + b * blockSize * 4
                let x0 = xb.loadUnaligned(as: SIMD8<Float>.self)
                let x1 = xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                let x2 = xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                let x3 = xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                @inline(__always) func block(_ r: UnsafeRawPointer) -> SIMD8<Float> {
                    var p = Lanes.int8(r + q) * x0
                    p.addProduct(Lanes.int8(r + q, 8), x1)
                    p.addProduct(Lanes.int8(r + q, 16), x2)
                    p.addProduct(Lanes.int8(r + q, 24), x3)
                    return p
                }
                a0.addProduct(block(row), SIMD8<Float>(repeating: s0[b]))
                a1.addProduct(block(r1), SIMD8<Float>(repeating: s1[b]))
                a2.addProduct(block(r2), SIMD8<Float>(repeating: s2[b]))
                a3.addProduct(block(r3), SIMD8<Float>(repeating: s3[b]))
            }
        }
        return SIMD4(a0.sum(), a1.sum(), a2.sum(), a3.sum())
    }

    /// Asks for the five cache lines a super-block at `p` may touch.
    @inline(__always)
    static func prefetchSuperBlock(_ p: UnsafeRawPointer) {
        prefetch(p); prefetch(p + 64); prefetch(p + 128); prefetch(p + 192); prefetch(p + 256)
    }
}
