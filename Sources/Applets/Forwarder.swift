import DNS
import Resolver
import Runtime
import Sys

/// Who asked a forwarded question, and how to answer them.
enum ClientRef {
    /// A UDP client of a worker socket: the reply goes from `local` (the
    /// address the query arrived at, on a wildcard bind) to `peer`.
    case udp(peer: SocketAddress, local: SocketAddress?)
    /// A TCP connection of the main thread (its fd and serial number).
    case tcp(fd: Int32, serial: UInt64)
}

/// A client waiting for a forwarded answer: where it is and its query.
struct Waiter {
    var client: ClientRef
    var query: [UInt8]
    var udp: Bool
}

/// One thread's forwarding engine: it sends cache misses upstream from that
/// thread's event loop and answers the clients when a reply (or the last
/// failure) comes back; nothing here blocks.
///
/// - Each upstream query goes out on its own connected UDP socket (a fresh
///   kernel-chosen random port) with a random ID; a reply must come from
///   that server and match ID and question. A refused connection (ICMP port
///   unreachable) is seen at once.
/// - Identical questions in flight are coalesced: one upstream query, every
///   waiting client answered.
/// - Servers are tried in order of smoothed RTT (`UpstreamServers`); a
///   timeout, SERVFAIL, REFUSED, NOTIMP or FORMERR moves on to the next
///   server of the group; TC=1 repeats the query to the same server over TCP.
/// - When every server failed: serve-stale from the cache (RFC 8767), the
///   local zone with AA=0 for a forward-with-fallback zone, else SERVFAIL.
final class Forwarder {
    static let maxPending = 4096
    static let maxWaiters = 64

    struct Key: Hashable {
        var name: [UInt8]
        var type: UInt16
        var rrClass: UInt16
        var group: Int
    }

    final class Attempt {
        let server: Int
        let socket: Socket
        let tcp: Bool
        let id: UInt16
        let sentAt: UInt64
        var timer: EventLoop.TimerID?
        var out: [UInt8] = []
        var input: [UInt8] = []
        init(server: Int, socket: Socket, tcp: Bool, id: UInt16, sentAt: UInt64) {
            self.server = server
            self.socket = socket
            self.tcp = tcp
            self.id = id
            self.sentAt = sentAt
        }
    }

    final class Pending {
        let key: Key
        let nameWire: [UInt8]
        let type: RRType
        let rrClass: RRClass
        let group: Int
        var waiters: [Waiter] = []
        var tried: UInt64 = 0
        var attempt: Attempt?
        let started: UInt64
        init(key: Key, nameWire: [UInt8], type: RRType, rrClass: RRClass, group: Int, started: UInt64) {
            self.key = key
            self.nameWire = nameWire
            self.type = type
            self.rrClass = rrClass
            self.group = group
            self.started = started
        }
    }

    unowned(unsafe) let loop: EventLoop
    let local: ResolverLocal
    private(set) var frontend: Frontend
    private var setup: ForwardSetup?
    private var servers = UpstreamServers([])
    private var pending: [Key: Pending] = [:]
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    private var receiveBuffer = [UInt8](repeating: 0, count: 65535)
    /// Sends a response to a client (set by the owner: a UDP worker or the TCP server).
    var deliver: (ClientRef, UnsafeRawBufferPointer) -> Void = { _, _ in }

    init(loop: EventLoop, frontend: Frontend, local: ResolverLocal) {
        self.loop = loop
        self.frontend = frontend
        self.local = local
        adopt(frontend)
    }

    deinit { out.deallocate() }

    var pendingCount: Int { pending.count }
    var serverStates: UpstreamServers { servers }

    /// Takes a new frontend (a reload). Server measurements survive when
    /// the servers stay the same; queries in flight finish with their group.
    func adopt(_ f: Frontend) {
        frontend = f
        guard let s = f.forwarding, s !== setup else { return }
        setup = s
        if s.servers != servers.addresses { servers = UpstreamServers(s.servers) }
    }

