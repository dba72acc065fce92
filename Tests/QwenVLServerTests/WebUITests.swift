import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest
@testable import QwenVLServer

/// The chat page's routes: `GET /` and its assets with their content types and security headers, none with `--no-ui`.
final class WebUITests: XCTestCase {
    func testPageAndAssetsAreServedWithContentTypesAndCSP() async throws {
        try await withServer { client, _ in
            let page = try await client.execute(uri: "/", method: .get)
            XCTAssertEqual(page.status, .ok)
            XCTAssertEqual(page.headers[.contentType], "text/html; charset=utf-8")
            let csp = try XCTUnwrap(page.headers[.contentSecurityPolicy])
            for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
                              "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'"] {
                XCTAssertTrue(csp.contains(directive), "CSP '\(csp)' lacks \(directive)")
            }
            XCTAssertFalse(csp.contains("unsafe-inline"), csp)
            XCTAssertFalse(csp.contains("unsafe-eval"), csp)
            XCTAssertEqual(page.headers[.xContentTypeOptions], "nosniff")
            XCTAssertEqual(page.headers[try XCTUnwrap(HTTPFields.Element.Name("Referrer-Policy"))], "no-referrer")
            XCTAssertEqual(page.headers[try XCTUnwrap(HTTPFields.Element.Name("X-Frame-Options"))], "DENY")
            let html = String(buffer: page.body)
            XCTAssertTrue(html.hasPrefix("<!doctype html>"), String(html.prefix(40)))
            XCTAssertTrue(html.contains(#"<script src="/webui/app.js" defer></script>"#))
            XCTAssertTrue(html.contains(#"<link rel="stylesheet" href="/webui/style.css">"#))
            // The CSP forbids inline code, so the page must hold none.
            XCTAssertFalse(html.contains("<script>"), "inline script")
            XCTAssertFalse(html.contains("<style"), "inline style")
            XCTAssertFalse(html.contains(" style="), "style attribute")
            XCTAssertFalse(html.contains(" onclick="), "inline handler")
            XCTAssertFalse(html.contains("http://") || html.contains("https://"), "the page loads nothing from elsewhere")

            for (path, type, marker) in [("/webui/app.js", "text/javascript; charset=utf-8", "/v1/chat/completions"),
                                         ("/webui/style.css", "text/css; charset=utf-8", ".figure"),
                                         ("/webui/icon.svg", "image/svg+xml", "<svg")] {
                let asset = try await client.execute(uri: path, method: .get)
                XCTAssertEqual(asset.status, .ok, path)
                XCTAssertEqual(asset.headers[.contentType], type, path)
                XCTAssertEqual(asset.headers[.contentSecurityPolicy], csp, path)
                XCTAssertTrue(String(buffer: asset.body).contains(marker), "\(path) lacks \(marker)")
            }
            // Unknown asset paths are the API's 404.
            try assertAPIError(try await client.execute(uri: "/webui/missing.js", method: .get), status: 404, code: "not_found")
        }
    }

    func testNoUIServesNoPage() async throws {
        var options = ServerOptions()
        options.serveWebUI = false
        XCTAssertTrue(ServerOptions().serveWebUI, "the page is on by default")
        try await withServer(options) { client, _ in
            for path in ["/", "/webui/app.js", "/webui/style.css", "/webui/icon.svg"] {
                try assertAPIError(try await client.execute(uri: path, method: .get), status: 404, code: "not_found")
            }
            let health = try await client.execute(uri: "/health", method: .get)
            XCTAssertEqual(health.status, .ok, "the API is still served")
        }
    }
}
