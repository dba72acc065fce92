import ArgumentParser
import Foundation
import QwenVL
import QwenVLServer

/// `qwenvl serve`: an OpenAI-compatible HTTP server for one checkpoint.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a checkpoint over an OpenAI-compatible HTTP API.",
        discussion: """
        Routes: POST /v1/chat/completions (whole or streamed), GET /v1/models,
        GET /health, GET /metrics (Prometheus), and a chat web page at /
        (turn it off with --no-ui).
        Examples:
          qwenvl serve --model Qwen2-VL-2B-Instruct --port 8080
          qwenvl serve --model DIR --allow-local-media ~/Pictures
        Images come as data: URLs; local paths and file:// URLs are read only
        inside --allow-local-media, http(s) URLs only with --allow-remote-media.
        Up to --max-sequences requests are generated together (continuous batching);
        prompts sharing a prefix with an earlier request reuse its keys and values,
        images seen before reuse their encoder outputs. SIGTERM drains: /health
        turns 503 "draining", new requests get 503, running ones finish.
        """)

    @Option(help: "Checkpoint folder (HuggingFace layout).") var model: String
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 8080
    @Option(name: .customLong("served-model-name"), help: "Model id clients send (default: the folder's name).") var servedModelName: String?
    @Option(name: .customLong("allow-local-media"), help: "Accept local image paths and file:// URLs inside this folder.")
    var allowLocalMedia: String?
    @Flag(name: .customLong("allow-remote-media"), help: "Accept http(s) image URLs (the server downloads them).")
    var allowRemoteMedia = false
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body in bytes.") var maxBodyBytes = 32 << 20
    @Option(name: .customLong("max-images"), help: "Most images per request.") var maxImages = 8
    @Option(name: .customLong("max-pixels"), help: "Largest image area after resizing, in pixels (1003520 = 1280·28·28).")
    var maxPixels = ServerOptions.defaultMaxPixelsPerImage
    @Option(name: .customLong("max-prompt-tokens"), help: "Most prompt tokens per request (images included).") var maxPromptTokens = 16384
    @Option(name: .customLong("max-queue"), help: "Most requests waiting for a free sequence slot; more get 503.") var maxQueue = 64
    @Option(name: .customLong("max-sequences"), help: "Sequences generated together (continuous batching).") var maxSequences = 8
    @Option(name: .customLong("kv-budget-mib"), help: "KV memory the running sequences may reach together, MiB; beyond it requests wait.")
    var kvBudgetMiB = 4096
    @Option(name: .customLong("kv-cache-mib"), help: "KV memory kept for prompt prefixes of finished requests, MiB (0: off).")
    var kvCacheMiB = 1024
    @Option(name: .customLong("vision-cache-mib"), help: "Vision-encoder outputs kept for repeated images/videos, MiB (0: off).")
    var visionCacheMiB = 256
    @Option(name: .customLong("drain-timeout"), help: "Seconds a draining server waits for running requests.") var drainTimeout = 300.0
    @Flag(name: .customLong("no-ui"), help: "Do not serve the chat web page at /.") var noUI = false

    func run() async throws {
        var options = ServerOptions(host: host, port: port, modelName: servedModelName, allowRemoteMedia: allowRemoteMedia,
                                    maxBodyBytes: maxBodyBytes, maxImagesPerRequest: maxImages, maxPixelsPerImage: maxPixels,
                                    maxPromptTokens: maxPromptTokens, maxQueueLength: maxQueue)
        options.allowLocalMedia = allowLocalMedia.map { URL(fileURLWithPath: $0) }
        options.maxSequences = maxSequences
        options.kvBudgetMiB = kvBudgetMiB
        options.prefixCacheMiB = kvCacheMiB
        options.visionCacheMiB = visionCacheMiB
        options.drainTimeoutSeconds = drainTimeout
        options.serveWebUI = !noUI
        let server: OpenAIServer
        do {
            try options.validate()
            let qwen = try weightOptions.load(model)
            server = try OpenAIServer(model: qwen, options: options)
        } catch {
            throw fail("\(error)")
        }
        let host = host
        let name = server.modelName
        try await server.run { port in
            printError("qwenvl serve: model '\(name)' listening on http://\(host):\(port)")
        }
    }
}