    /// Forwards `query` (which `frontend.handle` decided to forward to `group`).
    func start(_ query: UnsafeRawBufferPointer, group: Int, client: ClientRef, udp: Bool) {
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
            if p.waiters.count < Forwarder.maxWaiters {
                p.waiters.append(waiter)
                local.coalesced &+= 1
            } else {
                answer(waiter, servfail: true)
            }
            return
        }
        guard pending.count < Forwarder.maxPending else {
            // Too much in flight: shed load instead of growing.
            answer(waiter, servfail: true)
            return
        }
        let p = Pending(key: key, nameWire: name, type: type, rrClass: rrClass, group: group, started: loop.now())
        p.waiters.append(waiter)
        pending[key] = p
        next(p)
    }

    /// Sends `p` to the next server, or gives up.
    private func next(_ p: Pending) {
        // A reload may have removed the group this query was sent to.
        guard let setup, p.group < setup.groups.count else { return fail(p) }
        let group = setup.groups[p.group]
        while let i = servers.pick(group.servers, tried: p.tried, now: loop.now()) {
            p.tried |= 1 << UInt64(i)
            if send(p, to: i, tcp: false) { return }
        }
        fail(p)
    }

    /// Opens a socket to server `i`, sends the query, arms the timeout.
    private func send(_ p: Pending, to i: Int, tcp: Bool) -> Bool {
        let addr = servers.addresses[i]
        let sock: Socket
        do throws(SysError) {
            sock = try Socket.unbound(family: addr.family, stream: tcp)
        } catch {
            // Out of descriptors or the family is missing: counts as a failure
            // of this try (no logging here: this may run on a worker thread).
            local.upstreamTimeouts &+= 1
            return false
        }
        let id = UInt16(truncatingIfNeeded: Sys.random64())
        let query = UpstreamQuery.make(id: id, nameWire: p.nameWire, type: p.type, rrClass: p.rrClass)
        let a = Attempt(server: i, socket: sock, tcp: tcp, id: id, sentAt: loop.now())
        do throws(SysError) {
            let connected = try sock.connect(addr)
            if tcp {
                a.out = [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query
                try loop.add(fd: sock.fd, events: EventLoop.readable | EventLoop.writable | EventLoop.hangup) {
                    [unowned(unsafe) self] ev in self.onTCP(p, a, ev)
                }
                _ = connected
            } else {
                _ = try sock.send(query)
                try loop.add(fd: sock.fd) { [unowned(unsafe) self] _ in self.onUDP(p, a) }
            }
        } catch {
            sock.close()
            servers.failure(i, now: loop.now(), hard: true)
            local.upstreamTimeouts &+= 1
            return false
        }
        local.upstreamQueries &+= 1
        if tcp { local.upstreamTCP &+= 1 }
        let timeout = setup?.timeoutMs ?? 1500
        a.timer = loop.schedule(after: tcp ? timeout * 2 : timeout) { [unowned(unsafe) self] in
            a.timer = nil
            self.onTimeout(p, a)
        }
        p.attempt = a
        return true
    }

    private func close(_ a: Attempt) {
        if let t = a.timer { loop.cancel(t) }
        a.timer = nil
        loop.remove(fd: a.socket.fd)
        a.socket.close()
    }

    private func onTimeout(_ p: Pending, _ a: Attempt) {
        guard p.attempt === a else { return }
        close(a)
        p.attempt = nil
        servers.failure(a.server, now: loop.now(), hard: false)
        local.upstreamTimeouts &+= 1
        next(p)
    }

    private func onUDP(_ p: Pending, _ a: Attempt) {
        guard p.attempt === a else { return }
        while true {
            var result: Result<(Int, SocketAddress)?, SysError> = .success(nil)
            receiveBuffer.withUnsafeMutableBytes { b in
                do throws(SysError) { result = .success(try a.socket.receive(into: b)) } catch { result = .failure(error) }
            }
            switch result {
            case .failure:
                // ECONNREFUSED and the like: this server is not there.
                close(a)
                p.attempt = nil
                servers.failure(a.server, now: loop.now(), hard: true)
                local.upstreamTimeouts &+= 1
                return next(p)
            case .success(nil):
                return
            case .success(let got?):
                let n = got.0
                let ok = receiveBuffer.withUnsafeBytes { b in
                    UpstreamQuery.matches(UnsafeRawBufferPointer(rebasing: b[0..<n]), id: a.id, nameWire: p.nameWire,
                                          type: p.type, rrClass: p.rrClass)
                }
                // Anything else on this socket is ignored (a spoofing attempt or a stray).
                guard ok else { continue }
                return received(p, a, Array(receiveBuffer[0..<n]))
            }
        }
    }

    private func onTCP(_ p: Pending, _ a: Attempt, _ events: UInt32) {
        guard p.attempt === a else { return }
        if events & EventLoop.writable != 0 && !a.out.isEmpty {
            if a.socket.pendingError() != 0 { return tcpFailed(p, a) }
            do throws(SysError) {
                let n = try a.socket.send(a.out)
                a.out.removeFirst(n)
            } catch {
                if !error.wouldBlock { return tcpFailed(p, a) }
            }
            if a.out.isEmpty { try? loop.modify(fd: a.socket.fd, events: EventLoop.readable | EventLoop.hangup) }
        }
        guard events & (EventLoop.readable | EventLoop.hangup) != 0 else { return }
        while true {
            var result: Result<(Int, SocketAddress)?, SysError> = .success(nil)
            receiveBuffer.withUnsafeMutableBytes { b in
                do throws(SysError) { result = .success(try a.socket.receive(into: b)) } catch { result = .failure(error) }
            }
            guard case .success(let got) = result else { return tcpFailed(p, a) }
            guard let (n, _) = got else { return }
            if n == 0 { return tcpFailed(p, a) }
            a.input.append(contentsOf: receiveBuffer[0..<n])
            if a.input.count >= 2 {
                let len = Int(a.input[0]) << 8 | Int(a.input[1])
                if a.input.count >= 2 + len {
                    let msg = Array(a.input[2..<(2 + len)])
                    let ok = msg.withUnsafeBytes { b in
                        UpstreamQuery.matches(b, id: a.id, nameWire: p.nameWire, type: p.type, rrClass: p.rrClass)
                    }
                    guard ok else { return tcpFailed(p, a) }
                    return received(p, a, msg)
                }
            }
        }
    }

    private func tcpFailed(_ p: Pending, _ a: Attempt) {
        close(a)
        p.attempt = nil
        servers.failure(a.server, now: loop.now(), hard: false)
        local.upstreamTimeouts &+= 1
        next(p)
    }

    /// A matching reply: retry elsewhere on a server error, over TCP on TC,
    /// else cache it and answer every waiter.
    private func received(_ p: Pending, _ a: Attempt, _ reply: [UInt8]) {
        close(a)
        p.attempt = nil
        let now = loop.now()
        let rcode = reply[3] & 0x0F
        let tc = reply[2] & 0x02 != 0
        if rcode == 2 || rcode == 5 || rcode == 4 || rcode == 1 {
            // SERVFAIL, REFUSED, NOTIMP, FORMERR: the server answers, the answer is no use.
            servers.success(a.server, rttNs: now &- a.sentAt)
            return next(p)
        }
        servers.success(a.server, rttNs: now &- a.sentAt)
        if tc && !a.tcp {
            if send(p, to: a.server, tcp: true) { return }
            return next(p)
        }
        local.latencySumUs &+= (now &- p.started) / 1000
        local.latencyCount &+= 1
        let fallback = setup.map { p.group < $0.groups.count && $0.groups[p.group].fallbackLocal } ?? false
        if let cache = frontend.cache, !fallback, p.rrClass == .in,
           let c = reply.withUnsafeBytes({ CacheableReply.extract($0, name: p.nameWire, type: p.type) }) {
            c.store(in: cache, now: Frontend.seconds(now))
        }
        pending[p.key] = nil
        reply.withUnsafeBytes { r in
            for w in p.waiters {
                let n = w.query.withUnsafeBytes { q in frontend.relay(r, query: q, into: out, udp: w.udp) }
                send(w, n)
            }
        }
    }

    /// Every server failed (or none was usable).
    private func fail(_ p: Pending) {
        pending[p.key] = nil
        local.upstreamFailures &+= 1
        let fallback = setup.map { p.group < $0.groups.count && $0.groups[p.group].fallbackLocal } ?? false
        for w in p.waiters {
            if fallback {
                let n = w.query.withUnsafeBytes { q in frontend.localFallback(q, into: out, udp: w.udp) }
                local.fallbackAnswers &+= 1
                send(w, n)
                continue
            }
            answer(w, servfail: false)
        }
    }

    /// Answers a waiter without an upstream reply: stale data if allowed
    /// and present, else SERVFAIL.
    private func answer(_ w: Waiter, servfail: Bool) {
        let now = Frontend.seconds(loop.now())
        let n: Int = w.query.withUnsafeBytes { q in
            if !servfail, let s = frontend.stale(q, into: out, udp: w.udp, now: now, local: local) { return s }
            return frontend.servfail(q, into: out, udp: w.udp)
        }
        send(w, n)
    }

    private func send(_ w: Waiter, _ n: Int) {
        guard n > 0 else { return }
        local.count(response: out, n)
        deliver(w.client, UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<n]))
    }

    /// Stops everything in flight (shutdown).
    func cancelAll() {
        for (_, p) in pending {
            if let a = p.attempt { close(a) }
        }
        pending.removeAll()
    }
}
