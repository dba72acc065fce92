import Foundation
import NIOCore

/// A channel handler that notices when the client goes away, so a request's generation can stop.
///
/// Hummingbird enables TCP half-closure, so a client that closes its socket only closes the channel's *input*
/// (`ChannelEvent.inputClosed`); the channel itself stays open until the server writes. This handler reports
/// both the input closing and the channel going inactive. (A client that half-closes on purpose after sending its
/// request is treated as gone too, as uvicorn/vLLM do.)
final class DisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny

    private let lock = NSLock()
    private var gone = false
    private var observers: [Int: @Sendable () -> Void] = [:]
    private var nextID = 0

    /// Calls `body` once when the client goes away (at once if it already has); returns a token for ``remove(_:)``.
    @discardableResult
    func observe(_ body: @escaping @Sendable () -> Void) -> Int {
        lock.lock()
        if gone {
            lock.unlock()
            body()
            return -1
        }
        nextID += 1
        observers[nextID] = body
        lock.unlock()
        return nextID
    }

    /// Forgets an observer (the request finished normally).
    func remove(_ token: Int) {
        lock.lock()
        observers[token] = nil
        lock.unlock()
    }

    private func fire() {
        lock.lock()
        gone = true
        let pending = observers.values
        observers = [:]
        lock.unlock()
        for body in pending { body() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }
}
