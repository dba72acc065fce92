// swift-tools-version:6.0
import PackageDescription
import Foundation

// Release kernels use Swift SIMD types; they only become AVX2/FMA code when the compiler is told the CPU.
// Default: `-target-cpu haswell` on x86-64 (AVX2 + FMA, every x86-64 CPU since 2013/2015).
// Override with `QWENVL_TARGET_CPU=native|znver3|x86-64|...` (use `x86-64` for a portable, slow build).
let targetCPU: String? = {
    #if arch(x86_64)
    let value = ProcessInfo.processInfo.environment["QWENVL_TARGET_CPU"] ?? "haswell"
    return value.isEmpty ? nil : value
    #else
    return ProcessInfo.processInfo.environment["QWENVL_TARGET_CPU"]
    #endif
}()

let cpuSettings: [SwiftSetting] = targetCPU.map { [.unsafeFlags(["-target-cpu", $0])] } ?? []
// The model's code (kernels, tokenizer, media, grammar masks) is optimized in debug builds too: unoptimized SIMD
// loops run the fixture checkpoints 50-100× slower, which is what the test suite spends its time on. The flag comes
// after SwiftPM's -Onone, so it wins; `QWENVL_DEBUG_OPTIMIZE=0` builds them unoptimized for stepping in a debugger.
let optimizeInDebug = ProcessInfo.processInfo.environment["QWENVL_DEBUG_OPTIMIZE"] != "0"
let modelSettings: [SwiftSetting] = cpuSettings + (optimizeInDebug ? [.unsafeFlags(["-O"], .when(configuration: .debug))] : [])
// CPUIntrinsics emits AVX2 integer instructions only when the target CPU has AVX2 (every choice above but the
// x86-64 baselines); otherwise it falls back to plain Swift with the same results.
let hasAVX2: Bool = {
    guard let cpu = targetCPU else { return false }
    return !["x86-64", "x86-64-v2", "core2", "nehalem", "westmere", "sandybridge", "ivybridge", "btver2"].contains(cpu)
}()
let intrinsicsSettings: [SwiftSetting] = cpuSettings + [.unsafeFlags(["-parse-stdlib"])]
    + (hasAVX2 ? [.define("QWENVL_AVX2")] : [])
// Decode kernel sets: the same sources (Sources/KernelSources, linked into each folder) compiled once per instruction
// set, so one binary carries all of them and QwenVLCore's KernelSet picks one at start-up from the CPU's features
// (`QWENVL_ISA=baseline|avx2|avx512` forces a lower one). Each set has its own copy of the intrinsics wrappers:
// LLVM emits an AVX2 builtin only inside code compiled for a CPU that has it.
struct KernelISA { var name: String; var cpu: String; var defines: [String] }
let kernelISAs: [KernelISA] = [
    KernelISA(name: "Baseline", cpu: "x86-64", defines: ["KERNELS_BASELINE"]),
    KernelISA(name: "AVX2", cpu: "haswell", defines: ["KERNELS_AVX2", "QWENVL_AVX2", "QWENVL_FMA"]),
    // AVX-512 F/CD/BW/DQ/VL + VNNI: Skylake-SP with VNNI (Cascade Lake), Ice Lake, Sapphire Rapids, Zen 4/5.
    KernelISA(name: "AVX512", cpu: "cascadelake", defines: ["KERNELS_AVX512", "QWENVL_AVX2", "QWENVL_AVX512", "QWENVL_FMA"]),
]
func kernelFlags(_ isa: KernelISA) -> [SwiftSetting] {
    #if arch(x86_64)
    let cpu: [SwiftSetting] = [.unsafeFlags(["-target-cpu", isa.cpu])]
    let defines = isa.defines
    #else
    let cpu: [SwiftSetting] = []
    let defines = ["KERNELS_\(isa.name.uppercased())"]
    #endif
    return cpu + defines.map { .define($0) } + (optimizeInDebug ? [.unsafeFlags(["-O"], .when(configuration: .debug))] : [])
}
let kernelTargets: [Target] = kernelISAs.flatMap { isa -> [Target] in [
    .target(name: "Intrinsics\(isa.name)", swiftSettings: kernelFlags(isa) + [.unsafeFlags(["-parse-stdlib"])]),
    .target(name: "Kernels\(isa.name)", dependencies: ["KernelInterface", .target(name: "Intrinsics\(isa.name)")],
            swiftSettings: kernelFlags(isa)),
] }
let cpuCSettings: [CSetting] = targetCPU.map { [.unsafeFlags(["-march=\($0)"])] } ?? []

