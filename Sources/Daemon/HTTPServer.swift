// HTTP/1.1 over the shared stream server: keep-alive, pipelining (one
// request answered at a time, in order), heads checked before bodies are
// read, a whole request within `timeout` (408), a connection cap (503).
// What a request means is the service's: it answers at once or later (the
// API answers writes after their group commit). The DirectAdmin receiver
// will be a second service on the same server.

import HTTP
import Runtime
import Sys

/// A request answered now, or later through `HTTPServer.respond`.
public enum HTTPAnswer {
    case now(HTTPResponse)
    case later
}

public protocol HTTPService: AnyObject {
    /// The head of a request arrived (its body has not been read): a
    /// refusal to send instead of reading the body, or nil.
    func precheck(_ head: HTTPRequest) -> HTTPResponse?
    /// A whole request from connection `id`.
    func handle(_ request: HTTPRequest, connection id: UInt64) -> HTTPAnswer
}

public final class HTTPServer<S: HTTPService>: StreamHandler {
    public final class Exchange {
        /// The head of the request being read passed `precheck`.
        var headChecked = false
        /// A request is being answered (`.later`); nothing else is read.
        var waiting = false
        var closeAfter = false
        let peer: String
        init(peer: String) { self.peer = peer }
    }
    public typealias State = Exchange

    unowned(unsafe) let service: S
    unowned(unsafe) let loop: EventLoop
    public private(set) var stream: StreamServer<HTTPServer<S>>!
    public var timeoutMs: UInt64
    /// Bytes read ahead of the request being answered.
    public static var readAhead: Int { 64 * 1024 }
    /// Unsent answers a connection may have before it is read no further.
    public static var maxBacklog: Int { 256 * 1024 }
    private let maxInput: Int

    /// `maxBody`: the largest body any route takes.
    public init(loop: EventLoop, service: S, maxConnections: Int, timeoutMs: UInt64, maxBody: Int) {
        self.loop = loop
        self.service = service
        self.timeoutMs = timeoutMs
        maxInput = maxBody + 64 * 1024
        stream = StreamServer(loop: loop, limits: StreamLimits(maxConnections: maxConnections, maxInput: HTTPServer.readAhead,
                                                               maxOutput: HTTPServer.maxBacklog, idleTimeoutMs: timeoutMs,
                                                               activityExtendsDeadline: false), handler: self)
    }

    public func listen(_ l: Socket) throws(SysError) { try stream.listen(l) }

    public var connectionCount: Int { stream.count }

    public func accepted(peer: SocketAddress) -> Exchange { Exchange(peer: peer.ipString) }

    public func refusalMessage() -> [UInt8] {
        HTTPResponse.error(503, "too many connections").serialized(close: true)
    }

    public func received(_ c: StreamConnection<Exchange>) { process(c) }

    public func drained(_ c: StreamConnection<Exchange>) { process(c) }

    public func expired(_ c: StreamConnection<Exchange>) {
        if !c.input.isEmpty { c.queue(HTTPResponse.error(408, "request not received in time").serialized(close: true)) }
    }

    /// The answer to the request connection `id` is waiting on.
    public func respond(_ id: UInt64, _ response: HTTPResponse, close: Bool) {
        guard let c = stream.connection(id) else { return }
        c.state.waiting = false
        c.busy = false
        c.readingPaused = false
        c.queue(response.serialized(close: close))
        c.deadline = loop.now() &+ timeoutMs &* 1_000_000
        process(c)
        stream.flush(c)
    }

    /// Parses and answers what `c` has sent, up to a request answered later.
    private func process(_ c: StreamConnection<Exchange>) {
        let x = c.state
        while !x.waiting && !x.closeAfter && c.pendingOutput < HTTPServer.maxBacklog {
            let r = c.input.withUnsafeBytes { HTTPRequest.parse($0, reportHead: true) }
            switch r {
            case .incomplete:
                // The peer sent all it will: nothing more can complete.
                if c.peerClosed { finish(c) }
                return
            case .head(var head):
                // Refuse what would be refused anyway before taking its body.
                if !x.headChecked {
                    head.peer = x.peer
                    if let refusal = service.precheck(head) {
                        c.queue(refusal.serialized(close: true))
                        c.discardInput()
                        return finish(c)
                    }
                    x.headChecked = true
                    c.inputLimit = maxInput
                }
                if c.peerClosed { finish(c) }
                return
            case .failure(let status, let reason):
                c.queue(HTTPResponse.error(status, reason).serialized(close: true))
                c.discardInput()
                return finish(c)
            case .complete(var req, let used):
                c.consume(used)
                x.headChecked = false
                c.inputLimit = HTTPServer.readAhead
                c.deadline = loop.now() &+ timeoutMs &* 1_000_000
                req.peer = x.peer
                if req.wantsClose { x.closeAfter = true }
                switch service.handle(req, connection: c.id) {
                case .now(let resp):
                    c.queue(resp.serialized(close: req.wantsClose))
                case .later:
                    x.waiting = true
                    c.busy = true
                    c.readingPaused = true
                }
            }
        }
        if x.closeAfter && !x.waiting { c.closeWhenFlushed = true }
    }

    private func finish(_ c: StreamConnection<Exchange>) {
        c.state.closeAfter = true
        if !c.state.waiting { c.closeWhenFlushed = true }
    }
}
