import Foundation
import Hummingbird
import Logging
import NIOCore
import QwenVL
import QwenVLTokenizer

/// An OpenAI-compatible HTTP server for one loaded Qwen2-VL model.
///
/// Routes: `POST /v1/chat/completions` (whole or streamed), `GET /v1/models`, `GET /v1/models/{id}`,
/// `GET /health`, `GET /metrics` (Prometheus text), and the chat web page at `GET /` unless
/// ``ServerOptions/serveWebUI`` is off. Requests are generated one at a time in arrival order on a
/// dedicated thread; every error is answered with OpenAI's error JSON.
///
/// ```swift
/// let model = try QwenVLModel.load(from: URL(fileURLWithPath: "Qwen2-VL-2B-Instruct"))
/// let server = try OpenAIServer(model: model, options: ServerOptions(port: 8080))
/// try await server.run()
/// ```
public final class OpenAIServer: Sendable {
    public let model: QwenVLModel
    public let options: ServerOptions
    /// The id clients send as `model`.
    public let modelName: String
    public let metrics = ServerMetrics()
    let worker: GenerationWorker
    let policy: MediaPolicy
    let created = Int(Date().timeIntervalSince1970)

    public init(model: QwenVLModel, options: ServerOptions) throws {
        try options.validate()
        self.model = model
        self.options = options
        modelName = options.modelName ?? model.directory.standardizedFileURL.lastPathComponent
        worker = GenerationWorker(model: model, metrics: metrics, maxQueueLength: options.maxQueueLength)
        policy = MediaPolicy(allowLocalMedia: options.allowLocalMedia, allowRemote: options.allowRemoteMedia)
    }

    /// The routes, behind the error middleware.
    public func makeRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        let chat = ChatCompletionsHandler(model: model, modelName: modelName, options: options, policy: policy,
                                          worker: worker, metrics: metrics)
        router.post("/v1/chat/completions") { request, context in try await chat.handle(request, context: context) }
        router.get("/v1/models") { [self] _, _ in
            ChatCompletionsHandler.json(.obj(["object": .string("list"), "data": .array([modelCard])]))
        }
        router.get("/v1/models/{id}") { [self] _, context in
            let id = context.parameters.get("id") ?? ""
            guard id == modelName else { throw APIError.modelNotFound(id) }
            return ChatCompletionsHandler.json(modelCard)
        }
        router.get("/health") { _, _ in ChatCompletionsHandler.json(.obj(["status": .string("ok")])) }
        router.get("/metrics") { [self] _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        if options.serveWebUI { WebUIAssets.addRoutes(to: router) }
        return router
    }

    /// `GET /v1/models` entry for the served model.
    var modelCard: JSONValue {
        .obj(["id": .string(modelName), "object": .string("model"), "created": .int(created), "owned_by": .string("qwenvl"),
              "max_model_len": .int(model.configuration.text.maxPositionEmbeddings)])
    }

    /// The Hummingbird application; `onListening` receives the bound port once the socket is open.
    public func makeApplication(logger: Logger? = nil,
                                onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let port = options.port
        return Application(router: makeRouter(),
                           server: .http1(configuration: .init(additionalChannelHandlers: [DisconnectWatcher()])),
                           configuration: .init(address: .hostname(options.host, port: options.port), serverName: "qwenvl"),
                           onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
                           logger: logger)
    }

    /// Serves until SIGINT/SIGTERM, then stops the generation worker.
    public func run(logger: Logger? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        defer { shutdown() }
        try await makeApplication(logger: logger, onListening: onListening).runService()
    }

    /// Stops the generation thread (waiting requests get 503). Call when done with a server not started by `run`.
    public func shutdown() { worker.shutdown() }
}
