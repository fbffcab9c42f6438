// The `dnsd` applet: authoritative DNS over UDP and TCP from the zones in
// the config and the store, answered by the sans-I/O `Answerer`, and a
// caching forwarder for everything else (`Frontend`, `ForwardEngine`).
//
// Threads: UDP is served by `workers` threads (default one per CPU), each
// with its own event loop and its own SO_REUSEPORT socket per listen
// address, so the kernel spreads queries over them and no lock is taken per
// query. The main thread runs the control socket, TCP (incl. zone
// transfers), NOTIFY, reloads, the store watch and the interface watch. A
// change builds a new immutable `Frontend` (answerer + forwarding setup;
// the cache is kept) on the main thread and publishes it to every worker,
// which adopts it between two batches: queries in flight finish on the old
// snapshot, none sees a half-built one.

import Authority
import Config
import Daemon
import DNS
import Resolver
import Runtime
import Store
import Sys

public final class DnsdService: Service {
    static let maxWorkers = 64

    unowned(unsafe) let host: ServiceHost
    private let threaded: Bool
    private(set) var frontend: Frontend
    var answerer: Answerer { frontend.answerer }
    private var cache: Cache?
    private var cacheKey = ""
    private let feed: ZoneFeed
    private var interfaces: InterfaceWatcher?
    private(set) var workers: [UDPWorker] = []
    private var workerCount = 0
    private var listen: [SocketAddress] = []
    private var tcpListeners: [Socket] = []
    private var tcp: DnsTCP
    private let notifier: NotifySender
    private let secondaries: SecondaryZones
    private let journals: ZoneJournals
    private let inbox = NotifyInbox()

    /// `threaded: false` creates the workers without threads; tests then
    /// drive them with `runWorkersOnce`.
    public init(host: ServiceHost, threaded: Bool = true) {
        self.host = host
        self.threaded = threaded
        notifier = NotifySender(loop: host.loop)
        feed = ZoneFeed(store: host.storeHandle(.optional))
        secondaries = SecondaryZones(loop: host.loop, store: feed.store)
        journals = ZoneJournals(store: feed.store)
        let empty = Frontend(answerer: Answerer(snapshot: Snapshot(zones: [])), forwarding: nil, cache: nil)
        frontend = empty
        tcp = DnsTCP(loop: host.loop, frontend: empty, settings: host.config.dnsd)
    }

    // MARK: Service

    public func start() -> Bool {
        let c = host.config
        switch DnsdService.listenAddresses(c) {
        case .success(let a): listen = a
        case .failure(let e):
            log.error(e.message)
            return false
        }
        do throws(SysError) {
            let w = try InterfaceWatcher(loop: host.loop)
            w.subscribe { [unowned(unsafe) self] in self.interfacesChanged() }
            interfaces = w
        } catch {
            log.warn("cannot watch interfaces (\(error.description)); DHCP reverse zones and the default allow_recursion use no interface addresses")
        }
        feed.store.open()
        feed.refresh()
        secondaries.onChange = { [unowned(unsafe) self] in
            self.rebuild(self.host.config, reason: "secondary zone", reuse: true)
        }
        tcp.onNotify = { [unowned(unsafe) self] q, peer in self.notified(q, peer) }
        do throws(SysError) {
            guard inbox.fd >= 0 else { throw SysError.last("eventfd") }
            try host.loop.add(fd: inbox.fd) { [unowned(unsafe) self] _ in
                for (q, peer) in self.inbox.take() { q.withUnsafeBytes { self.notified($0, peer) } }
            }
        } catch {
            log.error("cannot watch for NOTIFY: \(error.description)")
            return false
        }
        rebuild(c, reason: "start")
        workerCount = DnsdService.workerCount(c)
        do throws(SysError) {
            // One worker per (thread slot, listen address); SO_REUSEPORT
            // spreads each address's clients over its workers.
            for i in 0..<workerCount {
                for a in listen {
                    let w = try UDPWorker(index: i, frontend: frontend, address: a, threaded: threaded)
                    let box = inbox
                    w.onNotify = { q, peer in box.post(q, from: peer) }
                    workers.append(w)
                }
            }
            for a in listen {
                var o = Socket.Options()
                o.reusePort = true
                let t = try Socket.tcpListen(bind: a, options: o)
                tcpListeners.append(t)
                try tcp.server.listen(t)
                log.info("listening", [("address", a.description)])
            }
            if threaded {
                for w in workers { try w.startThread() }
            }
        } catch {
            log.error("cannot listen: \(error.description)")
            return false
        }
        log.info("udp workers", [("count", "\(workerCount)"), ("threads", "\(workers.count)")])
        host.loop.schedule(after: 1000, repeating: true) { [unowned(unsafe) self] in
            self.checkStore()
            self.compactLayers()
            self.feed.forgetAppliedChanges()
            var freed = false
            for w in self.workers { freed = w.collectRetired() || freed }
            if freed { Sys.releaseFreeMemory() }
        }
        return true
    }

