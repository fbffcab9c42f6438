// The forwarding decisions, sans-I/O: which server to ask next, what to do
// with a reply (cache it, retry elsewhere, repeat over TCP), coalescing of
// identical questions, and the answer when every server failed (serve-stale,
// the local zone for forward-with-fallback, else SERVFAIL). Events come in
// (a query to forward, a reply, a failure, a timeout); actions go out
// through `ForwardIO` (send, close, deliver). The sockets and timers that
// carry them out belong to the applet; tests drive the engine with a fake.
// Off the hot path: this runs once per cache miss and may allocate.

import DNS
import Sys

/// Who asked a forwarded question, and how to answer them.
public enum ForwardClient: Equatable {
    /// A UDP client of a worker socket: the reply goes from `local` (the
    /// address the query arrived at, on a wildcard bind) to `peer`.
    case udp(peer: SocketAddress, local: SocketAddress?)
    /// A stream connection, by the server's connection id.
    case stream(UInt64)
}

/// How an attempt to send went.
public enum ForwardSend {
    case sent
    /// No socket could be had (out of descriptors): this try failed, the server is not blamed.
    case noSocket
    /// The connect or send failed at once (e.g. no route): the server is down.
    case refused
}

/// What the engine asks of its owner. Called on the owner's thread only.
public protocol ForwardIO: AnyObject {
    /// Sends `query` to `server` for attempt `id` (a UDP datagram on its own
    /// connected socket, or one length-prefixed message on a new TCP
    /// connection) and arms a timer of `timeoutMs`; each outcome comes back
    /// as `received`, `failed` or `timedOut` with this id.
    @_optimize(size) func send(_ id: UInt64, to server: SocketAddress, query: [UInt8], tcp: Bool, timeoutMs: UInt64) -> ForwardSend
    /// Ends attempt `id`: closes its socket and cancels its timer.
    @_optimize(size) func close(_ id: UInt64)
    /// Sends `response` to `client`.
    @_optimize(size) func deliver(_ client: ForwardClient, _ response: UnsafeRawBufferPointer)
}

/// One thread's forwarding engine (see the file header).
///
/// - Each upstream query gets a random ID; a reply must come from that
///   attempt's server (the owner's connected socket sees to that) and
///   match ID and question.
/// - Identical questions in flight are coalesced: one upstream query,
///   every waiting client answered.
/// - Servers are tried in order of smoothed RTT (`UpstreamServers`); a
///   timeout, SERVFAIL, REFUSED, NOTIMP or FORMERR moves on to the next
///   server of the group; TC=1 repeats the query to the same server over TCP.
public final class ForwardEngine<IO: ForwardIO> {
    public static var maxPending: Int { 4096 }
    public static var maxWaiters: Int { 64 }

    struct Key: Hashable {
        var name: [UInt8]
        var type: UInt16
        var rrClass: UInt16
        var group: Int
    }

    struct Waiter {
        var client: ForwardClient
        var query: [UInt8]
        var udp: Bool
    }

    struct Attempt {
        var id: UInt64
        var server: Int
        var tcp: Bool
        var dnsID: UInt16
        var sentAt: UInt64
    }

    final class Pending {
        let key: Key
        let nameWire: [UInt8]
        let type: RRType
        let rrClass: RRClass
        let group: Int
        let started: UInt64
        var waiters: [Waiter] = []
        var tried: UInt64 = 0
        var attempt: Attempt?
        @_optimize(size) init(key: Key, nameWire: [UInt8], type: RRType, rrClass: RRClass, group: Int, started: UInt64) {
            self.key = key
            self.nameWire = nameWire
            self.type = type
            self.rrClass = rrClass
            self.group = group
            self.started = started
        }
    }

