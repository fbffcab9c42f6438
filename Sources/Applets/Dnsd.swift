import Authority
import Config
import DNS
import Runtime
import Store
import Sys
import Zone

/// The `dnsd` applet: authoritative DNS over UDP and TCP from the zones in
/// the config and the store, answered by the sans-I/O `Answerer`.
///
/// Threads: UDP is served by `workers` threads (default one per CPU), each
/// with its own event loop and its own SO_REUSEPORT socket per listen
/// address, so the kernel spreads queries over them and no lock is taken
/// per query. The main thread runs the control socket, TCP (RFC 7766, incl.
/// zone transfers), NOTIFY, reloads and the store watch. A reload builds a
/// new immutable `Answerer` on the main thread and publishes it to every
/// worker, which adopts it between two batches: queries in flight finish on
/// the old snapshot, none sees a half-built one.
enum DnsdApplet {
    static func main(_ args: [String]) -> Int32 {
        guard let applet = Applets.find("dnsd"), let host = ServiceHost.start(applet, args) else { return ExitCode.failure }
        let server = DnsServer(host: host)
        guard server.start() else { return ExitCode.failure }
        guard host.dropPrivileges() else { return ExitCode.failure }
        let code = host.run()
        server.stop()
        return code
    }
}

/// One UDP serving thread on one socket: its recvmmsg/sendmmsg batch, its
/// output buffer and its current answerer. Nothing here is shared with other
/// workers; the main thread only hands over new answerers (`publish`).
///
/// With a thread, the socket is blocking and the thread sits in recvmmsg
/// (MSG_WAITFORONE, a 250 ms receive timeout to notice a stop): one system
/// call to receive a batch and one to send the replies, no epoll. Without a
/// thread (tests), the socket is non-blocking and `loop` (which only that
/// mode has) drives the same batch handling.
final class UDPWorker {
    static let stopCheckMs = 250
    let index: Int
    let socket: Socket
    let loop: EventLoop?
    private let batch = UDPBatch(slots: 32, slotSize: DnsServer.udpSlotSize)
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: DnsServer.udpSlotSize, alignment: 8)
    private var answerer: Answerer
    private let lock = Lock()
    private let hasPending = AtomicInt32(0)
    private let stopping = AtomicInt32(0)
    // Guarded by `lock`.
    private var pending: Answerer?
    private var retired: Answerer?
    private var thread: Thread?
    /// Written by the worker only; read (racily, for status) by the main thread.
    private(set) var queries: UInt64 = 0

    init(index: Int, answerer: Answerer, address: SocketAddress, threaded: Bool) throws(SysError) {
        self.index = index
        self.answerer = answerer
        loop = threaded ? nil : try EventLoop()
        var o = Socket.Options()
        o.reusePort = true
        // Only a wildcard bind needs IP_PKTINFO to reply from the address a
        // query arrived at; a socket bound to one address replies from it,
        // and skipping the control messages saves kernel work per packet.
        o.packetInfo = address.isUnspecified
        o.receiveBuffer = 1 << 20
        o.nonBlocking = !threaded
        socket = try Socket.udp(bind: address, options: o)
        do throws(SysError) {
            if let loop {
                try loop.add(fd: socket.fd) { [unowned(unsafe) self] _ in self.drain() }
            } else {
                try socket.setReceiveTimeout(milliseconds: UDPWorker.stopCheckMs)
            }
        } catch {
            socket.close()
            throw error
        }
    }

    deinit {
        out.deallocate()
        socket.close()
    }

    func startThread() throws(SysError) {
        thread = try Thread { [unowned(unsafe) self] in
            while self.stopping.load() == 0 {
                let n: Int
                do throws(SysError) { n = try self.batch.receiveWaiting(on: self.socket) } catch { n = 0 }
                self.adopt()
                if n > 0 { self.answer(n) }
            }
        }
    }

    /// Stops the thread (if any) and waits for it.
    func requestStop() { stopping.store(1) }
    func join() {
        thread?.join()
        thread = nil
    }

    /// Hands a new answerer to the worker (main thread). The worker takes
    /// it before answering its next batch.
    func publish(_ a: Answerer) {
        lock.withLock { pending = a }
        hasPending.store(1)
    }

    /// Frees the answerer the worker gave back (main thread), so a large
    /// snapshot is never freed on a serving thread.
    @discardableResult
    func collectRetired() -> Bool {
        let old: Answerer? = lock.withLock {
            let r = retired
            retired = nil
            return r
        }
        return old != nil
    }

    /// Takes a published answerer, if any (worker thread; one atomic load
    /// when there is nothing new).
    func adopt() {
        guard hasPending.load() != 0 else { return }
        lock.withLock {
            if let p = pending {
                retired = answerer
                answerer = p
                pending = nil
            }
            hasPending.store(0)
        }
    }

    /// Loop-driven mode: answers batches until the socket is drained.
    private func drain() {
        while true {
            adopt()
            let n: Int
            do throws(SysError) { n = try batch.receive(on: socket) } catch { return }
            if n == 0 { return }
            answer(n)
            // A short batch means the socket was drained: back to epoll
            // (level-triggered, so anything that arrived since wakes it at
            // once) instead of a recvmmsg that would only say EAGAIN.
            if n < batch.slots { return }
        }
    }

    /// Hot path: answers the `n` queries in the batch and sends the
    /// replies. No allocation.
    private func answer(_ n: Int) {
        var i = 0
        while i < n {
            let slot = batch.buffer(i)
            let query = UnsafeRawBufferPointer(start: slot.baseAddress, count: batch.length(i))
            let len = answerer.respond(to: query, into: out, udp: true)
            if len > 0 && len <= slot.count, let dst = slot.baseAddress, let src = out.baseAddress {
                dst.copyMemory(from: src, byteCount: len)
                batch.setReply(i, length: len)
            } else {
                batch.setReply(i, length: 0)
            }
            i &+= 1
        }
        batch.sendReplies(on: socket, count: n)
        queries &+= UInt64(n)
    }
}

