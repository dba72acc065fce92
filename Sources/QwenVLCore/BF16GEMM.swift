import CDNNL
import Foundation
import Synchronization

/// Matrix products with bfloat16 inputs and float32 accumulation, on oneDNN's AVX-512-BF16 (`vdpbf16ps`) or AMX kernels.
///
/// A CPU with bf16 dot-product instructions multiplies two bf16 values per f32 lane and instruction: twice the work
/// of an f32 FMA. Prefill and the vision encoder spend almost all their time in `x[n, cols] · Wᵀ` with bf16 weights
/// (or q8/q4 blocks that decode to values a bf16 holds to within the quantization error), so on such a CPU they
/// round the activations `x` to bf16 (round-to-nearest-even), keep the weights as they are, and accumulate in f32
/// — what HF transformers computes when it runs a bf16 checkpoint in bf16, with f32 accumulation on top.
///
/// The rule, a pure function of the CPU, the environment and the product's size (``WeightMatrix/usesBF16GEMM(count:)``):
/// - oneDNN must report an ISA with bf16 dot products (`avx512_core_bf16` or `avx512_core_amx`) and a probe product
///   must pick a JIT kernel (never its reference C loops); otherwise every product stays on f32 sgemm.
/// - weights stored as bf16, q8 or q4 (f32 checkpoints keep f32 arithmetic; f16 would lose mantissa bits);
/// - at least ``minimumCount`` rows of x and a matrix of at least 256 × 256: small products (the test fixtures'
///   16- and 32-wide layers, decode steps) keep the f32 path and its bit-exact results.
/// `QWENVL_BF16_GEMM=0` (or a `QWENVL_ISA` below avx512) turns it off (f32 everywhere, as the float32 reference); `QWENVL_BF16_GEMM=1` keeps it on
/// for products of any size.
public enum BF16GEMM {
    /// How products choose their arithmetic.
    public enum Mode: Int, Sendable {
        /// bf16 products for large matrices when the CPU has bf16 dot products (the default).
        case automatic = 0
        /// bf16 products for every product with bf16/q8/q4 weights (tests of this path; needs a capable CPU).
        case always = 1
        /// f32 sgemm everywhere.
        case never = 2
    }

    /// Fewest rows of x (tokens, patches) for which a large product takes the bf16 path in ``Mode/automatic``: every
    /// matrix-matrix product (one or two rows run the matrix-vector kernels). Even a 16-token prefill gains: it reads
    /// the bf16 weights once instead of widening all of them to f32 tiles first (2B, Zen 4: a 20-token prompt's first
    /// token 0.73 s → 0.28 s).
    public static let minimumCount = 3

    private static let modeStorage = Atomic<Int>(initialMode.rawValue)

    private static var initialMode: Mode {
        switch ProcessInfo.processInfo.environment["QWENVL_BF16_GEMM"] {
        case "0", "off", "false", "f32": return .never
        case "1", "on", "true", "always": return .always
        default: return .automatic
        }
    }

