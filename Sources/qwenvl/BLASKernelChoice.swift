import Foundation
import QwenVLCore

/// Makes OpenBLAS run the kernels this CPU should use (``BLASCoreChoice``) before anything else runs.
///
/// OpenBLAS picks its kernels once, when the library loads, and only `OPENBLAS_CORETYPE` in the environment changes
/// the pick; so when the loaded core differs from the preferred one the command sets it and re-executes itself once.
/// A value the user already set is kept, and `QWENVL_BLAS_CORE=default` turns the choice off; in both cases a core that
/// leaves the CPU's AVX2/AVX-512 unused is reported on stderr.
enum BLASKernelChoice {
    static func applyBeforeStart() {
        let environment = ProcessInfo.processInfo.environment
        let cpu = CPUFeatures.current
        let current = Parallel.blasCore
        if environment["OPENBLAS_CORETYPE"] == nil, environment["QWENVL_BLAS_CORE"] != "default",
           let core = BLASCoreChoice.preferred(for: cpu, current: current) {
            setenv("OPENBLAS_CORETYPE", core, 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            // execv returns only when it failed: go on with the kernels OpenBLAS chose.
            unsetenv("OPENBLAS_CORETYPE")
        }
        if let warning = BLASCoreChoice.slowCoreWarning(for: cpu, current: current) {
            printError("warning: " + warning)
        }
    }
}