final class DnsServer {
    static let udpSlotSize = 4096
    static let maxPendingOutput = 1 << 20
    /// A zone transfer adds messages while less than this is waiting to be sent.
    static let transferHighWater = 1 << 17
    static let maxWorkers = 64

    final class Connection {
        let socket: Socket
        let peer: SocketAddress
        var input: [UInt8] = []
        var output: [UInt8] = []
        var lastActive: UInt64
        var transfer: ZoneTransfer?
        init(socket: Socket, peer: SocketAddress, now: UInt64) {
            self.socket = socket
            self.peer = peer
            lastActive = now
        }
    }

    unowned(unsafe) let host: ServiceHost
    private let threaded: Bool
    private(set) var answerer: Answerer
    /// Zone transfer and NOTIFY settings by zone.
    private var policies: [DomainName: ZonePolicy] = [:]
    /// Fingerprints of the served zones with a synthesized SOA.
    private var fingerprints: [DomainName: UInt64] = [:]
    private(set) var workers: [UDPWorker] = []
    private var workerCount = 0
    private var tcpListeners: [Socket] = []
    private var connections: [Int32: Connection] = [:]
    private let tcpOut = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
    private var tcpQueries: UInt64 = 0
    private var transfers: UInt64 = 0
    private var idleMs: UInt64 = 10_000
    private var maxConnections = 1000
    private var store: Store?
    private var storeGeneration: Int64 = -1
    private var storedZones: [StoredZone] = []
    private var storeFailing = false
    private let notifier: Notifier

    /// `threaded: false` creates the workers without threads; tests then
    /// drive them with `runWorkersOnce`.
    init(host: ServiceHost, threaded: Bool = true) {
        self.host = host
        self.threaded = threaded
        notifier = Notifier(loop: host.loop)
        answerer = Answerer(snapshot: Snapshot(zones: []))
    }

    deinit {
        tcpOut.deallocate()
    }