    /// The mode products use now.
    public static var mode: Mode {
        get { Mode(rawValue: modeStorage.load(ordering: .relaxed)) ?? .automatic }
        set { modeStorage.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// oneDNN's instruction-set level on this CPU (e.g. "avx512_core_bf16"), or why the library is unusable.
    public static let libraryISA: String = {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_sse41: return "sse41"
        default: return "unknown"
        }
    }()

    /// The kernel oneDNN picked for a probe product (e.g. "brg:avx512_core_bf16"), nil when bf16 products are
    /// unavailable on this CPU.
    public static let kernelName: String? = {
        #if arch(x86_64)
        guard ["avx512_core_bf16", "avx512_core_amx"].contains(libraryISA), let engine else { return nil }
        guard let probe = try? Primitive(Key(m: 64, n: 64, k: 64, ldb: 64, ldc: 64, accumulate: false), engine: engine) else { return nil }
        // A reference implementation ("ref:any") would be orders of magnitude slower than sgemm: never use it.
        return probe.implementation.hasPrefix("ref") ? nil : probe.implementation
        #else
        return nil
        #endif
    }()

    /// Whether this CPU runs bf16 products at all (see the type's rules). `QWENVL_ISA=avx2` or `baseline` stands in
    /// for a CPU without AVX-512, so it turns them off too.
    public static var isSupported: Bool { kernelName != nil && !forcedBelowAVX512 }

    private static let forcedBelowAVX512: Bool = {
        guard KernelSet.isForced, case .success(let set) = KernelSet.startup.choice else { return false }
        return set.isa < .avx512
    }()

    /// One line for `bench`/`inspect`: which arithmetic large bf16/q8/q4 products use.
    public static var report: String {
        guard let kernel = kernelName else { return "f32 sgemm (no bf16 dot products: oneDNN ISA \(libraryISA))" }
        if forcedBelowAVX512 { return "f32 sgemm (QWENVL_ISA below avx512; oneDNN \(kernel) available)" }
        switch mode {
        case .never: return "f32 sgemm (QWENVL_BF16_GEMM=0; oneDNN \(kernel) available)"
        case .always: return "oneDNN \(kernel), bf16 inputs, f32 accumulation (every product)"
        case .automatic: return "oneDNN \(kernel), bf16 inputs, f32 accumulation (n ≥ \(minimumCount), matrices ≥ 256×256)"
        }
    }

    /// oneDNN's CPU engine (thread-safe; created once).
    private struct Engine: @unchecked Sendable { var handle: dnnl_engine_t }
    private static let engineBox: Engine? = {
        var engine: dnnl_engine_t?
        guard dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success, let engine else { return nil }
        return Engine(handle: engine)
    }()
    private static var engine: dnnl_engine_t? { engineBox?.handle }

    /// Shape of one product: C[m, n] (+)= A[m, k] · B[k, n] with A rows `k` apart, B column-major with columns `ldb`
    /// apart (a row-major [n, ldb] weight block), C rows `ldc` apart.
    struct Key: Hashable { var m, n, k, ldb, ldc: Int; var accumulate: Bool }

    /// A created oneDNN matmul and its memory descriptors (executable from any thread at once).
    final class Primitive: @unchecked Sendable {
        let handle: dnnl_primitive_t
        var source = dnnl_memory_desc_t(), weights = dnnl_memory_desc_t(), destination = dnnl_memory_desc_t()
        let implementation: String

        struct Failure: Error { var status: dnnl_status_t }

        init(_ key: Key, engine: dnnl_engine_t) throws {
            func check(_ status: dnnl_status_t) throws { if status != dnnl_success { throw Failure(status: status) } }
            try check(dnnl_memory_desc_init_by_strides(&source, 2, [Int64(key.m), Int64(key.k)], dnnl_bf16, [Int64(key.k), 1]))
            try check(dnnl_memory_desc_init_by_strides(&weights, 2, [Int64(key.k), Int64(key.n)], dnnl_bf16, [1, Int64(key.ldb)]))
            try check(dnnl_memory_desc_init_by_strides(&destination, 2, [Int64(key.m), Int64(key.n)], dnnl_f32, [Int64(key.ldc), 1]))
            var desc = dnnl_matmul_desc_t()
            try check(dnnl_matmul_desc_init(&desc, &source, &weights, nil, &destination))
            var attr: dnnl_primitive_attr_t?
            try check(dnnl_primitive_attr_create(&attr))
            defer { dnnl_primitive_attr_destroy(attr) }
            if key.accumulate {
                var postOps: dnnl_post_ops_t?
                try check(dnnl_post_ops_create(&postOps))
                defer { dnnl_post_ops_destroy(postOps) }
                try check(dnnl_post_ops_append_sum(postOps, 1))
                try check(dnnl_primitive_attr_set_post_ops(attr, postOps))
            }
            var pd: dnnl_primitive_desc_t?
            try check(withUnsafePointer(to: &desc) { dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), attr, engine, nil) })
            defer { dnnl_primitive_desc_destroy(pd) }
            var info: UnsafePointer<CChar>?
            _ = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info)
            implementation = info.map { String(cString: $0) } ?? "unknown"
            var primitive: dnnl_primitive_t?
            try check(dnnl_primitive_create(&primitive, pd))
            handle = primitive!
        }

        deinit { dnnl_primitive_destroy(handle) }

        /// Runs C (+)= A · B on the calling thread (oneDNN asked for one OpenMP thread).
        func run(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeMutablePointer<Float>, engine: dnnl_engine_t) {
            omp_set_num_threads(1)
            var stream: dnnl_stream_t?
            var memories: [dnnl_memory_t?] = [nil, nil, nil]
            dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue)
            dnnl_memory_create(&memories[0], &source, engine, UnsafeMutableRawPointer(mutating: a))
            dnnl_memory_create(&memories[1], &weights, engine, UnsafeMutableRawPointer(mutating: b))
            dnnl_memory_create(&memories[2], &destination, engine, UnsafeMutableRawPointer(c))
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: memories[0]), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: memories[1]),
                        dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: memories[2])]
            let status = dnnl_primitive_execute(handle, stream, 3, &args)
            precondition(status == dnnl_success, "oneDNN matmul failed with status \(status.rawValue)")
            dnnl_stream_wait(stream)
            for memory in memories { dnnl_memory_destroy(memory) }
            dnnl_stream_destroy(stream)
        }
    }

    private static let primitives = Mutex<[Key: Primitive]>([:])

    /// The matmul for `key`, created on first use (creation JIT-compiles a kernel: ~1 ms).
    static func primitive(_ key: Key) -> Primitive {
        if let cached = primitives.withLock({ $0[key] }) { return cached }
        guard let engine, let created = try? Primitive(key, engine: engine) else {
            fatalError("oneDNN could not create a bf16 matmul \(key) although a probe succeeded")
        }
        return primitives.withLock { cache in
            if let other = cache[key] { return other }
            if cache.count > 4096 { cache.removeAll() }
            cache[key] = created
            return created
        }
    }

    /// C[m, n] (+)= A[m, k] · Bᵀ for bf16 A (rows `k` apart) and bf16 B stored row-major [n, ldb], f32 C with rows
    /// `ldc` apart, on the calling thread.
    static func multiply(_ a: UnsafeRawPointer, m: Int, k: Int, _ b: UnsafeRawPointer, n: Int, ldb: Int,
                         _ c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        primitive(Key(m: m, n: n, k: k, ldb: ldb, ldc: ldc, accumulate: accumulate)).run(a, b, c, engine: engine!)
    }

    /// Rounds `count` floats to bfloat16, to nearest with ties to even (NaN stays NaN).
    public static func round(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt16>) {
        var i = 0
        let raw = UnsafeRawPointer(x), dst = UnsafeMutableRawPointer(out)
        while i + 16 <= count {
            let bits = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<UInt32>.self)
            // The rounded value sits in each lane's high half (odd 16-bit lanes, little-endian): one shuffle packs them.
            var rounded = bits &+ 0x7FFF &+ ((bits &>> 16) & 1)
            // NaN stays (quiet) NaN; the mask in integer arithmetic (a SIMD comparison here compiles to scalar code).
            let nan = 0 &- ((0x7F80_0000 &- (bits & 0x7FFF_FFFF)) &>> 31)         // all ones where |x| > infinity
            rounded = (rounded & ~nan) | ((bits | 0x40_0000) & nan)
            dst.storeBytes(of: unsafeBitCast(rounded, to: SIMD32<UInt16>.self).oddHalf, toByteOffset: i * 2, as: SIMD16<UInt16>.self)
            i += 16
        }
        while i < count { out[i] = roundOne(x[i]); i += 1 }
    }

    /// One float rounded to bfloat16 (as ``round(_:count:into:)``).
    @inline(__always)
    public static func roundOne(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }
}

