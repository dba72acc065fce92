import Foundation
import Hummingbird
import Logging
import NIOCore
import QwenVL
import QwenVLTokenizer
import ServiceLifecycle

/// An OpenAI-compatible HTTP server for one loaded Qwen2-VL model.
///
/// Routes: `POST /v1/chat/completions` (whole or streamed), `POST /tokenize`, `GET /v1/models`,
/// `GET /v1/models/{id}`, `GET /health`, `GET /metrics` (Prometheus text), and the chat web page at `GET /` unless
/// ``ServerOptions/serveWebUI`` is off. Requests are generated with continuous batching on a dedicated thread
/// (``GenerationWorker``); every error is answered with OpenAI's error JSON. SIGTERM drains the server: `/health`
/// turns 503 `draining`, new completions get 503, running ones finish, then it stops.
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
    /// Set once SIGTERM (or ``beginDraining()``) asks the server to stop taking work.
    let drain = DrainFlag()

    public init(model: QwenVLModel, options: ServerOptions) throws {
        try options.validate()
        self.model = model
        self.options = options
        modelName = options.modelName ?? model.directory.standardizedFileURL.lastPathComponent
        var limits = GenerationWorker.Limits()
        limits.maxSequences = options.maxSequences
        limits.maxQueueLength = options.maxQueueLength
        limits.kvBudgetBytes = options.kvBudgetMiB << 20
        worker = GenerationWorker(model: model, metrics: metrics, limits: limits, prefixCacheBytes: options.prefixCacheMiB << 20,
                                  visionCacheBytes: options.visionCacheMiB << 20)
        policy = MediaPolicy(allowLocalMedia: options.allowLocalMedia, allowRemote: options.allowRemoteMedia)
    }

    /// The routes, behind the error middleware.
    public func makeRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        let chat = ChatCompletionsHandler(model: model, modelName: modelName, options: options, policy: policy,
                                          worker: worker, metrics: metrics)
        router.post("/v1/chat/completions") { [drain] request, context in
            guard !drain.isSet else { throw APIError.overloaded("The server is draining (shutting down); retry on another replica") }
            return try await chat.handle(request, context: context)
        }
        let tokenize = TokenizeHandler(model: model, modelName: modelName, options: options, policy: policy)
        router.post("/tokenize") { request, context in try await tokenize.handle(request, context: context) }
        router.get("/v1/models") { [self] _, _ in
            ChatCompletionsHandler.json(.obj(["object": .string("list"), "data": .array([modelCard])]))
        }
        router.get("/v1/models/{id}") { [self] _, context in
            let id = context.parameters.get("id") ?? ""
            guard id == modelName else { throw APIError.modelNotFound(id) }
            return ChatCompletionsHandler.json(modelCard)
        }
        router.get("/health") { [self] _, _ in
            let load = worker.load
            let draining = drain.isSet
            return ChatCompletionsHandler.json(.obj(["status": .string(draining ? "draining" : "ok"),
                                                     "running": .int(load.running), "waiting": .int(load.waiting)]),
                                               status: draining ? .serviceUnavailable : .ok)
        }
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
              "max_model_len": .int(model.configuration.text.maxPositionEmbeddings),
              "capabilities": .array(capabilities.map { .string($0) })])
    }

    /// What the served model takes and does: `vision` and `video` always (a Qwen2-VL checkpoint has its vision
    /// tower), `grounding`.
    var capabilities: [String] { ["chat", "vision", "video", "grounding"] }

    /// Stops taking new completions (503) and reports `draining` on `/health`; running requests go on.
    public func beginDraining() { drain.set() }

    /// Whether nothing is running or waiting.
    public var isIdle: Bool { let load = worker.load; return load.running == 0 && load.waiting == 0 }

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

    /// Serves until SIGTERM or SIGINT, then drains: `/health` says `draining` (503), new completions are refused
    /// with 503 (a load balancer retries them elsewhere), running and queued ones finish (at most
    /// ``ServerOptions/drainTimeoutSeconds``), then the server stops. A second signal stops it at once.
    public func run(logger: Logger? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        defer { shutdown() }
        let log = logger ?? Logger(label: "qwenvl.server")
        let app = makeApplication(logger: logger, onListening: onListening)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: log))
        let signals = SignalWatcher(signals: [SIGTERM, SIGINT])
        let timeout = options.drainTimeoutSeconds
        let watcher = Task { [self] in
            var count = 0
            for await signal in signals.stream {
                count += 1
                if count > 1 {
                    log.info("second signal \(signal): stopping now")
                    await group.triggerGracefulShutdown()
                    return
                }
                log.info("signal \(signal): draining (new requests get 503, running ones finish)")
                beginDraining()
                Task {
                    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
                    // Requests in flight may still be between the handler and the worker: give them a moment.
                    try? await Task.sleep(for: .milliseconds(200))
                    while !isIdle && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
                    log.info("drained: stopping")
                    await group.triggerGracefulShutdown()
                }
            }
        }
        defer { watcher.cancel(); signals.stop() }
        try await group.run()
    }

    /// Stops the generation thread (waiting requests get 503). Call when done with a server not started by `run`.
    public func shutdown() { worker.shutdown() }
}