    unowned(unsafe) let io: IO
    public let local: ResolverLocal
    public private(set) var frontend: Frontend
    private var setup: ForwardSetup?
    public private(set) var servers = UpstreamServers([])
    private var pending: [Key: Pending] = [:]
    private var byAttempt: [UInt64: Pending] = [:]
    private var nextAttempt: UInt64 = 0
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)

    @_optimize(size) public init(io: IO, frontend: Frontend, local: ResolverLocal) {
        self.io = io
        self.frontend = frontend
        self.local = local
        adopt(frontend)
    }

    deinit { out.deallocate() }

    /// Questions in flight.
    public var pendingCount: Int { pending.count }

    /// Takes a new frontend (a reload). Server measurements survive when
    /// the servers stay the same; queries in flight finish with their group.
    @_optimize(size) public func adopt(_ f: Frontend) {
        frontend = f
        guard let s = f.forwarding, s !== setup else { return }
        setup = s
        if s.servers != servers.addresses { servers = UpstreamServers(s.servers) }
    }

    /// Forwards `query`, which `Frontend.handle` decided to send to `group`.
    @_optimize(size) public func start(_ query: UnsafeRawBufferPointer, group: Int, client: ForwardClient, udp: Bool, now: UInt64) {
        guard let setup, group < setup.groups.count else { return }
        let parsed: (name: [UInt8], type: RRType, rrClass: RRClass)?
        do throws(DNSError) {
            let q = try Query.parse(query)
            parsed = (q.question.name.domainName.wire, q.question.type, q.question.rrClass)
        } catch {
            parsed = nil
        }
        guard let (name, type, rrClass) = parsed else { return }
        let waiter = Waiter(client: client, query: Array(query), udp: udp)
        let key = Key(name: name.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }, type: type.rawValue,
                      rrClass: rrClass.rawValue, group: group)
        if let p = pending[key] {
            if p.waiters.count < ForwardEngine.maxWaiters {
                p.waiters.append(waiter)
                local.coalesced &+= 1
            } else {
                answer(waiter, servfail: true, now: now)
            }
            return
        }
        guard pending.count < ForwardEngine.maxPending else {
            // Too much in flight: shed load instead of growing.
            answer(waiter, servfail: true, now: now)
            return
        }
        let p = Pending(key: key, nameWire: name, type: type, rrClass: rrClass, group: group, started: now)
        p.waiters.append(waiter)
        pending[key] = p
        next(p, now: now)
    }

    /// A reply for attempt `id`. False when it does not answer the
    /// question (wrong ID or question: a stray or a spoofing attempt); a
    /// UDP owner then keeps waiting, a TCP owner reports `failed`.
    @discardableResult
    @_optimize(size) public func received(_ id: UInt64, _ reply: UnsafeRawBufferPointer, now: UInt64) -> Bool {
        guard let p = byAttempt[id], let a = p.attempt, a.id == id else { return true }
        guard UpstreamQuery.matches(reply, id: a.dnsID, nameWire: p.nameWire, type: p.type, rrClass: p.rrClass),
              let h = Header.peek(reply) else { return false }
        end(p)
        servers.success(a.server, rttNs: now &- a.sentAt)
        let rcode = RCode(UInt16(h.rcode))
        if rcode == .servFail || rcode == .refused || rcode == .notImp || rcode == .formErr {
            // The server answers; the answer is no use.
            next(p, now: now)
            return true
        }
        if h.tc && !a.tcp {
            if send(p, to: a.server, tcp: true, now: now) { return true }
            next(p, now: now)
            return true
        }
        local.latencySumUs &+= (now &- p.started) / 1000
        local.latencyCount &+= 1
        if let cache = frontend.cache, !fallbackLocal(p), p.rrClass == .in,
           let c = CacheableReply.extract(reply, name: p.nameWire, type: p.type) {
            c.store(in: cache, now: Frontend.seconds(now))
        }
        pending[p.key] = nil
        for w in p.waiters {
            let n = w.query.withUnsafeBytes { q in frontend.relay(reply, query: q, into: out, udp: w.udp) }
            send(w, n)
        }
        return true
    }

    /// Attempt `id` failed: the connection was refused or reset (`hard`:
    /// the server is not there), or a TCP exchange broke off.
    @_optimize(size) public func failed(_ id: UInt64, hard: Bool, now: UInt64) {
        guard let p = byAttempt[id], let a = p.attempt, a.id == id else { return }
        end(p)
        servers.failure(a.server, now: now, hard: hard)
        local.upstreamTimeouts &+= 1
        next(p, now: now)
    }

    /// Attempt `id` got no answer in time.
    @_optimize(size) public func timedOut(_ id: UInt64, now: UInt64) {
        failed(id, hard: false, now: now)
    }

    /// Stops everything in flight (shutdown).
    @_optimize(size) public func cancelAll() {
        for (_, p) in pending where p.attempt != nil { end(p) }
        pending.removeAll()
        byAttempt.removeAll()
    }

    // MARK: decisions

    @_optimize(size) private func fallbackLocal(_ p: Pending) -> Bool {
        guard let setup, p.group < setup.groups.count else { return false }
        return setup.groups[p.group].fallbackLocal
    }

    /// Closes the attempt in flight, if any.
    @_optimize(size) private func end(_ p: Pending) {
        guard let a = p.attempt else { return }
        p.attempt = nil
        byAttempt[a.id] = nil
        io.close(a.id)
    }

    /// Sends `p` to the next server, or gives up.
    @_optimize(size) private func next(_ p: Pending, now: UInt64) {
        // A reload may have removed the group this query was sent to.
        guard let setup, p.group < setup.groups.count else { return fail(p, now: now) }
        let group = setup.groups[p.group]
        while let i = servers.pick(group.servers, tried: p.tried, now: now) {
            p.tried |= 1 << UInt64(i)
            if send(p, to: i, tcp: false, now: now) { return }
        }
        fail(p, now: now)
    }

    /// Asks server `i`; false when the try failed at once.
    @_optimize(size) private func send(_ p: Pending, to i: Int, tcp: Bool, now: UInt64) -> Bool {
        guard let setup else { return false }
        nextAttempt &+= 1
        let id = nextAttempt
        let dnsID = UInt16(truncatingIfNeeded: Sys.random64())
        let query = UpstreamQuery.make(id: dnsID, nameWire: p.nameWire, type: p.type, rrClass: p.rrClass)
        let timeout = setup.timeoutMs
        switch io.send(id, to: servers.addresses[i], query: query, tcp: tcp, timeoutMs: tcp ? timeout * 2 : timeout) {
        case .sent:
            break
        case .noSocket:
            // Out of descriptors or the family is missing: counts as a failure of this try.
            local.upstreamTimeouts &+= 1
            return false
        case .refused:
            servers.failure(i, now: now, hard: true)
            local.upstreamTimeouts &+= 1
            return false
        }
        local.upstreamQueries &+= 1
        if tcp { local.upstreamTCP &+= 1 }
        p.attempt = Attempt(id: id, server: i, tcp: tcp, dnsID: dnsID, sentAt: now)
        byAttempt[id] = p
        return true
    }

    /// Every server failed (or none was usable).
    @_optimize(size) private func fail(_ p: Pending, now: UInt64) {
        pending[p.key] = nil
        local.upstreamFailures &+= 1
        let fallback = fallbackLocal(p)
        for w in p.waiters {
            if fallback {
                let n = w.query.withUnsafeBytes { q in frontend.localFallback(q, into: out, udp: w.udp) }
                local.fallbackAnswers &+= 1
                send(w, n)
                continue
            }
            answer(w, servfail: false, now: now)
        }
    }

    /// Answers a waiter without an upstream reply: stale data if allowed
    /// and present, else SERVFAIL.
    @_optimize(size) private func answer(_ w: Waiter, servfail: Bool, now: UInt64) {
        let seconds = Frontend.seconds(now)
        let n: Int = w.query.withUnsafeBytes { q in
            if !servfail, let s = frontend.stale(q, into: out, udp: w.udp, now: seconds, local: local) { return s }
            return frontend.servfail(q, into: out, udp: w.udp)
        }
        send(w, n)
    }

    @_optimize(size) private func send(_ w: Waiter, _ n: Int) {
        guard n > 0 else { return }
        local.count(response: out, n)
        io.deliver(w.client, UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<n]))
    }
}
