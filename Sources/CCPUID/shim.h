// CPU identification for run-time kernel choice: x86 cpuid/xgetbv through the compiler's <cpuid.h>, Linux's AMX
// permission request (arch_prctl), and aarch64 hardware capabilities (getauxval). Header only; nothing to link.
#ifndef QWENVL_CCPUID_SHIM_H
#define QWENVL_CCPUID_SHIM_H
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/// Runs cpuid(leaf, subleaf) into out[0..3] = eax, ebx, ecx, edx; returns 0 when the leaf is above the maximum.
static inline int qwenvl_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    unsigned int a = 0, b = 0, c = 0, d = 0;
    unsigned int maximum = __get_cpuid_max(leaf & 0x80000000u, 0);
    if (maximum == 0 || leaf > maximum) { out[0] = out[1] = out[2] = out[3] = 0; return 0; }
    __cpuid_count(leaf, subleaf, a, b, c, d);
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
    return 1;
}

/// XCR0 (the register states the OS saves); callers check cpuid's OSXSAVE bit first.
static inline uint64_t qwenvl_xgetbv0(void) {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/// Asks Linux for permission to use AMX tile data (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 18); 1 when granted.
static inline int qwenvl_request_amx(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0 ? 1 : 0;
#else
    return 0;
#endif
}
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
/// AT_HWCAP and AT_HWCAP2 of this process.
static inline uint64_t qwenvl_hwcap(void) { return (uint64_t)getauxval(AT_HWCAP); }
static inline uint64_t qwenvl_hwcap2(void) { return (uint64_t)getauxval(AT_HWCAP2); }
#endif

#endif
