import Foundation
import XCTest
import QwenVLMedia

/// Speed of the bicubic resize on a 12-megapixel photo. Skipped unless `QWENVL_MEDIA_BENCH=1`; run in release:
/// `QWENVL_MEDIA_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter ResizeBenchmarkTests`.
final class ResizeBenchmarkTests: XCTestCase {
    func testResize4032x3024() throws {
        guard ProcessInfo.processInfo.environment["QWENVL_MEDIA_BENCH"] == "1" else {
            throw XCTSkip("set QWENVL_MEDIA_BENCH=1 to run the resize benchmark")
        }
        let width = 4032, height = 3024
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        var state: UInt32 = 12345
        for i in pixels.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            pixels[i] = UInt8(truncatingIfNeeded: (i / 3 % width) / 16 + Int(state >> 28))
        }
        let image = try RGBImage(width: width, height: height, pixels: pixels)
        for (w, h) in [(1932, 1092), (1932, 1456), (644, 476), (4060, 3052)] {
            var times: [Double] = []
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                let out = try image.resized(width: w, height: h)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                XCTAssertEqual(out.pixels.count, w * h * 3)
            }
            times.sort()
            print(String(format: "resize %d×%d → %d×%d: median %.3f s (min %.3f s)", width, height, w, h,
                         times[2], times[0]))
        }
    }
}
