// DNS over TCP (RFC 7766) on the shared stream server: pipelined queries
// answered in order, forwarded ones whenever their answer comes (§7), and
// zone transfers (admitted by the engine: `Frontend.handleStream`) carried
// out message by message as the client reads them.

import Authority
import Config
import Daemon
import DNS
import Resolver
import Runtime
import Sys

final class DnsTCP: StreamHandler {
    struct State {
        var transfer: ZoneTransfer?
        /// Forwarded queries whose answers are still to come.
        var owed = 0
    }
    typealias Connection = StreamConnection<State>

    /// A zone transfer adds messages while less than this is queued.
    static let transferHighWater = 1 << 17

    unowned(unsafe) let loop: EventLoop
    private(set) var server: StreamServer<DnsTCP>!
    var frontend: Frontend
    let local = ResolverLocal()
    let upstream: UpstreamSockets
    private(set) var queries: UInt64 = 0
    private(set) var transfers: UInt64 = 0
    /// An accepted NOTIFY for a secondary zone (the query, its sender).
    var onNotify: ((UnsafeRawBufferPointer, SocketAddress) -> Void)?
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: TCPFraming.maxMessage, alignment: 8)

    init(loop: EventLoop, frontend: Frontend, settings: DnsdSection) {
        self.loop = loop
        self.frontend = frontend
        upstream = UpstreamSockets(loop: loop, frontend: frontend, local: local)
        server = StreamServer(loop: loop, limits: DnsTCP.limits(settings), handler: self)
        upstream.onAnswer = { [unowned(unsafe) self] client, bytes in self.deliver(client, bytes) }
    }

    deinit { out.deallocate() }

    static func limits(_ d: DnsdSection) -> StreamLimits {
        // One whole message and its prefix may wait unanswered beside a partial one.
        let perClient = d.tcpMaxPerClient > 0 ? d.tcpMaxPerClient : max(1, d.tcpMaxConnections / 10)
        return StreamLimits(maxConnections: d.tcpMaxConnections, maxInput: 2 * (TCPFraming.maxMessage + 2),
                            maxOutput: 1 << 20, idleTimeoutMs: UInt64(max(d.tcpIdleTimeoutMs, 1)),
                            messageTimeoutMs: UInt64(max(d.tcpIOTimeoutMs, 0)), maxPerPeer: perClient,
                            evictIdleWhenFull: true)
    }

    func configure(_ d: DnsdSection) {
        server.limits = DnsTCP.limits(d)
    }

    func adopt(_ f: Frontend) {
        frontend = f
        upstream.engine.adopt(f)
    }

    func stop() {
        upstream.cancelAll()
        server.shutdown()
    }

    // MARK: StreamHandler

    func accepted(peer: SocketAddress) -> State { State() }

    func received(_ c: Connection) { process(c) }

    func drained(_ c: Connection) { process(c) }

    /// Answers every complete message in order (pipelining, RFC 7766
    /// §6.2.1.1); a zone transfer in progress holds back later messages
    /// until its last message is queued.
    private func process(_ c: Connection) {
        if c.state.transfer != nil && !pump(c) { return server.close(c) }
        var consumed = 0
        while c.state.transfer == nil, let range = TCPFraming.message(in: c.input, from: consumed) {
            consumed = range.upperBound
            queries &+= 1
            let now = Frontend.seconds(loop.now())
            let d = c.input.withUnsafeBytes { all in
                frontend.handleStream(UnsafeRawBufferPointer(rebasing: all[range]), into: out, peer: c.peer, now: now, local: local)
            }
            switch d {
            case .answer(.reply(let n)):
                if n > 0 { queue(c, n) }
            case .answer(.notify(let n)):
                if n > 0 { queue(c, n) }
                c.input.withUnsafeBytes { all in onNotify?(UnsafeRawBufferPointer(rebasing: all[range]), c.peer) }
            case .answer(.forward(let g)):
                // Answered when the upstream replies (responses may come out of order, §7).
                c.state.owed += 1
                let client = ForwardClient.stream(c.id)
                c.input.withUnsafeBytes { all in
                    upstream.engine.start(UnsafeRawBufferPointer(rebasing: all[range]), group: g, client: client,
                                          udp: false, now: loop.now())
                }
            case .transferRefused(let zone, let reason, let n):
                log.warn("zone transfer refused", [("zone", zone.description), ("peer", c.peer.description),
                                                   ("reason", "\(reason)")])
                if n > 0 { queue(c, n) }
            case .transfer(let t):
                c.state.transfer = t
                transfers &+= 1
                if t.isUpToDate {
                    log.info("zone transfer", [("zone", t.zone.origin.description), ("kind", "IXFR"),
                                               ("serial", "\(t.zone.serial)"), ("up_to_date", "1"), ("peer", c.peer.description)])
                } else if t.isIncremental {
                    log.info("zone transfer", [("zone", t.zone.origin.description), ("kind", "IXFR"),
                                               ("from", "\(t.fromSerial ?? 0)"), ("serial", "\(t.zone.serial)"),
                                               ("peer", c.peer.description)])
                } else {
                    log.info("zone transfer", [("zone", t.zone.origin.description), ("kind", "AXFR"), ("serial", "\(t.zone.serial)"),
                                               ("records", "\(t.zone.recordCount)"), ("peer", c.peer.description)])
                }
                if !pump(c) { return server.close(c) }
            }
        }
        c.consume(consumed)
        c.busy = c.state.transfer != nil || c.state.owed > 0
    }

    private func queue(_ c: Connection, _ n: Int) {
        let message = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<n])
        c.appendOutput { TCPFraming.append(message, to: &$0) }
    }

    /// Queues transfer messages up to the high-water mark; clears the
    /// transfer when its last message is queued. False when it cannot go on.
    private func pump(_ c: Connection) -> Bool {
        while var t = c.state.transfer, c.pendingOutput < DnsTCP.transferHighWater {
            let n = t.nextMessage(into: out)
            c.state.transfer = t.isFinished ? nil : t
            if n == 0 {
                // A record that fits no message: the transfer cannot complete.
                log.error("zone transfer aborted", [("zone", t.zone.origin.description)])
                c.state.transfer = nil
                return false
            }
            queue(c, n)
        }
        return true
    }

    /// A forwarded answer for a TCP client, if its connection is still open.
    private func deliver(_ client: ForwardClient, _ bytes: UnsafeRawBufferPointer) {
        guard case .stream(let id) = client, let c = server.connection(id) else { return }
        c.state.owed = max(0, c.state.owed - 1)
        c.busy = c.state.transfer != nil || c.state.owed > 0
        c.appendOutput { TCPFraming.append(bytes, to: &$0) }
        server.flush(c)
    }
}