    /// The answerer for a config and a zone set.
    static func makeAnswerer(_ c: Config, _ snapshot: Snapshot) -> Answerer {
        let nsid = c.string("dnsd", nil, "nsid").flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        let version = Array((c.string("dnsd", nil, "version") ?? "dnsbox").utf8)
        return Answerer(snapshot: snapshot, nsid: nsid, version: version)
    }

    /// Rebuilds zones and the answerer from `c` and the stored zones, hands
    /// the answerer to the workers and NOTIFYs secondaries of zones whose
    /// serial changed. Zone errors are logged (the zone is skipped, or its
    /// previous version kept).
    private func rebuild(_ c: Config, reason: String) {
        let served = answerer.snapshot
        var previous: [DomainName: ZoneSet.Previous] = [:]
        for z in served.compiledZones { previous[z.origin] = ZoneSet.Previous(serial: z.serial, fingerprint: fingerprints[z.origin]) }
        let set = ZoneSet.load(c, stored: storedZones, previous: previous,
                               now: UInt32(truncatingIfNeeded: Sys.realtimeNanos() / 1_000_000_000))
        for e in set.errors { log.error(e) }
        var sources: [ZoneSource] = []
        var nextPolicies: [DomainName: ZonePolicy] = [:]
        var nextFingerprints: [DomainName: UInt64] = [:]
        var i = 0
        while i < set.sources.count {
            switch set.sources[i] {
            case .fresh(let z):
                sources.append(.zone(z))
                nextPolicies[z.origin] = set.policies[i]
                if let f = set.fingerprints[z.origin] { nextFingerprints[z.origin] = f }
            case .keep(let origin):
                if let old = served.zone(named: origin) {
                    sources.append(.compiled(old))
                    nextPolicies[origin] = set.policies[i]
                    if let f = fingerprints[origin] { nextFingerprints[origin] = f }
                }
            }
            i += 1
        }
        let snapshot = Snapshot(sources: sources)
        let next = DnsServer.makeAnswerer(c, snapshot)
        answerer = next
        policies = nextPolicies
        fingerprints = nextFingerprints
        for w in workers { w.publish(next) }
        // Parsing and compiling leave a lot of freed heap behind.
        Sys.releaseFreeMemory()
        let zones = snapshot.compiledZones
        log.info("serving \(zones.count) zones", [("reason", reason),
                 ("zones", zones.map { "\($0.origin)@\($0.serial)" }.joined(separator: ","))])
        for z in zones {
            guard let p = policies[z.origin], !p.notify.isEmpty, previous[z.origin]?.serial != z.serial else { continue }
            notifier.notify(z, targets: p.notify)
        }
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

    /// `option workers`: 0 (the default) means one per CPU this process may use.
    static func workerCount(_ c: Config) -> Int {
        let n = c.int("dnsd", nil, "workers") ?? 0
        return max(1, min(n > 0 ? n : Sys.processorCount, maxWorkers))
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
        openStore()
        rebuild(c, reason: "start")
        let count = DnsServer.workerCount(c)
        workerCount = count
        do throws(SysError) {
            // One worker per (thread slot, listen address); SO_REUSEPORT
            // spreads each address's clients over its workers.
            for i in 0..<count {
                for a in addrs {
                    workers.append(try UDPWorker(index: i, answerer: answerer, address: a, threaded: threaded))
                }
            }
            for a in addrs {
                var to = Socket.Options()
                to.reusePort = true
                let t = try Socket.tcpListen(bind: a, options: to)
                tcpListeners.append(t)
                try host.loop.add(fd: t.fd) { [unowned(unsafe) self] _ in self.accept(t) }
                log.info("listening", [("address", a.description)])
            }
            if threaded {
                for w in workers { try w.startThread() }
            }
        } catch {
            log.error("cannot listen: \(error.description)")
            stop()
            return false
        }
        log.info("udp workers", [("count", "\(count)"), ("threads", "\(workers.count)")])
        host.loop.schedule(after: 1000, repeating: true) { [unowned(unsafe) self] in
            self.closeIdle()
            self.checkStore()
            var freed = false
            for w in self.workers { freed = w.collectRetired() || freed }
            if freed { Sys.releaseFreeMemory() }
        }
        host.applyConfig = { [unowned(unsafe) self] next in
            if case .success(let a) = DnsServer.listenAddresses(next), a != addrs {
                log.warn("option listen changed; it takes effect after a restart")
            }
            if DnsServer.workerCount(next) != self.workerCount {
                log.warn("option workers changed; it takes effect after a restart")
            }
            self.idleMs = UInt64(next.milliseconds("dnsd", nil, "tcp_idle_timeout") ?? 10_000)
            self.maxConnections = next.int("dnsd", nil, "tcp_max_connections") ?? 1000
            self.refreshStoredZones()
            self.rebuild(next, reason: "reload")
            return nil
        }
        host.command = { [unowned(unsafe) self] cmd in
            guard cmd == "poke" else { return nil }
            // The API pokes after a store write: look now instead of at the next poll.
            self.checkStore()
            return "ok generation=\(self.storeGeneration)"
        }
        host.statusFields = { [unowned(unsafe) self] in
            var udp: UInt64 = 0
            for w in self.workers { udp &+= w.queries }
            return [("zones", "\(self.answerer.snapshot.zoneCount)"),
                    ("zone_bytes", "\(self.answerer.snapshot.memoryBytes)"), ("workers", "\(self.workerCount)"),
                    ("udp_queries", "\(udp)"), ("tcp_queries", "\(self.tcpQueries)"),
                    ("tcp_connections", "\(self.connections.count)"), ("transfers", "\(self.transfers)"),
                    ("store_generation", "\(self.storeGeneration)")]
        }
        return true
    }

    func stop() {
        for w in workers { w.requestStop() }
        for w in workers { w.join() }
    }

    /// Test hook: one round of every worker's loop (workers without threads).
    func runWorkersOnce(timeoutMs: Int) {
        for w in workers {
            w.adopt()
            w.loop?.runOnce(timeoutMs: timeoutMs)
        }
    }

    // MARK: store

    /// Opens the store (before privileges are dropped) and reads its zones.
    /// Without a store dnsd serves the config's zones and says why.
    private func openStore() {
        do throws(StoreError) {
            store = try Store(path: host.settings.database)
        } catch {
            log.warn("cannot open the store; serving zones from the config only: \(error.description)")
            return
        }
        refreshStoredZones()
    }

    /// Reads the stored zones if the generation moved; true if it did.
    @discardableResult
    private func refreshStoredZones() -> Bool {
        guard let store else { return false }
        do throws(StoreError) {
            guard try store.generation() != storeGeneration else { return false }
            let (g, z) = try store.zones()
            storedZones = z
            storeGeneration = g
            if storeFailing { log.info("store readable again", [("generation", "\(g)")]) }
            storeFailing = false
            return true
        } catch {
            // The fail-safe: keep serving the last good picture.
            if !storeFailing { log.error("cannot read zones from the store; serving the last good version: \(error.description)") }
            storeFailing = true
            return false
        }
    }

    private func checkStore() {
        if refreshStoredZones() { rebuild(host.config, reason: "store generation \(storeGeneration)") }
    }

    // MARK: TCP (RFC 7766)

    private func accept(_ listener: Socket) {
        while true {
            let next: (Socket, SocketAddress)?
            do throws(SysError) { next = try listener.accept() } catch { return }
            guard let (sock, peer) = next else { return }
            if connections.count >= maxConnections {
                sock.close()
                continue
            }
            let conn = Connection(socket: sock, peer: peer, now: host.loop.now())
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
        if events & EventLoop.writable != 0 {
            guard flush(conn) else { return close(conn) }
            if conn.output.isEmpty && !process(conn) { return close(conn) }
        }
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
        if !process(conn) { close(conn) }
    }

    /// Answers every complete message in order (pipelining, RFC 7766
    /// §6.2.1.1); a zone transfer in progress holds back later messages
    /// until its last message is queued. Returns false to close.
    private func process(_ conn: Connection) -> Bool {
        if conn.transfer != nil && !pumpTransfer(conn) { return false }
        var consumed = 0
        while conn.transfer == nil && conn.input.count - consumed >= 2 {
            let len = Int(conn.input[consumed]) << 8 | Int(conn.input[consumed + 1])
            guard conn.input.count - consumed - 2 >= len else { break }
            let range = (consumed + 2)..<(consumed + 2 + len)
            consumed += 2 + len
            tcpQueries &+= 1
            if startTransfer(conn, Array(conn.input[range])) {
                if !pumpTransfer(conn) { return false }
                continue
            }
            let n = conn.input.withUnsafeBytes { all in
                answerer.respond(to: UnsafeRawBufferPointer(rebasing: all[range]), into: tcpOut, udp: false)
            }
            if n > 0 { queue(conn, n) }
        }
        if consumed > 0 { conn.input.removeFirst(consumed) }
        return conn.output.count <= DnsServer.maxPendingOutput && flush(conn)
    }

    private func queue(_ conn: Connection, _ n: Int) {
        conn.output.append(UInt8(n >> 8))
        conn.output.append(UInt8(n & 0xff))
        conn.output.append(contentsOf: UnsafeRawBufferPointer(start: tcpOut.baseAddress, count: n))
    }

    /// Starts an AXFR/IXFR if `query` asks for one of our zones and the peer
    /// is in its `allow_transfer`; false leaves the query to the answerer
    /// (which REFUSES transfers).
    private func startTransfer(_ conn: Connection, _ query: [UInt8]) -> Bool {
        let found: (CompiledZone, ZoneTransfer)? = query.withUnsafeBytes { b in
            guard let q = try? Query.parse(b), q.header.opcode == .query, q.edns.map({ $0.version == 0 }) ?? true,
                  q.question.type == .axfr || q.question.type == .ixfr,
                  q.question.rrClass == .in else { return nil }
            let name = q.question.name.domainName
            guard let zone = answerer.snapshot.zone(named: name) else { return nil }
            guard let policy = policies[name], policy.mayTransfer(conn.peer) else {
                log.warn("zone transfer refused", [("zone", name.description), ("peer", conn.peer.description)])
                return nil
            }
            guard let t = ZoneTransfer(zone: zone, query: b) else { return nil }
            return (zone, t)
        }
        guard let (zone, t) = found else { return false }
        conn.transfer = t
        transfers &+= 1
        log.info("zone transfer", [("zone", zone.origin.description), ("serial", "\(zone.serial)"),
                                   ("records", "\(zone.recordCount)"), ("peer", conn.peer.description)])
        return true
    }

    /// Queues transfer messages until the high-water mark; clears
    /// `conn.transfer` when the last one is queued. False on failure.
    private func pumpTransfer(_ conn: Connection) -> Bool {
        while var t = conn.transfer, conn.output.count < DnsServer.transferHighWater {
            let n = t.nextMessage(into: tcpOut)
            conn.transfer = t.isFinished ? nil : t
            if n == 0 {
                // A record that fits no message: the transfer cannot complete.
                log.error("zone transfer aborted", [("zone", t.zone.origin.description)])
                conn.transfer = nil
                return false
            }
            queue(conn, n)
        }
        return true
    }

    /// Writes what it can; waits for EPOLLOUT when the socket is full or a
    /// transfer has more to send. Returns false when the connection must be closed.
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
        let more = conn.transfer != nil ? EventLoop.writable : 0
        try? host.loop.modify(fd: conn.socket.fd, events: EventLoop.readable | EventLoop.hangup | more)
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
        for (_, c) in connections where c.transfer == nil && (now &- c.lastActive) / 1_000_000 >= idleMs { idle.append(c) }
        for c in idle { close(c) }
    }
}

/// Sends NOTIFY (RFC 1996) to a zone's secondaries when its serial changes,
/// over UDP from the main loop, and retries until each one answers: after
/// 1, 2, 4 and 8 seconds, then gives up (the secondary's refresh timer
/// still catches the change).
final class Notifier {
    static let retryDelaysMs: [UInt64] = [1000, 2000, 4000, 8000]

