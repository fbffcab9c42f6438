// `apictl serve`: the HTTP API on the shared HTTP server. Writes of every
// connection that became readable in one loop turn are committed in one
// transaction (`API.commit`) after the turn; then dnsd is poked and their
// answers held until dnsd serves the new generation (at most `holdMs`).

import API
import Config
import Daemon
import HTTP
import Runtime
import Store
import Sys

public final class ApictlService: Service, HTTPService {
    /// How long a write's answer waits for dnsd at most.
    static let holdMs: UInt64 = 10

    unowned(unsafe) let host: ServiceHost
    private var api: API
    private var http: HTTPServer<ApictlService>?
    private var listen = ""
    private var store: Store?
    private var notifier: StoreNotifier?
    /// Writes read in this loop turn: (connection, job).
    private var pending: [(UInt64, API.Job)] = []
    /// Answers to writes, held until dnsd has rebuilt past their generation
    /// (or `holdMs` passed): (connection, response, close, generation, batch).
    private var held: [(UInt64, HTTPResponse, Bool, Int64, UInt64)] = []
    private var batchSerial: UInt64 = 0
    private var changed = false

    public init(host: ServiceHost) {
        self.host = host
        api = ApictlService.makeAPI(host.config, global: host.global, store: nil)
    }

    /// The API object for a config: settings, the store, applet status.
    static func makeAPI(_ c: Config, global: GlobalSection, store: Store?) -> API {
        let api = API(settings: APISettings(c), store: store)
        api.version = Version.string
        api.status = { applet in
            guard let r = try? ControlClient.send("status", to: global.controlSocket(applet), timeoutMs: 100),
                  r.hasPrefix("ok") else { return nil }
            return r
        }
        api.audit = { line in log.info(line) }
        return api
    }

    // MARK: Service

    public func start() -> Bool {
        let settings = APISettings(host.config)
        for p in settings.problems { log.error(p) }
        guard settings.problems.isEmpty else { return false }
        guard let addr = SocketAddress(hostPort: settings.listen, defaultPort: 8080) else {
            log.error("api: option listen '\(settings.listen)' is not host:port")
            return false
        }
        let handle = host.storeHandle(.required)
        guard handle.open(), let store = handle.store else { return false }
        self.store = store
        api = ApictlService.makeAPI(host.config, global: host.global, store: store)
        api.onCommit = { [unowned(unsafe) self] in self.changed = true }
        let n = StoreNotifier(global: host.global, loop: host.loop)
        n.onServed = { [unowned(unsafe) self] g in self.releaseHeld { $0.3 <= g } }
        notifier = n
        let server = HTTPServer(loop: host.loop, service: self, maxConnections: settings.maxConnections,
                                timeoutMs: UInt64(settings.timeoutMs), maxBody: API.maxStateBody)
        do throws(SysError) {
            var o = Socket.Options()
            o.v6Only = false
            try server.listen(try Socket.tcpListen(bind: addr, options: o, backlog: 512))
        } catch {
            log.error("cannot listen on \(addr): \(error.description)")
            return false
        }
        http = server
        listen = settings.listen
        log.info("API listening", [("address", "\(addr)"), ("dynamic_zones", "\(settings.dynamicZones.count)")])
        host.loop.afterDispatch = { [unowned(unsafe) self] in self.commitPending() }
        return true
    }

    public func reconfigure(_ next: Config) -> Reconfiguration {
        let s = APISettings(next)
        if let p = s.problems.first { return .rejected(p) }
        if s.listen != listen { return .needsRestart("option listen changed") }
        api.settings = s
        http?.timeoutMs = UInt64(s.timeoutMs)
        http?.stream.limits.maxConnections = s.maxConnections
        return .applied
    }

    public func status(_ s: inout Status) {
        var w: UInt64 = 0
        for (_, v) in api.writes { w &+= v }
        s.set(StatusKeys.Apictl.connections, http?.connectionCount ?? 0)
        s.set(StatusKeys.Apictl.writes, w)
    }

    // MARK: HTTPService

    public func precheck(_ head: HTTPRequest) -> HTTPResponse? { api.precheck(head) }

    public func handle(_ request: HTTPRequest, connection id: UInt64) -> HTTPAnswer {
        switch api.begin(request) {
        case .done(let resp): return .now(resp)
        case .write(let job):
            pending.append((id, job))
            return .later
        }
    }

    // MARK: group commit

    /// Commits the writes collected in this loop turn, pokes dnsd and holds
    /// their answers until dnsd serves them (at most `holdMs`).
    private func commitPending() {
        var rounds = 0
        while !pending.isEmpty && rounds < 8 {
            rounds += 1
            let batch = pending
            pending.removeAll()
            changed = false
            let answers = api.commit(batch.map { $0.1 })
            var generation: Int64 = -1
            if changed, let g = try? store?.generation(), notifier?.changed(g) == true { generation = g }
            batchSerial &+= 1
            let serial = batchSerial
            for (i, (id, job)) in batch.enumerated() {
                if generation >= 0 {
                    held.append((id, answers[i], job.request.wantsClose, generation, serial))
                } else {
                    http?.respond(id, answers[i], close: job.request.wantsClose)
                }
            }
            if generation >= 0 {
                host.loop.schedule(after: ApictlService.holdMs) { [unowned(unsafe) self] in
                    self.releaseHeld { $0.4 <= serial }
                }
            }
        }
        // More pipelined writes than rounds: come back at once.
        if !pending.isEmpty { host.loop.wake() }
    }

    private func releaseHeld(_ which: ((UInt64, HTTPResponse, Bool, Int64, UInt64)) -> Bool) {
        guard !held.isEmpty else { return }
        var keep: [(UInt64, HTTPResponse, Bool, Int64, UInt64)] = []
        for h in held {
            if which(h) { http?.respond(h.0, h.1, close: h.2) } else { keep.append(h) }
        }
        held = keep
        // Writes that were pipelined behind the released ones.
        commitPending()
    }
}