    public func reconfigure(_ next: Config) -> Reconfiguration {
        if case .success(let a) = DnsdService.listenAddresses(next), a != listen {
            return .needsRestart("option listen changed")
        }
        if DnsdService.workerCount(next) != workerCount { return .needsRestart("option workers changed") }
        tcp.configure(next.dnsd)
        feed.refresh()
        rebuild(next, reason: "reload")
        return .applied
    }

    public func command(_ cmd: String) -> String? {
        guard cmd == "poke" else { return nil }
        // A writer pokes after a commit: look now instead of at the next poll.
        checkStore()
        return "ok generation=\(feed.generation)"
    }

    public func status(_ s: inout Status) {
        typealias K = StatusKeys.Dnsd
        var udp: UInt64 = 0
        for w in workers { udp &+= w.queries }
        s.set(K.zones, answerer.snapshot.zoneCount)
        s.set(K.zoneBytes, answerer.snapshot.memoryBytes)
        s.set(K.workers, workerCount)
        s.set(K.udpQueries, udp)
        s.set(K.tcpQueries, tcp.queries)
        s.set(K.tcpConnections, tcp.server.count)
        s.set(K.transfers, tcp.transfers)
        s.set(K.storeGeneration, feed.generation)
        s.set(K.snapshotBuilds, feed.builds)
        s.set(K.snapshotBuildMicros, feed.lastBuildMicros)
        s.set(K.layeredChanges, feed.layered)
        s.set(K.layerMicros, feed.lastLayerMicros)
        var locals = [tcp.local]
        for w in workers { locals.append(w.local) }
        ResolverStatus.add(locals, cacheEntries: frontend.cache?.count ?? 0, to: &s)
    }

    public func stop() {
        for w in workers { w.requestStop() }
        for w in workers { w.join() }
        tcp.stop()
        secondaries.stop()
        for t in tcpListeners { t.close() }
        tcpListeners.removeAll()
    }

    /// Test hook: one round of every worker's loop (workers without threads).
    func runWorkersOnce(timeoutMs: Int) {
        for w in workers {
            w.adopt()
            _ = w.loop.runOnce(timeoutMs: timeoutMs)
        }
    }

    // MARK: zones

    @_optimize(size) private func checkStore() {
        switch feed.refresh() {
        case .unchanged:
            return
        case .full:
            rebuild(host.config, reason: "store generation \(feed.generation)")
        case .services(let changed):
            if !applyServices(changed) { rebuild(host.config, reason: "store generation \(feed.generation)") }
        }
    }

    /// When the last service change went into a zone's layer (ns, monotonic).
    private var lastLayered: UInt64 = 0

    /// Service writes answered without compiling their zone (the zones'
    /// layers); false when a rebuild must do it.
    @_optimize(size) private func applyServices(_ changed: [(zone: String, name: String)]) -> Bool {
        let c = host.config
        let served = answerer.snapshot
        let wall = UInt32(truncatingIfNeeded: Sys.realtimeNanos() / 1_000_000_000)
        let started = Sys.monotonicNanos()
        guard let (layered, zones) = feed.overlay(c, served: served, changed: changed, now: wall) else { return false }
        guard !zones.isEmpty else { return true }
        let snapshot = journals.update(layered, served: served, maxDepth: c.dnsd.journalMaxDepth,
                                       maxBytes: c.dnsd.journalMaxUsage)
        let a = answerer
        publish(Frontend(answerer: Answerer(snapshot: snapshot, nsid: a.nsid, version: Array(c.dnsd.version.utf8),
                                            tsigKeys: a.tsigKeys, clock: { SecondaryZones.wallSeconds() }),
                         forwarding: frontend.forwarding, cache: frontend.cache))
        lastLayered = Sys.monotonicNanos()
        feed.noteLayered(micros: (lastLayered &- started) / 1000)
        if log.level <= .debug {
            log.debug("service changes layered", [("changes", "\(changed.count)"),
                      ("zones", zones.map { "\($0.0.origin)@\($0.0.serial)+\($0.0.layer?.count ?? 0)" }.joined(separator: ","))])
        }
        for (z, p) in zones where !p.notify.isEmpty { notifier.notify(z, targets: p.notify, key: p.tsigKey) }
        return true
    }

