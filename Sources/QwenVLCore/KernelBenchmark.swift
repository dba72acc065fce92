import Foundation

/// Micro-benchmarks of the matrix kernels on random weights, for `qwenvl bench --kernels`.
///
/// Matrix-vector runs rotate over enough copies of the matrix (≥ 256 MiB in all) that every pass streams its
/// weights from memory, as decode does; matrix-matrix runs report float32 GFLOP/s including the weight decode.
public enum KernelBenchmark {
    /// One measurement: the median seconds per product and the rates it implies.
    public struct Result: Sendable {
        public var name: String
        public var seconds: Double
        /// 2·n·rows·cols / seconds.
        public var gflops: Double
        /// Weight bytes read per second.
        public var gigabytesPerSecond: Double
        /// Process CPU seconds (user + system, all threads) per product: under load from other processes the wall
        /// time stretches, `gflops · seconds / cpuSeconds` per busy core much less.
        public var cpuSeconds: Double
    }

    /// Wall and CPU seconds of `body`.
    static func timed(_ body: () -> Void) -> (wall: Double, cpu: Double) {
        let cpu0 = processCPUSeconds(), wall0 = DispatchTime.now().uptimeNanoseconds
        body()
        return (Double(DispatchTime.now().uptimeNanoseconds - wall0) / 1e9, processCPUSeconds() - cpu0)
    }

    /// User + system CPU seconds of this process so far.
    public static func processCPUSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// A random `rows × cols` matrix in `encoding` (values like a trained layer's: about ±0.05).
    public static func randomMatrix(rows: Int, cols: Int, encoding: WeightEncoding, seed: UInt64 = 1) -> WeightMatrix {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let count = rows * cols
        let storage = ByteBuffer(byteCount: count * 2)
        let bits = storage.pointer.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let uniform = Float(state >> 40) / Float(1 << 24) - 0.5
            bits[i] = floatToBF16(uniform * 0.1)
        }
        let bf16 = WeightMatrix(rows: rows, cols: cols, dtype: .bf16, encoding: .bf16, base: UnsafeRawPointer(storage.pointer), owner: storage)
        switch encoding {
        case .bf16: return bf16
        case .f32: return bf16.converted(to: .f32)
        case .q8: return bf16.converted(to: .q8)
        case .q4: return bf16.converted(to: .q4)
        case .f16:
            let half = ByteBuffer(byteCount: count * 2)
            let out = half.pointer.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { out[i] = Float16(bf16ToFloat(bits[i])).bitPattern }
            return WeightMatrix(rows: rows, cols: cols, dtype: .f16, encoding: .f16, base: UnsafeRawPointer(half.pointer), owner: half)
        }
    }

    /// `y = W·x` for one token, repeated; W rotates over copies so the weights come from memory.
    public static func matrixVector(rows: Int, cols: Int, encoding: WeightEncoding, repeats: Int = 20) -> Result {
        let first = randomMatrix(rows: rows, cols: cols, encoding: encoding)
        let copies = max(1, min(16, (256 << 20) / max(first.byteCount, 1)))
        let matrices = [first] + (1..<copies).map { randomMatrix(rows: rows, cols: cols, encoding: encoding, seed: UInt64($0 + 1)) }
        let x = (0..<cols).map { Float(($0 * 7919) % 997) / 997 - 0.5 }
        var y = [Float](repeating: 0, count: rows)
        var times: [Double] = [], cpu: [Double] = []
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for matrix in matrices { matrix.gemv(xp.baseAddress!, yp.baseAddress!) }   // warm up
                let runs = max(repeats, copies)
                for _ in 0..<3 {
                    let t = timed { for i in 0..<runs { matrices[i % copies].gemv(xp.baseAddress!, yp.baseAddress!) } }
                    times.append(t.wall / Double(runs))
                    cpu.append(t.cpu / Double(runs))
                }
            }
        }
        let seconds = median(times)
        return Result(name: "gemv \(encoding.rawValue) [\(rows)×\(cols)]", seconds: seconds,
                      gflops: 2 * Double(rows * cols) / seconds / 1e9, gigabytesPerSecond: Double(first.byteCount) / seconds / 1e9,
                      cpuSeconds: median(cpu))
    }

    /// `y[n, rows] = x[n, cols]·Wᵀ`, repeated.
    public static func matrixMatrix(tokens n: Int, rows: Int, cols: Int, encoding: WeightEncoding, repeats: Int = 5) -> Result {
        let matrix = randomMatrix(rows: rows, cols: cols, encoding: encoding)
        let x = (0..<(n * cols)).map { Float(($0 * 7919) % 997) / 997 - 0.5 }
        var y = [Float](repeating: 0, count: n * rows)
        var times: [Double] = [], cpu: [Double] = []
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                matrix.gemm(xp.baseAddress!, n, yp.baseAddress!)
                for _ in 0..<repeats {
                    let t = timed { matrix.gemm(xp.baseAddress!, n, yp.baseAddress!) }
                    times.append(t.wall)
                    cpu.append(t.cpu)
                }
            }
        }
        let seconds = median(times)
        return Result(name: "gemm \(encoding.rawValue) [\(n)×\(cols)]·[\(rows)×\(cols)]ᵀ", seconds: seconds,
                      gflops: 2 * Double(n * rows * cols) / seconds / 1e9, gigabytesPerSecond: Double(matrix.byteCount) / seconds / 1e9,
                      cpuSeconds: median(cpu))
    }

    /// Causal attention over `n` new queries at the end of a `start + n` context (Qwen2-VL-2B heads).
    public static func attention(tokens n: Int, start: Int, heads: Int = 12, kvHeads: Int = 2, headDim: Int = 128, repeats: Int = 5) -> Result {
        let total = start + n
        let q = (0..<(n * heads * headDim)).map { Float(($0 * 31) % 101) / 101 - 0.5 }
        let kv = (0..<(total * kvHeads * headDim)).map { Float(($0 * 17) % 89) / 89 - 0.5 }
        var out = [Float](repeating: 0, count: n * heads * headDim)
        var times: [Double] = [], cpu: [Double] = []
        for _ in 0...repeats {
            let t = timed {
                Attention.causal(q: q, count: n, keys: kv, values: kv, start: start, heads: heads, kvHeads: kvHeads, headDim: headDim, out: &out)
            }
            times.append(t.wall)
            cpu.append(t.cpu)
        }
        let seconds = median(Array(times.dropFirst()))
        // QKᵀ and PV over the visible keys: 2 · 2 · headDim per (query, key, head).
        let pairs = Double(n) * Double(start) + Double(n) * Double(n + 1) / 2
        return Result(name: "attention n=\(n) context=\(total)", seconds: seconds,
                      gflops: 4 * Double(heads * headDim) * pairs / seconds / 1e9,
                      gigabytesPerSecond: Double(2 * total * kvHeads * headDim * 4) / seconds / 1e9,
                      cpuSeconds: median(Array(cpu.dropFirst())))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