let package = Package(
    name: "QwenVL",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "QwenVL", targets: ["QwenVL"]),
        .library(name: "QwenVLTokenizer", targets: ["QwenVLTokenizer"]),
        .executable(name: "qwenvl", targets: ["qwenvl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        // oneDNN (bf16 matrix products on AVX-512-BF16 / AMX CPUs) and the GNU OpenMP runtime it is built on.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // glibc's mallopt (heap thresholds for large activations).
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // cpuid / xgetbv / arch_prctl (x86) and getauxval (aarch64): run-time CPU feature detection.
        .systemLibrary(name: "CCPUID", path: "Sources/CCPUID"),
        // LLVM's x86 integer multiply-add intrinsics as inlinable Swift functions (see its source file).
        .target(name: "CPUIntrinsics", swiftSettings: intrinsicsSettings),
        // Argument types and constants shared by QwenVLCore and every kernel set.
        .target(name: "KernelInterface", dependencies: ["CCPUID"], swiftSettings: modelSettings),
        .target(name: "QwenVLCore", dependencies: ["COpenBLAS", "CDNNL", "CPUIntrinsics", "CMalloc", "CCPUID", "KernelInterface",
                                                   "KernelsBaseline", "KernelsAVX2", "KernelsAVX512"], swiftSettings: modelSettings),
        .target(name: "QwenVLTokenizer", swiftSettings: modelSettings),
        // Image decoding: C libraries enter through small system-library shims only.
        .systemLibrary(name: "CJPEGTurbo", path: "Sources/CJPEGTurbo", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CWebP", path: "Sources/CWebP", providers: [.apt(["libwebp-dev"])]),
        .systemLibrary(name: "CFFmpeg", path: "Sources/CFFmpeg",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev"])]),
        .target(name: "QwenVLMedia", dependencies: ["CJPEGTurbo", "CPNG", "CWebP", "CFFmpeg"], swiftSettings: modelSettings),
        .target(name: "QwenVL", dependencies: ["QwenVLCore", "QwenVLTokenizer", "QwenVLMedia"], swiftSettings: modelSettings),
        .target(name: "QwenVLServer", dependencies: [
            "QwenVL",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: cpuSettings),
        .executableTarget(name: "qwenvl", dependencies: [
            "QwenVL", "QwenVLServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: cpuSettings),
        .testTarget(name: "QwenVLCoreTests", dependencies: ["QwenVLCore", "KernelInterface", "CPUIntrinsics", "IntrinsicsBaseline", "IntrinsicsAVX2",
                                                          "IntrinsicsAVX512"], swiftSettings: cpuSettings),
        .testTarget(name: "QwenVLTokenizerTests", dependencies: ["QwenVLTokenizer"], swiftSettings: cpuSettings),
        .testTarget(name: "QwenVLMediaTests", dependencies: ["QwenVLMedia"], swiftSettings: cpuSettings),
        .testTarget(name: "QwenVLServerTests", dependencies: [
            "QwenVLServer",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], swiftSettings: cpuSettings),
    ] + kernelTargets + [
        .testTarget(name: "QwenVLTests", dependencies: ["QwenVL"], swiftSettings: cpuSettings),
    ]
)