    /// Compiles zones under a layer afresh once the writes pause
    /// (`layerQuietSeconds`): their memory and lookups back to one piece.
    @_optimize(size) private func compactLayers() {
        guard Sys.monotonicNanos() &- lastLayered >= DnsdService.layerQuietSeconds * 1_000_000_000,
              answerer.snapshot.compiledZones.contains(where: { $0.layer != nil }) else { return }
        rebuild(host.config, reason: "compacting zone layers", reuse: true)
    }
    static let layerQuietSeconds: UInt64 = 5

    /// A NOTIFY the answer path accepted (UDP through the inbox, TCP directly).
    private func notified(_ query: UnsafeRawBufferPointer, _ peer: SocketAddress) {
        guard let zone = answerer.acceptedNotify(query, peer: peer) else { return }
        secondaries.notified(zone, from: peer)
    }

    private func interfacesChanged() {
        log.debug("interfaces changed")
        rebuild(host.config, reason: "interfaces changed", reuse: true)
    }

    /// The subnets of the `config dhcp` interfaces (their reverse zones).
    private func dhcpSubnets(_ c: Config) -> [String: (UInt32, Int)] {
        guard let w = interfaces else { return [:] }
        return w.ipv4Subnets(c.dhcp.compactMap { $0.interface })
    }

    /// Builds a snapshot from `c` and the store, hands it to the workers and
    /// NOTIFYs secondaries of zones whose serial changed. Zone errors are
    /// logged (the zone is skipped, or its previous version kept).
    private func rebuild(_ c: Config, reason: String, reuse: Bool? = nil) {
        let fromStore = reason.hasPrefix("store generation")
        let keys = TSIGKeys(c)
        secondaries.configure(SecondaryZones.wanted(c, api: feed.apiSecondaries, keys: keys),
                              configNames: c.zones.filter { !$0.primary.isEmpty }.map { $0.key })
        let (built, changed, errors) = feed.build(c, served: answerer.snapshot, subnets: dhcpSubnets(c),
                                                  reuse: reuse ?? fromStore, secondaries: secondaries.served(), keys: keys)
        for e in keys.errors + errors { log.error(e) }
        let snapshot = journals.update(built, served: answerer.snapshot, maxDepth: c.dnsd.journalMaxDepth,
                                       maxBytes: c.dnsd.journalMaxUsage)
        let next = Answerer(snapshot: snapshot, nsid: c.dnsd.nsid.map { Array($0.utf8) }, version: Array(c.dnsd.version.utf8),
                            tsigKeys: keys.all, clock: { SecondaryZones.wallSeconds() })
        publish(makeFrontend(c, next))
        // Parsing and compiling leave a lot of freed heap behind.
        Sys.releaseFreeMemory()
        let zones = snapshot.compiledZones
        // Store writes (the API, leases) may come hundreds a second: debug.
        let level: LogLevel = fromStore ? .debug : .info
        if level >= log.level {
            log.log(level, "serving \(zones.count) zones", [("reason", reason),
                      ("zones", zones.map { "\($0.origin)@\($0.serial)" }.joined(separator: ","))])
        }
        for (z, p) in changed where !p.notify.isEmpty && !p.unavailable { notifier.notify(z, targets: p.notify, key: p.tsigKey) }
    }

    /// Hands a new frontend to every thread.
    private func publish(_ f: Frontend) {
        frontend = f
        tcp.adopt(f)
        for w in workers { w.publish(f) }
    }

    // MARK: forwarding

    /// The router's own prefixes (the default allow_recursion).
    private var ownPrefixes: [(bytes: [UInt8], prefix: Int)] {
        interfaces?.addresses.map { ($0.address.bytes, $0.prefixLength) } ?? []
    }

    /// The frontend for config `c` over `answerer`: the forwarding setup,
    /// and the cache (kept when its size, stale window and the upstreams
    /// are unchanged; a new setup starts with an empty cache).
    private func makeFrontend(_ c: Config, _ answerer: Answerer) -> Frontend {
        let (setup, errors) = DnsdService.forwardSetup(c, ownPrefixes: ownPrefixes)
        for e in errors { log.error(e) }
        guard let setup else {
            cache = nil
            cacheKey = ""
            return Frontend(answerer: answerer, forwarding: nil, cache: nil)
        }
        let size = max(1, c.dnsd.cacheSize)
        let stale = UInt32(min(Int(UInt32.max), c.dnsd.serveStaleMs / 1000))
        var key = "\(size)/\(stale)"
        for g in setup.groups {
            key += "|\(g.zone?.description ?? "."):" + g.servers.map { setup.servers[$0].description }.joined(separator: ",")
        }
        if cache == nil || key != cacheKey {
            cache = Cache(capacity: size, staleWindow: stale)
            cacheKey = key
        }
        return Frontend(answerer: answerer, forwarding: setup, cache: cache)
    }
}