    struct Pending {
        var zone: CompiledZone
        var target: SocketAddress
        var id: UInt16
        var attempts: Int
        var dueAt: UInt64
    }

    unowned(unsafe) let loop: EventLoop
    private var v4: Socket?
    private var v6: Socket?
    private var pending: [Pending] = []
    private var timer: EventLoop.TimerID?
    private var buffer = [UInt8](repeating: 0, count: 4096)
    private(set) var sent: UInt64 = 0
    private(set) var acknowledged: UInt64 = 0

    init(loop: EventLoop) { self.loop = loop }

    func notify(_ zone: CompiledZone, targets: [SocketAddress]) {
        for t in targets {
            pending.removeAll { $0.target == t && $0.zone.origin == zone.origin }
            var p = Pending(zone: zone, target: t, id: UInt16(truncatingIfNeeded: Sys.random64()), attempts: 0, dueAt: 0)
            send(&p)
            pending.append(p)
        }
        armTimer()
    }

    private func socket(for family: SocketAddress.Family) -> Socket? {
        if family == .v4, let s = v4 { return s }
        if family == .v6, let s = v6 { return s }
        let any = family == .v4 ? SocketAddress(ip: "0.0.0.0", port: 0) : SocketAddress(ip: "::", port: 0)
        guard let bindTo = any, let s = try? Socket.udp(bind: bindTo) else {
            log.error("cannot open a socket for NOTIFY")
            return nil
        }
        do throws(SysError) {
            try loop.add(fd: s.fd) { [unowned(unsafe) self] _ in self.receive(s) }
        } catch {
            s.close()
            return nil
        }
        if family == .v4 { v4 = s } else { v6 = s }
        return s
    }

