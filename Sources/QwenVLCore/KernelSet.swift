import Foundation
import KernelInterface
import KernelsAVX2
import KernelsAVX512
import KernelsBaseline
import Synchronization

/// One set of decode kernels (matrix-vector products of every encoding, batched or not, and their x-preparation),
/// compiled for one instruction set: the dispatch table the matrix-vector products call through.
///
/// The binary carries every set (targets `KernelsBaseline` = plain x86-64 / aarch64, `KernelsAVX2` = haswell,
/// `KernelsAVX512` = cascadelake, one source in Sources/KernelSources). The best set the CPU runs is chosen once at
/// start-up from ``CPUFeatures``; `QWENVL_ISA=baseline|avx2|avx512` forces a lower one. Calls go through the table
/// once per row range (64 rows or more), never per element.
public struct KernelSet: Sendable, CustomStringConvertible {
    /// The instruction sets a kernel set can be compiled for, lowest first.
    public enum ISA: String, Sendable, CaseIterable, Comparable {
        case baseline, avx2, avx512

        public static func < (a: ISA, b: ISA) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

        /// The CPU features the set's `-target-cpu` lets the compiler use (the ones ``CPUFeatures`` detects).
        public var requiredFeatures: [CPUFeatures.Feature] {
            switch self {
            case .baseline: return []
            case .avx2: return [.avx, .avx2, .fma, .f16c]
            case .avx512: return [.avx, .avx2, .fma, .f16c, .avx512f, .avx512dq, .avx512bw, .avx512vl, .avx512vnni]
            }
        }

        /// Whether `cpu` can run this set.
        public func runs(on cpu: CPUFeatures) -> Bool {
            switch self {
            case .baseline: return true
            case .avx2, .avx512: return cpu.architecture == .x86_64 && requiredFeatures.allSatisfy(cpu.has)
            }
        }
    }

