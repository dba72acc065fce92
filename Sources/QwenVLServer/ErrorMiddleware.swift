import Hummingbird
import Logging

/// Turns every error thrown by a route (or the router's 404) into OpenAI's error JSON and counts it.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let failure: APIError
        do {
            let response = try await next(request, context)
            if response.status.code >= 400 { metrics.errorSent(status: response.status.code) }
            return response
        } catch let apiError as APIError {
            failure = apiError
        } catch let httpError as any HTTPResponseError {
            // Hummingbird's own errors: the router's 404, a body over a limit, …
            switch httpError.status {
            case .notFound: failure = .routeNotFound(request.method.rawValue, request.uri.path)
            case .contentTooLarge:
                failure = APIError(status: .contentTooLarge, message: "The request body is too large", type: "invalid_request_error",
                                   code: "request_too_large")
            default:
                failure = APIError(status: httpError.status, message: (httpError as? HTTPError)?.body ?? httpError.status.reasonPhrase,
                                   type: httpError.status.code >= 500 ? "server_error" : "invalid_request_error")
            }
        } catch {
            failure = .internalError("Internal error: \(error)")
        }
        if failure.status.code >= 500 { context.logger.error("\(request.method) \(request.uri.path): \(failure)") }
        metrics.errorSent(status: failure.status.code)
        return ChatCompletionsHandler.json(failure.json, status: failure.status)
    }
}