/// One reusable bf16 scratch buffer per thread (rounded activations, decoded weight tiles).
enum BF16Scratch {
    private final class Buffer {
        var pointer: UnsafeMutableRawPointer
        var capacity: Int
        init(capacity: Int) { self.capacity = capacity; pointer = .allocate(byteCount: capacity * 2, alignment: 64) }
        deinit { pointer.deallocate() }
    }

    private static let keys: [pthread_key_t] = (0..<2).map { _ in
        var key = pthread_key_t()
        pthread_key_create(&key) { value in
            if let value = value as UnsafeMutableRawPointer? { Unmanaged<AnyObject>.fromOpaque(value).release() }
        }
        return key
    }

    /// This thread's scratch number `slot` (0 or 1) with room for `count` bf16 values (contents undefined).
    static func values(_ count: Int, slot: Int) -> UnsafeMutablePointer<UInt16> {
        let key = keys[slot]
        if let raw = pthread_getspecific(key) {
            let buffer = Unmanaged<Buffer>.fromOpaque(raw).takeUnretainedValue()
            if buffer.capacity < count {
                buffer.pointer.deallocate()
                buffer.capacity = count
                buffer.pointer = .allocate(byteCount: count * 2, alignment: 64)
            }
            return buffer.pointer.assumingMemoryBound(to: UInt16.self)
        }
        let buffer = Buffer(capacity: count)
        pthread_setspecific(key, Unmanaged.passRetained(buffer).toOpaque())
        return buffer.pointer.assumingMemoryBound(to: UInt16.self)
    }
}

