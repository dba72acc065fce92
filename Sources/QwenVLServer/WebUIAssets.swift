import Hummingbird
import NIOCore

/// One file of the chat web page: where it is served, its content type, and its bytes.
struct WebUIAsset: Sendable {
    /// The URL path (`/`, `/webui/app.js`, …).
    let path: String
    let contentType: String
    let body: String
}

/// The chat web page served by `qwenvl serve` at `/`: plain HTML, CSS and JavaScript compiled into the binary.
///
/// No build step and nothing fetched at run time: the page, its script (``WebUIScript``), style sheet
/// (``WebUIStyle``) and icon are Swift string literals, so the single `qwenvl` executable carries them. Every
/// asset goes out with a strict Content-Security-Policy (same-origin scripts, styles and API calls only; images
/// and media also from `data:` and `blob:` URLs, which is how attached files are shown), `nosniff` and no
/// framing. ``ServerOptions/serveWebUI`` false (`--no-ui`) leaves the routes out, so `/` answers 404.
enum WebUIAssets {
    /// The policy sent with every asset.
    static let contentSecurityPolicy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
        "media-src 'self' data: blob:", "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'none'",
        "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    /// The page's files.
    static let all: [WebUIAsset] = [
        WebUIAsset(path: "/", contentType: "text/html; charset=utf-8", body: WebUIPage.html),
        WebUIAsset(path: "/webui/app.js", contentType: "text/javascript; charset=utf-8", body: WebUIScript.source),
        WebUIAsset(path: "/webui/style.css", contentType: "text/css; charset=utf-8", body: WebUIStyle.source),
        WebUIAsset(path: "/webui/icon.svg", contentType: "image/svg+xml", body: icon),
    ]

    /// The page icon: a rounded square with a box corner mark.
    static let icon = #"""
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#4f46e5"/>\#
        <rect x="14" y="14" width="36" height="36" rx="3" fill="none" stroke="#fff" stroke-width="5" stroke-dasharray="14 8"/>\#
        <circle cx="32" cy="32" r="6" fill="#fbbf24"/></svg>
        """#

    /// Registers `GET` for every asset.
    static func addRoutes(to router: Router<ServerRequestContext>) {
        for asset in all {
            router.get(RouterPath(asset.path)) { _, _ in response(asset) }
        }
    }

    /// The response for `asset`: its bytes with the content type and the security headers.
    static func response(_ asset: WebUIAsset) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-cache"
        for (name, value) in [("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY")] {
            if let name = HTTPFields.Element.Name(name) { headers[name] = value }
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: asset.body)))
    }
}
