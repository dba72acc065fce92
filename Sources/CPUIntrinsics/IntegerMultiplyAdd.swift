// Integer multiply-add instructions that Swift's SIMD operators do not produce.
//
// This module is compiled with `-parse-stdlib` so that it can name LLVM's x86 intrinsics as `Builtin.int_*`
// (the way the standard library reaches LLVM): each wrapper is `@inlinable` and `@inline(__always)`, so a
// kernel in another module gets the bare instruction (`vpmaddubsw`, `vpmaddwd`, `prefetcht0`) inside its loop.
// `Package.swift` defines `QWENVL_AVX2` when the build targets an AVX2 CPU (the default `-target-cpu haswell`);
// otherwise, and on other architectures, the same functions are written with ordinary Swift operations, with
// identical results (including `vpmaddubsw`'s signed saturation).
import Swift

/// `vpmaddubsw`: products of unsigned bytes of `a` and signed bytes of `b`, adjacent pairs summed with signed
/// 16-bit saturation.
///
/// Result lane `i` is `clamp(a[2i]·b[2i] + a[2i+1]·b[2i+1])`: a [32] u8 × [32] s8 → [16] s16.
@inlinable @inline(__always)
public func multiplyAddPairs(_ a: SIMD32<UInt8>, _ b: SIMD32<Int8>) -> SIMD16<Int16> {
    #if arch(x86_64) && QWENVL_AVX2
    var result = SIMD16<Int16>()
    result._storage._value = Builtin.int_x86_avx2_pmadd_ub_sw(a._storage._value, b._storage._value)
    return result
    #else
    var result = SIMD16<Int16>()
    for i in 0..<16 {
        let sum = Int32(a[2 * i]) * Int32(b[2 * i]) + Int32(a[2 * i + 1]) * Int32(b[2 * i + 1])
        result[i] = Int16(clamping: sum)
    }
    return result
    #endif
}

/// `vpmaddwd`: products of signed 16-bit lanes, adjacent pairs summed in 32 bits.
///
/// Result lane `i` is `a[2i]·b[2i] + a[2i+1]·b[2i+1]` (wrapping only for −32768·−32768 twice): [16] s16 × [16] s16
/// → [8] s32.
@inlinable @inline(__always)
public func multiplyAddPairs(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
    #if arch(x86_64) && QWENVL_AVX2
    var result = SIMD8<Int32>()
    result._storage._value = Builtin.int_x86_avx2_pmadd_wd(a._storage._value, b._storage._value)
    return result
    #else
    var result = SIMD8<Int32>()
    for i in 0..<8 {
        result[i] = Int32(a[2 * i]) &* Int32(b[2 * i]) &+ Int32(a[2 * i + 1]) &* Int32(b[2 * i + 1])
    }
    return result
    #endif
}

/// `prefetcht0`: asks for the cache line holding `address` to be loaded into all cache levels; a hint only.
@inlinable @inline(__always)
public func prefetch(_ address: UnsafeRawPointer) {
    Builtin.int_prefetch_RawPointer(address._rawValue, Int32(0)._value, Int32(3)._value, Int32(1)._value)
}

/// `vpsignb`: each byte of `a` with the sign of the matching byte of `b` (negated where `b < 0`, zero where
/// `b == 0`).
///
/// Makes a signed × signed byte product fit `vpmaddubsw`: `|w| · sign(x, w) = w · x`, with `|w|` unsigned.
@inlinable @inline(__always)
public func applySigns(_ a: SIMD32<Int8>, of b: SIMD32<Int8>) -> SIMD32<Int8> {
    #if arch(x86_64) && QWENVL_AVX2
    var result = SIMD32<Int8>()
    result._storage._value = Builtin.int_x86_avx2_psign_b(a._storage._value, b._storage._value)
    return result
    #else
    var result = SIMD32<Int8>()
    for i in 0..<32 { result[i] = b[i] < 0 ? 0 &- a[i] : (b[i] == 0 ? 0 : a[i]) }
    return result
    #endif
}

/// `vpdpbusd` (AVX512-VNNI on 256-bit registers): `acc` plus, per 32-bit lane, the four products of unsigned bytes
/// of `a` and signed bytes of `b`, without saturation.
///
/// Result lane `i` is `acc[i] + Σ_{k<4} a[4i+k]·b[4i+k]`: [32] u8 × [32] s8 → [8] s32. Built as the instruction only
/// where `QWENVL_AVX512` is defined (the AVX-512 kernel set, `-target-cpu cascadelake`); plain Swift elsewhere.
@inlinable @inline(__always)
public func multiplyAddQuads(_ acc: SIMD8<Int32>, _ a: SIMD32<UInt8>, _ b: SIMD32<Int8>) -> SIMD8<Int32> {
    #if arch(x86_64) && QWENVL_AVX512
    var result = SIMD8<Int32>()
    result._storage._value = Builtin.int_x86_avx512_vpdpbusd_256(acc._storage._value,
                                                                 unsafeBitCast(a, to: SIMD8<Int32>.self)._storage._value,
                                                                 unsafeBitCast(b, to: SIMD8<Int32>.self)._storage._value)
    return result
    #else
    var result = acc
    for i in 0..<8 {
        var sum = Int32(0)
        for k in 0..<4 { sum = sum &+ Int32(a[4 * i + k]) &* Int32(b[4 * i + k]) }
        result[i] = result[i] &+ sum
    }
    return result
    #endif
}

/// Whether these wrappers were compiled to AVX2 instructions (`QWENVL_AVX2`) rather than their plain-Swift fallbacks.
public let integerMultiplyAddIsAVX2: Bool = {
    #if arch(x86_64) && QWENVL_AVX2
    return true
    #else
    return false
    #endif
}()
