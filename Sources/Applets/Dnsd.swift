import Authority
import Config
import DNS
import Runtime
import Sys
import Zone

/// The `dnsd` applet: authoritative DNS over UDP and TCP from the zones in
/// the config, answered by the sans-I/O `Answerer`.
///
/// This release serves from one event-loop thread per process. UDP goes
/// through `UDPBatch` (recvmmsg/sendmmsg into preallocated slots, replies
/// from the address each query hit) and allocates nothing per query. TCP
/// (RFC 7766) handles length-prefixed, pipelined messages, with an idle
/// timeout and a connection cap; a connection that buffers more than
/// `maxPendingOutput` unread bytes is closed. A reload (SIGHUP or `ctl dnsd
/// reload`) rebuilds the snapshot and swaps it between two packets.
enum DnsdApplet {
    static func main(_ args: [String]) -> Int32 {
        guard let applet = Applets.find("dnsd"), let host = ServiceHost.start(applet, args) else { return ExitCode.failure }
        let server = DnsServer(host: host)
        guard server.start() else { return ExitCode.failure }
        guard host.dropPrivileges() else { return ExitCode.failure }
        return host.run()
    }
}

final class DnsServer {
    static let udpSlotSize = 4096
    static let maxPendingOutput = 1 << 20

    final class Connection {
        let socket: Socket
        var input: [UInt8] = []
        var output: [UInt8] = []
        var lastActive: UInt64
        init(socket: Socket, now: UInt64) {
            self.socket = socket
            lastActive = now
        }
    }

    unowned(unsafe) let host: ServiceHost
    private(set) var answerer: Answerer
    private var zones: [Zone]
    private var udpSockets: [Socket] = []
    private var tcpListeners: [Socket] = []
    private var connections: [Int32: Connection] = [:]
    private let batch = UDPBatch(slots: 32, slotSize: DnsServer.udpSlotSize)
    private let udpOut = UnsafeMutableRawBufferPointer.allocate(byteCount: DnsServer.udpSlotSize, alignment: 8)
    private let tcpOut = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    private var udpQueries: UInt64 = 0
    private var tcpQueries: UInt64 = 0
    private var idleMs: UInt64 = 10_000
    private var maxConnections = 1000

    init(host: ServiceHost) {
        self.host = host
        let loaded = DnsServer.build(host.config, previous: [])
        answerer = loaded.0
        zones = loaded.1
    }

    deinit {
        udpOut.deallocate()
        tcpOut.deallocate()
    }

    /// Zones and answerer from a config; zone errors are logged (the zone is
    /// skipped, or its previous version kept).
    static func build(_ c: Config, previous: [Zone]) -> (Answerer, [Zone]) {
        let set = ZoneSet.load(c, previous: previous, now: UInt32(truncatingIfNeeded: Sys.realtimeNanos() / 1_000_000_000))
        for e in set.errors { log.error(e) }
        let nsid = c.string("dnsd", nil, "nsid").flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        let version = Array((c.string("dnsd", nil, "version") ?? "dnsbox").utf8)
        let a = Answerer(snapshot: Snapshot(zones: set.zones), nsid: nsid, version: version)
        log.info("serving \(set.zones.count) zones", [("zones", set.zones.map { $0.origin.description }.joined(separator: ","))])
        return (a, set.zones)
    }

    /// The listen addresses: `list listen`, or 0.0.0.0:53 and [::]:53.
    static func listenAddresses(_ c: Config) -> Result<[SocketAddress], UsageError> {
        let given = c.values("dnsd", nil, "listen")
        var out: [SocketAddress] = []
        for text in given.isEmpty ? ["0.0.0.0:53", "[::]:53"] : given {
            guard let a = SocketAddress(hostPort: text, defaultPort: 53) else {
                return .failure(UsageError(message: "listen '\(text)': give an IP address (host names are not resolved)"))
            }
            out.append(a)
        }
        return .success(out)
    }

    func start() -> Bool {
        let c = host.config
        idleMs = UInt64(c.milliseconds("dnsd", nil, "tcp_idle_timeout") ?? 10_000)
        maxConnections = c.int("dnsd", nil, "tcp_max_connections") ?? 1000
        let addrs: [SocketAddress]
        switch DnsServer.listenAddresses(c) {
        case .success(let a): addrs = a
        case .failure(let e):
            log.error(e.message)
            return false
        }
        do throws(SysError) {
            for a in addrs {
                var o = Socket.Options()
                o.reusePort = true
                o.packetInfo = true
                o.receiveBuffer = 1 << 20
                let u = try Socket.udp(bind: a, options: o)
                udpSockets.append(u)
                try host.loop.add(fd: u.fd) { [unowned(unsafe) self] _ in self.serveUDP(u) }
                var to = Socket.Options()
                to.reusePort = true
                let t = try Socket.tcpListen(bind: a, options: to)
                tcpListeners.append(t)
                try host.loop.add(fd: t.fd) { [unowned(unsafe) self] _ in self.accept(t) }
                log.info("listening", [("address", a.description)])
            }
        } catch {
            log.error("cannot listen: \(error.description)")
            return false
        }
        host.loop.schedule(after: 1000, repeating: true) { [unowned(unsafe) self] in self.closeIdle() }
        host.applyConfig = { [unowned(unsafe) self] next in
            if case .success(let a) = DnsServer.listenAddresses(next), a != addrs {
                log.warn("option listen changed; it takes effect after a restart")
            }
            let (answerer, zones) = DnsServer.build(next, previous: self.zones)
            self.answerer = answerer
            self.zones = zones
            return nil
        }
        host.statusFields = { [unowned(unsafe) self] in
            [("zones", "\(self.zones.count)"), ("udp_queries", "\(self.udpQueries)"),
             ("tcp_queries", "\(self.tcpQueries)"), ("tcp_connections", "\(self.connections.count)")]
        }
        return true
    }

