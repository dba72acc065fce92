import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the connection, so a handler can notice when
/// the client hangs up.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bodies are read by the handlers with the server's own limit.
    public var maxUploadSize: Int { Int.max }

    /// The connection's ``DisconnectWatcher`` (nil when the pipeline has none, as in router tests).
    func disconnectWatcher() async -> DisconnectWatcher? {
        try? await channel.pipeline.handler(type: DisconnectWatcher.self).get()
    }
}
