import Foundation
import XCTest
import QwenVLMedia

/// Speed of the bicubic resize on a 12-megapixel photo, and of decoding files named in
/// `QWENVL_MEDIA_BENCH_FILES` (comma-separated paths). Skipped unless `QWENVL_MEDIA_BENCH=1`; run in release:
/// `QWENVL_MEDIA_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter MediaBenchmarkTests`.
final class MediaBenchmarkTests: XCTestCase {
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

    func testDecodeFiles() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["QWENVL_MEDIA_BENCH"] == "1", let list = environment["QWENVL_MEDIA_BENCH_FILES"] else {
            throw XCTSkip("set QWENVL_MEDIA_BENCH=1 and QWENVL_MEDIA_BENCH_FILES=a.jpg,b.png to time decoding")
        }
        for path in list.split(separator: ",").map(String.init) {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            var times: [Double] = []
            var size = (0, 0)
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                let image = try ImageDecoder().decode(data)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                size = (image.width, image.height)
            }
            times.sort()
            print(String(format: "decode %@ (%d×%d, %d bytes): median %.3f s", (path as NSString).lastPathComponent,
                         size.0, size.1, data.count, times[2]))
        }
    }
}