    private func send(_ p: inout Pending) {
        p.attempts += 1
        let delay = Notifier.retryDelaysMs[min(p.attempts - 1, Notifier.retryDelaysMs.count - 1)]
        p.dueAt = loop.now() &+ delay * 1_000_000
        guard let s = socket(for: p.target.family) else { return }
        let msg = Notify.message(id: p.id, zone: p.zone)
        if (try? s.send(msg, to: p.target)) != nil {
            sent &+= 1
            log.info("notify sent", [("zone", p.zone.origin.description), ("serial", "\(p.zone.serial)"),
                                     ("target", p.target.description), ("attempt", "\(p.attempts)")])
        }
    }

    private func receive(_ s: Socket) {
        while true {
            var result: (Int, SocketAddress)? = nil
            buffer.withUnsafeMutableBytes { b in result = try? s.receive(into: b) }
            guard let (n, from) = result else { return }
            buffer.withUnsafeBytes { all in
                let reply = UnsafeRawBufferPointer(rebasing: all[0..<n])
                if let i = pending.firstIndex(where: { $0.target == from && Notify.isReply(reply, id: $0.id, zone: $0.zone.origin) }) {
                    acknowledged &+= 1
                    log.info("notify acknowledged", [("zone", pending[i].zone.origin.description), ("target", from.description)])
                    pending.remove(at: i)
                }
            }
        }
    }

    private func armTimer() {
        guard timer == nil, !pending.isEmpty else { return }
        timer = loop.schedule(after: 250, repeating: true) { [unowned(unsafe) self] in self.retry() }
    }

    private func retry() {
        let now = loop.now()
        var i = 0
        while i < pending.count {
            if pending[i].dueAt <= now {
                if pending[i].attempts > Notifier.retryDelaysMs.count {
                    log.warn("notify not acknowledged; giving up", [("zone", pending[i].zone.origin.description),
                                                                    ("target", pending[i].target.description)])
                    pending.remove(at: i)
                    continue
                }
                send(&pending[i])
            }
            i += 1
        }
        if pending.isEmpty, let t = timer {
            loop.cancel(t)
            timer = nil
        }
    }
}
