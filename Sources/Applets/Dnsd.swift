import Authority
import Config
import DNS
import Resolver
import Runtime
import Store
import Sys
import Zone

/// The `dnsd` applet: authoritative DNS over UDP and TCP from the zones in
/// the config and the store, answered by the sans-I/O `Answerer`, and a
/// caching forwarder for everything else (`Frontend`, `Forwarder`).
///
/// Threads: UDP is served by `workers` threads (default one per CPU), each
/// with its own event loop and its own SO_REUSEPORT socket per listen
/// address, so the kernel spreads queries over them and no lock is taken
/// per query. The main thread runs the control socket, TCP (RFC 7766, incl.
/// zone transfers), NOTIFY, reloads and the store watch. A reload builds a
/// new immutable `Frontend` (answerer + forwarding setup; the cache is kept)
/// on the main thread and publishes it to every worker, which adopts it
/// between two batches: queries in flight finish on the old snapshot, none
/// sees a half-built one. Each worker forwards its own cache misses from its
/// own event loop; the cache is shared (sharded mutexes).
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
    let loop: EventLoop
    private let threaded: Bool
    private let wildcard: Bool
    private let batch = UDPBatch(slots: 32, slotSize: DnsServer.udpSlotSize)
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: DnsServer.udpSlotSize, alignment: 8)
    private var frontend: Frontend
    let local = ResolverLocal()
    private(set) var forwarder: Forwarder
    private let lock = Lock()
    private let hasPending = AtomicInt32(0)
    private let stopping = AtomicInt32(0)
    // Guarded by `lock`.
    private var pending: Frontend?
    private var retired: Frontend?
    private var thread: Thread?
    /// Written by the worker only; read (racily, for status) by the main thread.
    private(set) var queries: UInt64 = 0

    init(index: Int, frontend: Frontend, address: SocketAddress, threaded: Bool) throws(SysError) {
        self.index = index
        self.frontend = frontend
        self.threaded = threaded
        loop = try EventLoop()
        forwarder = Forwarder(loop: loop, frontend: frontend, local: local)
        var o = Socket.Options()
        o.reusePort = true
        // Only a wildcard bind needs IP_PKTINFO to reply from the address a
        // query arrived at; a socket bound to one address replies from it,
        // and skipping the control messages saves kernel work per packet.
        wildcard = address.isUnspecified
        o.packetInfo = wildcard
        o.receiveBuffer = 1 << 20
        o.nonBlocking = !threaded
        socket = try Socket.udp(bind: address, options: o)
        do throws(SysError) {
            try loop.add(fd: socket.fd) { [unowned(unsafe) self] _ in self.drain() }
            if threaded { try socket.setReceiveTimeout(milliseconds: UDPWorker.stopCheckMs) }
        } catch {
            socket.close()
            throw error
        }
        let sock = socket
        forwarder.deliver = { client, bytes in
            guard case .udp(let peer, let from) = client else { return }
            _ = try? sock.send(bytes, to: peer, from: from)
        }
    }

    deinit {
        forwarder.cancelAll()
        out.deallocate()
        socket.close()
    }

    /// The thread: while no upstream query is in flight, it sits in
    /// recvmmsg on the blocking socket (one system call per batch, no epoll:
    /// local answers and cache hits need nothing else); while some are, it
    /// runs its event loop, which also watches the upstream sockets and the
    /// timeouts.
    func startThread() throws(SysError) {
        thread = try Thread { [unowned(unsafe) self] in
            while self.stopping.load() == 0 {
                self.adopt()
                if self.forwarder.pendingCount > 0 {
                    _ = self.loop.runOnce(timeoutMs: UDPWorker.stopCheckMs)
                    continue
                }
                let n: Int
                do throws(SysError) { n = try self.batch.receiveWaiting(on: self.socket) } catch { n = 0 }
                self.adopt()
                if n > 0 { self.answer(n) }
            }
            self.forwarder.cancelAll()
        }
    }

    /// Stops the thread (if any) and waits for it.
    func requestStop() { stopping.store(1) }
    func join() {
        thread?.join()
        thread = nil
    }

    /// Hands a new frontend to the worker (main thread). The worker takes
    /// it before answering its next batch.
    func publish(_ f: Frontend) {
        lock.withLock { pending = f }
        hasPending.store(1)
    }

    /// Frees the frontend the worker gave back (main thread), so a large
    /// snapshot is never freed on a serving thread.
    @discardableResult
    func collectRetired() -> Bool {
        let old: Frontend? = lock.withLock {
            let r = retired
            retired = nil
            return r
        }
        return old != nil
    }

    /// Takes a published frontend, if any (worker thread; one atomic load
    /// when there is nothing new).
    func adopt() {
        guard hasPending.load() != 0 else { return }
        lock.withLock {
            if let p = pending {
                retired = frontend
                frontend = p
                pending = nil
            }
            hasPending.store(0)
        }
        forwarder.adopt(frontend)
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
    /// replies; queries to forward go to the forwarder. No allocation
    /// for local answers and cache hits.
    private func answer(_ n: Int) {
        let forwarding = frontend.forwarding != nil
        let now = forwarding ? Frontend.seconds(Sys.monotonicNanos()) : 0
        var i = 0
        while i < n {
            let slot = batch.buffer(i)
            let query = UnsafeRawBufferPointer(start: slot.baseAddress, count: batch.length(i))
            let peer = forwarding ? batch.peer(i) : SocketAddress.none
            switch frontend.handle(query, into: out, udp: true, peer: peer, now: now, local: local) {
            case .reply(let len):
                if len > 0 && len <= slot.count, let dst = slot.baseAddress, let src = out.baseAddress {
                    dst.copyMemory(from: src, byteCount: len)
                    batch.setReply(i, length: len)
                } else {
                    batch.setReply(i, length: 0)
                }
            case .forward(let group):
                batch.setReply(i, length: 0)
                forwarder.start(query, group: group, client: .udp(peer: peer, local: wildcard ? batch.local(i) : nil),
                                udp: true)
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
        let serial: UInt64
        init(socket: Socket, peer: SocketAddress, now: UInt64, serial: UInt64) {
            self.socket = socket
            self.peer = peer
            self.serial = serial
            lastActive = now
        }
    }

    unowned(unsafe) let host: ServiceHost
    private let threaded: Bool
    private(set) var frontend: Frontend
    var answerer: Answerer { frontend.answerer }
    /// Forwarding for TCP clients (the main thread's own forwarder).
    private let mainLocal = ResolverLocal()
    private var mainForwarder: Forwarder
    /// The cache, kept across reloads while its settings stay the same.
    private var cache: Cache?
    private var cacheKey = ""
    /// The router's own prefixes (the default allow_recursion), from netlink.
    private var ownPrefixes: [(bytes: [UInt8], prefix: Int)] = []
    private var connectionSerial: UInt64 = 0
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
    /// Services of the dynamic zones (written through the API).
    private var storedServices: [StoredService] = []
    private var snapshotBuilds: UInt64 = 0
    /// Input hashes of the served zones: a store change rebuilds only the
    /// zones whose inputs changed.
    private var inputHashes: [DomainName: UInt64] = [:]
    private var snapshotBuildMicros: UInt64 = 0
    /// DHCP leases (their names are published by `LeaseNames`).
    private var storedLeases: [StoredLease] = []
    private var storeFailing = false
    private let notifier: Notifier

    /// `threaded: false` creates the workers without threads; tests then
    /// drive them with `runWorkersOnce`.
    init(host: ServiceHost, threaded: Bool = true) {
        self.host = host
        self.threaded = threaded
        notifier = Notifier(loop: host.loop)
        let empty = Frontend(answerer: Answerer(snapshot: Snapshot(zones: [])), forwarding: nil, cache: nil)
        frontend = empty
        mainForwarder = Forwarder(loop: host.loop, frontend: empty, local: mainLocal)
        mainForwarder.deliver = { [unowned(unsafe) self] client, bytes in self.deliverTCP(client, bytes) }
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
        let wall = Sys.realtimeNanos() / 1_000_000_000
        let started = Sys.monotonicNanos()
        let serviceZones = DynamicServices.zones(storedServices, config: c)
        let leaseZones = LeaseNames.zones(leases: storedLeases, config: c, stored: storedZones + serviceZones, now: Int64(wall),
                                          subnets: DnsServer.dhcpSubnets(c))
        let set = ZoneSet.load(c, stored: storedZones + serviceZones + leaseZones, previous: previous,
                               now: UInt32(truncatingIfNeeded: wall),
                               reusable: reason.hasPrefix("store generation") ? inputHashes : [:])
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
        policies = nextPolicies
        fingerprints = nextFingerprints
        inputHashes = set.inputHashes.filter { nextPolicies[$0.key] != nil }
        publish(makeFrontend(c, next))
        snapshotBuilds &+= 1
        snapshotBuildMicros = (Sys.monotonicNanos() &- started) / 1000
        // Parsing and compiling leave a lot of freed heap behind.
        Sys.releaseFreeMemory()
        let zones = snapshot.compiledZones
        // Store writes (the API, leases) may come hundreds a second: debug.
        let level: LogLevel = reason.hasPrefix("store generation") ? .debug : .info
        if level >= log.level {
            log.log(level, "serving \(zones.count) zones", [("reason", reason),
                      ("zones", zones.map { "\($0.origin)@\($0.serial)" }.joined(separator: ","))])
        }
        for z in zones {
            guard let p = policies[z.origin], !p.notify.isEmpty, previous[z.origin]?.serial != z.serial else { continue }
            notifier.notify(z, targets: p.notify)
        }
    }

    /// Hands a new frontend to every thread.
    private func publish(_ f: Frontend) {
        frontend = f
        mainForwarder.adopt(f)
        for w in workers { w.publish(f) }
    }

    /// The forwarding setup of `c`: `list forwarder` (the default group) and
    /// each `config forward` zone; nil when neither is configured.
    static func forwardSetup(_ c: Config, ownPrefixes: [(bytes: [UInt8], prefix: Int)])
        -> (ForwardSetup?, [String]) {
        var errors: [String] = []
        var servers: [SocketAddress] = []
        func index(_ text: String, _ what: String) -> Int? {
            guard let a = SocketAddress(hostPort: text, defaultPort: 53) else {
                errors.append("\(what): '\(text)' is not an IP address (host names are not resolved)")
                return nil
            }
            if let i = servers.firstIndex(of: a) { return i }
            guard servers.count < 64 else {
                errors.append("\(what): more than 64 upstream servers; '\(text)' ignored")
                return nil
            }
            servers.append(a)
            return servers.count - 1
        }
        var groups: [ForwardSetup.Group] = []
        for section in c.sections(ofType: "forward") {
            // One group per zone of the section (a zone and its reverse zones share the servers).
            let zones = section.option("zone")?.values ?? []
            let what = "forward \(zones.first ?? "(no zone)")"
            let list = (section.option("server")?.values ?? []).compactMap { index($0, what) }
            guard !list.isEmpty else {
                errors.append("\(what): no server")
                continue
            }
            if zones.isEmpty { errors.append("forward: a section without `option zone`") }
            let fallback = section.option("fallback_local")?.values.first.flatMap(parseBool) ?? false
            for zoneText in zones {
                guard !zoneText.isEmpty, let zone = try? DomainName(zoneText, origin: .root) else {
                    errors.append("forward: zone '\(zoneText)' is not a domain name")
                    continue
                }
                groups.append(ForwardSetup.Group(zone: zone, servers: list, fallbackLocal: fallback))
            }
        }
        let defaults = c.values("dnsd", nil, "forwarder").compactMap { index($0, "forwarder") }
        if !defaults.isEmpty { groups.append(ForwardSetup.Group(zone: nil, servers: defaults, fallbackLocal: false)) }
        guard !groups.isEmpty else { return (nil, errors) }
        var allow = AccessList()
        let given = c.values("dnsd", nil, "allow_recursion")
        if given.isEmpty {
            // Loopback and the router's own subnets: never an open resolver.
            allow.add(bytes: [127, 0, 0, 0], prefix: 8)
            allow.add(bytes: [UInt8](repeating: 0, count: 15) + [1], prefix: 128)
            for p in ownPrefixes { allow.add(bytes: p.bytes, prefix: p.prefix) }
        } else {
            for text in given {
                if let cidr = CIDR(addressOrPrefix: text) { allow.add(bytes: cidr.address.bytes, prefix: cidr.prefix) }
            }
        }
        let timeout = UInt64(max(50, c.milliseconds("dnsd", nil, "upstream_timeout") ?? 1500))
        return (ForwardSetup(servers: servers, groups: groups, allow: allow, timeoutMs: timeout), errors)
    }

    /// The IPv4 network and prefix of each `config dhcp` interface.
    static func dhcpSubnets(_ c: Config) -> [String: (UInt32, Int)] {
        let names = c.sections(ofType: "dhcp").compactMap { $0.option("interface")?.values.first }
        guard !names.isEmpty, let nl = try? Netlink(), let addrs = try? nl.addresses() else { return [:] }
        var out: [String: (UInt32, Int)] = [:]
        for n in names {
            guard let i = nl.index(of: n) else { continue }
            for a in addrs where a.interfaceIndex == i && a.address.family == .v4 {
                let v = a.address.bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let mask = a.prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - min(a.prefixLength, 32))
                out[n] = (v & mask, a.prefixLength)
                break
            }
        }
        return out
    }

    /// The router's own prefixes, for the default allow_recursion.
    static func readOwnPrefixes() -> [(bytes: [UInt8], prefix: Int)] {
        guard let nl = try? Netlink(), let addrs = try? nl.addresses() else { return [] }
        return addrs.map { ($0.address.bytes, $0.prefixLength) }
    }

    /// The frontend for config `c` over `answerer`: the forwarding setup,
    /// and the cache (kept when its size, stale window and the upstreams
    /// are unchanged; a new setup starts with an empty cache).
    private func makeFrontend(_ c: Config, _ answerer: Answerer) -> Frontend {
        if c.values("dnsd", nil, "allow_recursion").isEmpty && ownPrefixes.isEmpty {
            ownPrefixes = DnsServer.readOwnPrefixes()
        }
        let (setup, errors) = DnsServer.forwardSetup(c, ownPrefixes: ownPrefixes)
        for e in errors { log.error(e) }
        guard let setup else {
            cache = nil
            cacheKey = ""
            return Frontend(answerer: answerer, forwarding: nil, cache: nil)
        }
        let size = max(1, c.int("dnsd", nil, "cache_size") ?? 10_000)
        let stale = UInt32(min(Int(UInt32.max), (c.milliseconds("dnsd", nil, "serve_stale") ?? 86_400_000) / 1000))
        var key = "\(size)/\(stale)"
        for g in setup.groups {
            key += "|\(g.zone?.description ?? "."):" + g.servers.map { setup.servers[$0].description }.joined(separator: ",")
        }
        if cache == nil || key != cacheKey {
            if size > 0 { cache = Cache(capacity: size, staleWindow: stale) }
            cacheKey = key
        }
        return Frontend(answerer: answerer, forwarding: setup, cache: cache)
    }

    /// Re-reads the router's addresses; a change rebuilds the frontend.
    private func checkOwnPrefixes() {
        guard frontend.forwarding != nil, host.config.values("dnsd", nil, "allow_recursion").isEmpty else { return }
        let now = DnsServer.readOwnPrefixes()
        let same = now.count == ownPrefixes.count && zip(now, ownPrefixes).allSatisfy { $0.bytes == $1.bytes && $0.prefix == $1.prefix }
        guard !same else { return }
        ownPrefixes = now
        publish(makeFrontend(host.config, frontend.answerer))
    }

    /// Forwarding counters summed over every thread.
    private func resolverStatus() -> [(String, String)] {
        var locals = [mainLocal]
        for w in workers { locals.append(w.local) }
        var hits: UInt64 = 0, misses: UInt64 = 0, stale: UInt64 = 0, refused: UInt64 = 0, fallback: UInt64 = 0
        var upq: UInt64 = 0, upt: UInt64 = 0, upf: UInt64 = 0, tcp: UInt64 = 0, coalesced: UInt64 = 0
        var latSum: UInt64 = 0, latCount: UInt64 = 0
        var rcodes = [UInt64](repeating: 0, count: 16)
        var qtypes = [UInt64](repeating: 0, count: ResolverLocal.typeNames.count)
        for l in locals {
            for i in 0..<qtypes.count { qtypes[i] &+= l.qtypes[i] }
            hits &+= l.cacheHits; misses &+= l.cacheMisses; stale &+= l.staleAnswers
            refused &+= l.recursionRefused; fallback &+= l.fallbackAnswers
            upq &+= l.upstreamQueries; upt &+= l.upstreamTimeouts; upf &+= l.upstreamFailures
            tcp &+= l.upstreamTCP; coalesced &+= l.coalesced
            latSum &+= l.latencySumUs; latCount &+= l.latencyCount
            for i in 0..<16 { rcodes[i] &+= l.rcodes[i] }
        }
        var f: [(String, String)] = [
            ("cache_entries", "\(frontend.cache?.count ?? 0)"), ("cache_hits", "\(hits)"), ("cache_misses", "\(misses)"),
            ("stale_answers", "\(stale)"), ("recursion_refused", "\(refused)"), ("fallback_answers", "\(fallback)"),
            ("upstream_queries", "\(upq)"), ("upstream_errors", "\(upt)"), ("upstream_failures", "\(upf)"),
            ("upstream_tcp", "\(tcp)"), ("coalesced", "\(coalesced)"),
            ("upstream_latency_us", "\(latCount > 0 ? latSum / latCount : 0)"),
        ]
        let names = ["noerror", "formerr", "servfail", "nxdomain", "notimp", "refused"]
        for (i, n) in names.enumerated() { f.append(("rcode_\(n)", "\(rcodes[i])")) }
        for (i, n) in ResolverLocal.typeNames.enumerated() where qtypes[i] > 0 { f.append(("qtype_\(n)", "\(qtypes[i])")) }
        return f
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
                    workers.append(try UDPWorker(index: i, frontend: frontend, address: a, threaded: threaded))
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
        host.loop.schedule(after: 30_000, repeating: true) { [unowned(unsafe) self] in self.checkOwnPrefixes() }
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
                    ("store_generation", "\(self.storeGeneration)"), ("snapshot_builds", "\(self.snapshotBuilds)"),
                    ("snapshot_build_us", "\(self.snapshotBuildMicros)")] + self.resolverStatus()
        }
        return true
    }

    func stop() {
        for w in workers { w.requestStop() }
        for w in workers { w.join() }
        mainForwarder.cancelAll()
    }

    /// Test hook: one round of every worker's loop (workers without threads).
    func runWorkersOnce(timeoutMs: Int) {
        for w in workers {
            w.adopt()
            _ = w.loop.runOnce(timeoutMs: timeoutMs)
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
            storedLeases = try store.leases()
            storedServices = try store.services()
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
        // A store that could not be opened at start (busy, not yet created
        // by another applet) is tried again at every poll.
        if store == nil {
            do throws(StoreError) {
                store = try Store(path: host.settings.database)
                log.info("store opened", [("path", host.settings.database)])
            } catch {
                return
            }
        }
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
            connectionSerial &+= 1
            let conn = Connection(socket: sock, peer: peer, now: host.loop.now(), serial: connectionSerial)
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
            let now = Frontend.seconds(host.loop.now())
            let d = conn.input.withUnsafeBytes { all in
                frontend.handle(UnsafeRawBufferPointer(rebasing: all[range]), into: tcpOut, udp: false,
                                peer: conn.peer, now: now, local: mainLocal)
            }
            switch d {
            case .reply(let n):
                if n > 0 { queue(conn, n) }
            case .forward(let g):
                // Answered when the upstream replies (RFC 7766 §7: responses
                // may come out of order).
                conn.input.withUnsafeBytes { all in
                    mainForwarder.start(UnsafeRawBufferPointer(rebasing: all[range]), group: g,
                                        client: .tcp(fd: conn.socket.fd, serial: conn.serial), udp: false)
                }
            }
        }
        if consumed > 0 { conn.input.removeFirst(consumed) }
        return conn.output.count <= DnsServer.maxPendingOutput && flush(conn)
    }

    private func queue(_ conn: Connection, _ n: Int) {
        conn.output.append(UInt8(n >> 8))
        conn.output.append(UInt8(n & 0xff))
        conn.output.append(contentsOf: UnsafeRawBufferPointer(start: tcpOut.baseAddress, count: n))
    }

    /// A forwarded answer for a TCP client, if its connection is still open.
    private func deliverTCP(_ client: ClientRef, _ bytes: UnsafeRawBufferPointer) {
        guard case .tcp(let fd, let serial) = client, let conn = connections[fd], conn.serial == serial else { return }
        conn.output.append(UInt8(bytes.count >> 8))
        conn.output.append(UInt8(bytes.count & 0xff))
        conn.output.append(contentsOf: bytes)
        if conn.output.count > DnsServer.maxPendingOutput || !flush(conn) { close(conn) }
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
