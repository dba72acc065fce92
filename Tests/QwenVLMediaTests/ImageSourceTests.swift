import Foundation
import XCTest
@testable import QwenVLMedia

/// Image references resolve like qwen-vl-utils' fetch_image: paths, file:// URLs, base64 data URLs, http(s).
final class ImageSourceTests: XCTestCase {
    func testReferenceParsingFollowsFetchImage() throws {
        XCTAssertEqual(try ImageSource(reference: "https://example.com/a.png"),
                       .remote(URL(string: "https://example.com/a.png")!))
        XCTAssertEqual(try ImageSource(reference: "file:///tmp/a%20b.png"), .file(path: "/tmp/a%20b.png"))
        XCTAssertEqual(try ImageSource(reference: "data:image/png;base64,iVBO"), .base64(payload: "iVBO"))
        XCTAssertEqual(try ImageSource(reference: "images/cat.jpg"), .file(path: "images/cat.jpg"))
        XCTAssertThrowsError(try ImageSource(reference: "data:text/plain;base64,aGk=")) {
            guard case .invalidReference? = $0 as? MediaError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try ImageSource(reference: "data:image/png,rawbytes"))
    }

    func testBase64MatchesPythonB64decode() throws {
        let cases = try MediaFixtures.manifest("base64_cases.json",
                                               as: MediaFixtures.Manifest<MediaFixtures.Base64Case>.self).cases
        XCTAssertGreaterThanOrEqual(cases.count, 15)
        for item in cases {
            do {
                let bytes = try PythonBase64.decode(item.input)
                XCTAssertTrue(item.ok, "\(item.name): Python fails (\(item.error ?? "")) but we decoded")
                XCTAssertEqual(bytes.map { String(format: "%02x", $0) }.joined(), item.hex, item.name)
            } catch let error as MediaError {
                XCTAssertFalse(item.ok, "\(item.name): Python decodes but we threw \(error)")
                guard case .invalidBase64(let reason) = error, let expected = item.error else { continue }
                XCTAssertTrue(expected.contains(reason), "\(item.name): '\(reason)' vs Python '\(expected)'")
            }
        }
    }

    func testDataURLFilePathAndFileURLGiveTheSameImage() async throws {
        let path = MediaFixtures.url("decode/png_rgba8.png").path
        let expected = try ImageDecoder().decode(contentsOfFile: path)
        let payload = try MediaFixtures.data("decode/png_rgba8.png").base64EncodedString(options: .lineLength76Characters)
        for reference in [path, "file://" + path, "data:image/png;base64," + payload] {
            let image = try await ImageSource(reference: reference).loadImage()
            XCTAssertEqual(image, expected, String(reference.prefix(40)))
        }
    }

    func testInvalidBase64DataURL() async throws {
        let source = try ImageSource(reference: "data:image/png;base64,iVBORw0KGgoA=A")
        do {
            _ = try await source.loadData()
            XCTFail("invalid base64 accepted")
        } catch let error as MediaError {
            guard case .invalidBase64 = error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.description.contains("base64"))
        }
    }

    func testHTTPDownloadFromLoopbackServer() async throws {
        let png = try MediaFixtures.data("decode/png_palette8.png")
        let server = try LoopbackHTTPServer(okBody: png)
        defer { server.stop() }
        let limits = ImageSource.Limits(timeout: 1, maxDownloadBytes: 256 * 1024)

        let image = try await ImageSource.remote(server.url("/ok")).loadImage(limits: limits)
        XCTAssertEqual(image, try ImageDecoder().decode(png))

        await assertDownloadError(server.url("/missing"), limits) {
            guard case .downloadFailed(_, let reason) = $0 else { return false }
            return reason.contains("404")
        }
        await assertDownloadError(server.url("/huge-declared"), limits) {
            $0 == .downloadTooLarge(url: server.url("/huge-declared").absoluteString, limit: 256 * 1024)
        }
        await assertDownloadError(server.url("/huge-streamed"), limits) {
            guard case .downloadTooLarge = $0 else { return false }
            return true
        }
        let start = Date()
        await assertDownloadError(server.url("/stall"), limits) {
            guard case .downloadFailed(_, let reason) = $0 else { return false }
            return reason.contains("timed out")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    private func assertDownloadError(_ url: URL, _ limits: ImageSource.Limits,
                                     _ matches: (MediaError) -> Bool, line: UInt = #line) async {
        do {
            _ = try await ImageSource.remote(url).loadData(limits: limits)
            XCTFail("\(url) downloaded without error", line: line)
        } catch let error as MediaError {
            XCTAssertTrue(matches(error), "\(url): \(error)", line: line)
        } catch {
            XCTFail("\(url): untyped error \(error)", line: line)
        }
    }
}
