#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import QwenVLCore

final class HeapTuningTests: XCTestCase {
    /// A freed 20 MiB activation-sized block is reused without faulting in fresh pages.
    func testLargeBlockIsReusedWithoutNewPageFaults() throws {
        #if canImport(Glibc)
        HeapTuning.keepLargeBlocks()
        XCTAssertTrue(HeapTuning.isApplied)
        let bytes = 20 << 20, pages = bytes / 4096
        func touchFresh() -> Int {
            var before = rusage(), after = rusage()
            getrusage(RUSAGE_SELF.rawValue, &before)
            let p = malloc(bytes)!.assumingMemoryBound(to: UInt8.self)
            for i in stride(from: 0, to: bytes, by: 4096) { p[i] = UInt8(truncatingIfNeeded: i >> 12) }
            getrusage(RUSAGE_SELF.rawValue, &after)
            free(p)
            return after.ru_minflt - before.ru_minflt
        }
        _ = touchFresh()   // first use may grow the heap
        let faults = touchFresh()
        // Without the tuning glibc maps and unmaps the block each time: one fault per page (5,120).
        XCTAssertLessThan(faults, pages / 10, "a freed 20 MiB block was given back to the kernel")
        #else
        throw XCTSkip("glibc only")
        #endif
    }
}