    public let isa: ISA
    /// What the dense (bf16/f32/f16) and the quantized (q8/q4) products run, for the kernel report.
    public let denseKernel: String, quantizedKernel: String
    let splitBF16: @Sendable (UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>) -> Void
    let bf16Rows: @Sendable (DenseProduct, Range<Int>) -> Void
    let f32Rows: @Sendable (DenseProduct, Range<Int>) -> Void
    let f16Rows: @Sendable (DenseProduct, Range<Int>) -> Void
    let quantizeQ8: @Sendable (UnsafePointer<Float>, Int, UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Float>) -> Void
    let quantizeQ4: @Sendable (UnsafePointer<Float>, Int, UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    let q8Rows: @Sendable (QuantizedProduct, Range<Int>) -> Void
    let q4Rows: @Sendable (QuantizedProduct, Range<Int>) -> Void

    public var description: String { isa.rawValue }

    /// Every set compiled into this binary, lowest first.
    public static let all: [KernelSet] = [
        KernelSet(isa: .baseline, denseKernel: KernelsBaseline.kernelDescriptions.dense,
                  quantizedKernel: KernelsBaseline.kernelDescriptions.quantized,
                  splitBF16: { KernelsBaseline.splitBF16($0, cols: $1, count: $2, into: $3) },
                  bf16Rows: KernelsBaseline.bf16Rows, f32Rows: KernelsBaseline.f32Rows, f16Rows: KernelsBaseline.f16Rows,
                  quantizeQ8: { KernelsBaseline.quantizeQ8($0, superBlocks: $1, into: $2, scales: $3) },
                  quantizeQ4: { KernelsBaseline.quantizeQ4($0, superBlocks: $1, into: $2, scales: $3, blockSums: $4) },
                  q8Rows: KernelsBaseline.q8Rows, q4Rows: KernelsBaseline.q4Rows),
        KernelSet(isa: .avx2, denseKernel: KernelsAVX2.kernelDescriptions.dense,
                  quantizedKernel: KernelsAVX2.kernelDescriptions.quantized,
                  splitBF16: { KernelsAVX2.splitBF16($0, cols: $1, count: $2, into: $3) },
                  bf16Rows: KernelsAVX2.bf16Rows, f32Rows: KernelsAVX2.f32Rows, f16Rows: KernelsAVX2.f16Rows,
                  quantizeQ8: { KernelsAVX2.quantizeQ8($0, superBlocks: $1, into: $2, scales: $3) },
                  quantizeQ4: { KernelsAVX2.quantizeQ4($0, superBlocks: $1, into: $2, scales: $3, blockSums: $4) },
                  q8Rows: KernelsAVX2.q8Rows, q4Rows: KernelsAVX2.q4Rows),
        KernelSet(isa: .avx512, denseKernel: KernelsAVX512.kernelDescriptions.dense,
                  quantizedKernel: KernelsAVX512.kernelDescriptions.quantized,
                  splitBF16: { KernelsAVX512.splitBF16($0, cols: $1, count: $2, into: $3) },
                  bf16Rows: KernelsAVX512.bf16Rows, f32Rows: KernelsAVX512.f32Rows, f16Rows: KernelsAVX512.f16Rows,
                  quantizeQ8: { KernelsAVX512.quantizeQ8($0, superBlocks: $1, into: $2, scales: $3) },
                  quantizeQ4: { KernelsAVX512.quantizeQ4($0, superBlocks: $1, into: $2, scales: $3, blockSums: $4) },
                  q8Rows: KernelsAVX512.q8Rows, q4Rows: KernelsAVX512.q4Rows),
    ]

    /// The set compiled for `isa`.
    public static func set(_ isa: ISA) -> KernelSet { all.first { $0.isa == isa }! }

    /// The sets `cpu` can run, lowest first.
    public static func supported(on cpu: CPUFeatures = .current) -> [KernelSet] { all.filter { $0.isa.runs(on: cpu) } }

    /// Why a requested set cannot be used.
    public enum SelectionError: Error, CustomStringConvertible, Equatable, Sendable {
        case unknown(String)
        case unsupported(ISA, missing: [CPUFeatures.Feature])

        public var description: String {
            switch self {
            case .unknown(let name):
                return "QWENVL_ISA=\(name) is not a kernel set (use one of: \(ISA.allCases.map(\.rawValue).joined(separator: ", ")))"
            case .unsupported(let isa, let missing):
                return "QWENVL_ISA=\(isa.rawValue): this CPU cannot run the \(isa.rawValue) kernels (missing "
                    + "\(missing.map(\.rawValue).joined(separator: " ")))"
            }
        }
    }

    /// The set for `requested` (a `QWENVL_ISA` value; nil or empty: the best one `cpu` runs).
    public static func choose(_ requested: String?, cpu: CPUFeatures = .current) -> Result<KernelSet, SelectionError> {
        guard let requested, !requested.isEmpty else { return .success(supported(on: cpu).last!) }
        guard let isa = ISA(rawValue: requested.lowercased()) else { return .failure(.unknown(requested)) }
        guard isa.runs(on: cpu) else {
            let missing = cpu.architecture == .x86_64 ? isa.requiredFeatures.filter { !cpu.has($0) } : []
            return .failure(.unsupported(isa, missing: missing))
        }
        return .success(set(isa))
    }

    /// The `QWENVL_ISA` value of this process, and what choosing from it gave.
    static let startup: (requested: String?, choice: Result<KernelSet, SelectionError>) = {
        let requested = getenv("QWENVL_ISA").map { String(cString: $0) }
        return (requested, choose(requested))
    }()

    /// The error `QWENVL_ISA` gave at start-up (the process then runs the best set), nil when it was valid or unset.
    public static var environmentError: SelectionError? {
        if case .failure(let error) = startup.choice { return error }
        return nil
    }

    /// Whether the active set was forced by `QWENVL_ISA` rather than chosen as the best.
    public static var isForced: Bool {
        if case .success = startup.choice, let value = startup.requested, !value.isEmpty { return true }
        return false
    }

    /// Index into ``all`` of the set the products use (−1: not chosen yet).
    private static let selection = Atomic<Int>(-1)

    /// The set the matrix-vector products use: chosen once (``choose(_:cpu:)`` on `QWENVL_ISA`), changed only by
    /// ``activate(_:)``.
    public static var active: KernelSet {
        let index = selection.load(ordering: .relaxed)
        if index >= 0 { return all[index] }
        let chosen = (try? startup.choice.get()) ?? supported().last!
        let i = all.firstIndex { $0.isa == chosen.isa }!
        _ = selection.compareExchange(expected: -1, desired: i, ordering: .relaxed)
        return all[selection.load(ordering: .relaxed)]
    }

    /// Makes `isa` the active set (tests run every set the machine supports this way); throws when the CPU cannot
    /// run it. Products running at the same moment may use either set.
    public static func activate(_ isa: ISA) throws {
        guard isa.runs(on: .current) else {
            throw SelectionError.unsupported(isa, missing: isa.requiredFeatures.filter { !CPUFeatures.current.has($0) })
        }
        _ = active
        selection.store(all.firstIndex { $0.isa == isa }!, ordering: .relaxed)
    }
}