    // MARK: UDP (hot path: no allocation)

    private func serveUDP(_ socket: Socket) {
        while true {
            let n: Int
            do throws(SysError) { n = try batch.receive(on: socket) } catch { return }
            if n == 0 { return }
            var i = 0
            while i < n {
                let slot = batch.buffer(i)
                let query = UnsafeRawBufferPointer(start: slot.baseAddress, count: batch.length(i))
                let len = answerer.respond(to: query, into: udpOut, udp: true)
                if len > 0 && len <= slot.count, let dst = slot.baseAddress, let src = udpOut.baseAddress {
                    dst.copyMemory(from: src, byteCount: len)
                    batch.setReply(i, length: len)
                } else {
                    batch.setReply(i, length: 0)
                }
                i &+= 1
            }
            batch.sendReplies(on: socket, count: n)
            udpQueries &+= UInt64(n)
        }
    }

    // MARK: TCP (RFC 7766)

    private func accept(_ listener: Socket) {
        while true {
            let next: (Socket, SocketAddress)?
            do throws(SysError) { next = try listener.accept() } catch { return }
            guard let (sock, _) = next else { return }
            if connections.count >= maxConnections {
                sock.close()
                continue
            }
            let conn = Connection(socket: sock, now: host.loop.now())
            connections[sock.fd] = conn
            do throws(SysError) {
                try host.loop.add(fd: sock.fd, events: EventLoop.readable | EventLoop.hangup) { [unowned(unsafe) self] ev in
                    self.onTCP(conn, ev)
                }
            } catch {
                close(conn)
            }
        }
    }

    private func onTCP(_ conn: Connection, _ events: UInt32) {
        conn.lastActive = host.loop.now()
        if events & EventLoop.writable != 0 && !flush(conn) { return close(conn) }
        guard events & (EventLoop.readable | EventLoop.hangup) != 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            // Result instead of a typed-throws closure: Swift 6.3.1 crashes on
            // those passed to the stdlib's withUnsafe… functions.
            var result: Result<(Int, SocketAddress)?, SysError> = .success(nil)
            chunk.withUnsafeMutableBytes { b in
                do throws(SysError) { result = .success(try conn.socket.receive(into: b)) } catch { result = .failure(error) }
            }
            guard case .success(let got) = result else { return close(conn) }
            guard let (n, _) = got else { break }
            if n == 0 { return close(conn) }
            conn.input.append(contentsOf: chunk[0..<n])
            // At most one whole message plus its prefix may wait unanswered.
            if conn.input.count > 2 * 65537 { return close(conn) }
        }
        // Answer every complete message (pipelining: in order, RFC 7766 §6.2.1.1).
        var consumed = 0
        while conn.input.count - consumed >= 2 {
            let len = Int(conn.input[consumed]) << 8 | Int(conn.input[consumed + 1])
            guard conn.input.count - consumed - 2 >= len else { break }
            let n = conn.input.withUnsafeBytes { all in
                answerer.respond(to: UnsafeRawBufferPointer(rebasing: all[(consumed + 2)..<(consumed + 2 + len)]),
                                 into: tcpOut, udp: false)
            }
            consumed += 2 + len
            tcpQueries &+= 1
            if n > 0 {
                conn.output.append(UInt8(n >> 8))
                conn.output.append(UInt8(n & 0xff))
                conn.output.append(contentsOf: UnsafeRawBufferPointer(start: tcpOut.baseAddress, count: n))
            }
        }
        if consumed > 0 { conn.input.removeFirst(consumed) }
        if conn.output.count > DnsServer.maxPendingOutput || !flush(conn) { close(conn) }
    }

    /// Writes what it can; waits for EPOLLOUT when the socket is full.
    /// Returns false when the connection must be closed.
    private func flush(_ conn: Connection) -> Bool {
        while !conn.output.isEmpty {
            let n: Int
            do throws(SysError) { n = try conn.socket.send(conn.output) } catch {
                guard error.wouldBlock else { return false }
                try? host.loop.modify(fd: conn.socket.fd, events: EventLoop.readable | EventLoop.writable | EventLoop.hangup)
                return true
            }
            conn.output.removeFirst(n)
        }
        try? host.loop.modify(fd: conn.socket.fd, events: EventLoop.readable | EventLoop.hangup)
        return true
    }

    private func close(_ conn: Connection) {
        host.loop.remove(fd: conn.socket.fd)
        connections[conn.socket.fd] = nil
        conn.socket.close()
    }

    private func closeIdle() {
        let now = host.loop.now()
        var idle: [Connection] = []
        for (_, c) in connections where (now &- c.lastActive) / 1_000_000 >= idleMs { idle.append(c) }
        for c in idle { close(c) }
    }
}