extension WeightMatrix {
    /// Whether `x[n, cols] · Wᵀ` runs as a bf16 product (see ``BF16GEMM``).
    public func usesBF16GEMM(count n: Int) -> Bool {
        guard encoding == .bf16 || encoding == .q8 || encoding == .q4 else { return false }
        switch BF16GEMM.mode {
        case .never: return false
        case .always: return BF16GEMM.isSupported
        case .automatic: return n >= BF16GEMM.minimumCount && rows >= 256 && cols >= 256 && BF16GEMM.isSupported
        }
    }

    /// y[n, rows] = x[n, cols] · Wᵀ (+ bias) (+ y when `accumulate`) with x rounded to bf16, f32 accumulation.
    ///
    /// Threads split the rows of W as the sgemm path does; each runs one-thread oneDNN products on its rows: bf16
    /// weights straight from their (memory-mapped) storage, q8/q4 weights decoded tile by tile to bf16.
    func gemmBF16(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, accumulate: Bool) {
        let (rows, cols, base, stride, encoding) = (rows, cols, base, rowStride, encoding)
        let rounded = UnsafeMutablePointer<UInt16>.allocate(capacity: n * cols)      // [n, cols] bf16
        defer { rounded.deallocate() }
        Parallel.forChunks(n, minChunk: 8) { range in
            BF16GEMM.round(x + range.lowerBound * cols, count: range.count * cols, into: rounded + range.lowerBound * cols)
        }
        let quantized = encoding == .q8 || encoding == .q4
        let ld = quantized ? Q8Blocks.superBlocks(cols: cols) * Q8Blocks.superBlockSize : cols
        Parallel.forChunks(rows, minChunk: 16) { range in
            func prepare(_ r0: Int, _ count: Int) -> Bool {
                Self.seedBias(y, n: n, rows: rows, r0, count, bias: bias, accumulate: accumulate)
            }
            if encoding == .bf16 {
                let sum = prepare(range.lowerBound, range.count)
                BF16GEMM.multiply(rounded, m: n, k: cols, base + range.lowerBound * stride, n: range.count, ldb: stride / 2,
                                  y + range.lowerBound, ldc: rows, accumulate: sum)
                return
            }
            let tile = max(16, min(range.count, (2 << 20) / max(ld, 1)))
            let decoded = GemmScratch.floats(ld)
            let tileValues = BF16Scratch.values(tile * ld, slot: 0)                  // [tile, ld] bf16
            var r0 = range.lowerBound
            while r0 < range.upperBound {
                let count = min(tile, range.upperBound - r0)
                for i in 0..<count {
                    decodeRow(r0 + i, ld: ld, into: decoded)
                    BF16GEMM.round(decoded, count: ld, into: tileValues + i * ld)
                }
                let sum = prepare(r0, count)
                BF16GEMM.multiply(rounded, m: n, k: cols, tileValues, n: count, ldb: ld, y + r0, ldc: rows, accumulate: sum)
                r0 += count
            }
        }
    }
}
