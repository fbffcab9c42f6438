import Config
import Core
import DNS
import HTTP
import Store
import Sys
import Zone

/// The API's routes, with the name metrics and the audit log use.
public enum Route: Int, CaseIterable {
    case services, service, serviceRecords, state, zones, zone, records, record, health, leases, metrics, transfer

    public var pattern: String {
        switch self {
        case .services: return "/v1/services"
        case .service: return "/v1/services/{name}"
        case .serviceRecords: return "/v1/services/{name}/records"
        case .state: return "/v1/state"
        case .zones: return "/api/v1/zones"
        case .zone: return "/api/v1/zones/{id}"
        case .records: return "/api/v1/zones/{zone}/records"
        case .record: return "/api/v1/zones/{zone}/records/{id}"
        case .health: return "/api/v1/health"
        case .leases: return "/api/v1/leases"
        case .metrics: return "/metrics"
        case .transfer: return "/api/v1/zones/transfer"
        }
    }

    public var methods: [String] {
        switch self {
        case .services, .health, .leases, .metrics: return ["GET"]
        case .service: return ["GET", "PUT", "DELETE"]
        case .serviceRecords: return ["POST", "DELETE"]
        case .state: return ["PUT"]
        case .zones, .records, .transfer: return ["GET", "POST"]
        case .zone: return ["GET", "DELETE"]
        case .record: return ["GET", "PUT", "DELETE"]
        }
    }

    /// The route of a path and its parameters.
    public static func match(_ path: String) -> (Route, [String])? {
        let s = path.split(separator: "/").map { String($0) }
        switch s.count {
        case 1 where s[0] == "metrics": return (.metrics, [])
        case 2 where s[0] == "v1" && s[1] == "services": return (.services, [])
        case 2 where s[0] == "v1" && s[1] == "state": return (.state, [])
        case 3 where s[0] == "v1" && s[1] == "services": return (.service, [s[2]])
        case 4 where s[0] == "v1" && s[1] == "services" && s[3] == "records": return (.serviceRecords, [s[2]])
        case 3 where s[0] == "api" && s[1] == "v1":
            switch s[2] {
            case "zones": return (.zones, [])
            case "health": return (.health, [])
            case "leases": return (.leases, [])
            default: return nil
            }
        case 4 where s[0] == "api" && s[1] == "v1" && s[2] == "zones" && s[3] == "transfer": return (.transfer, [])
        case 4 where s[0] == "api" && s[1] == "v1" && s[2] == "zones": return (.zone, [s[3]])
        case 5 where s[0] == "api" && s[1] == "v1" && s[2] == "zones" && s[4] == "records": return (.records, [s[3]])
        case 6 where s[0] == "api" && s[1] == "v1" && s[2] == "zones" && s[4] == "records": return (.record, [s[3], s[5]])
        default: return nil
        }
    }
}

/// The API's handlers, without sockets: a request in, a response out.
///
/// Contract:
/// - checks run in this order: client allowed (403), token (401), route
///   (404), method (405), body size (413), write rate (429), JSON body (400);
/// - reads answer at once from the store; writes come back from `begin` as
///   a `Job` so a server can commit many in one transaction (`commit`):
///   each runs in its own savepoint, so one failing request changes
///   nothing, and none is answered before the transaction is durable;
/// - after a commit that changed something, `onCommit` runs (dnsd is poked).
public final class API {
    public var settings: APISettings
    public let store: Store?
    let clock: () -> UInt64
    let startedAt: UInt64
    public var version = "dnsbox"
    /// The control-socket `status` answer of an applet (nil: not running).
    public var status: (String) -> String? = { _ in nil }
    public var audit: (String) -> Void = { _ in }
    public var onCommit: () -> Void = {}
    /// Write requests answered, by route and status.
    public private(set) var writes: [String: UInt64] = [:]
    private var writeBucket: TokenBucket

    public static let maxBody = 1024 * 1024
    public static let maxStateBody = 10 * 1024 * 1024
    public static let maxRecordsPerService = 64

    public init(settings: APISettings, store: Store?, clock: @escaping () -> UInt64 = { Sys.monotonicNanos() }) {
        self.settings = settings
        self.store = store
        self.clock = clock
        startedAt = clock()
        // A burst of one second's worth.
        writeBucket = TokenBucket(ratePerSecond: settings.rateLimit, burst: settings.rateLimit, now: startedAt)
    }

    public struct Job {
        public var route: Route
        public var params: [String]
        public var request: HTTPRequest
        public var body: JSON
    }

    public enum Step {
        case done(HTTPResponse)
        case write(Job)
    }

    /// One request, start to finish (CGI, the CLI, tests).
    public func respond(_ req: HTTPRequest) -> HTTPResponse {
        switch begin(req) {
        case .done(let r): return r
        case .write(let j): return commit([j])[0]
        }
    }

    // MARK: checks

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(truncatingIfNeeded: x.count ^ y.count)
        var i = 0
        let n = max(x.count, y.count)
        while i < n {
            let p = i < x.count ? x[i] : 0
            let q = i < y.count ? y[i] : 0
            diff |= p ^ q
            i += 1
        }
        return diff == 0 && x.count == y.count
    }

    /// Takes one write from the token bucket; nil when allowed, else the seconds to wait.
    func takeWriteToken() -> Int? {
        guard settings.rateLimit > 0 else { return nil }
        if writeBucket.ratePerSecond != Int64(settings.rateLimit) {
            writeBucket = TokenBucket(ratePerSecond: settings.rateLimit, burst: settings.rateLimit, now: clock())
        }
        let now = clock()
        if writeBucket.take(now: now) { return nil }
        return Int((writeBucket.wait(now: now) + 999_999_999) / 1_000_000_000)
    }

    func count(_ route: String, _ status: Int) {
        writes[route + " " + String(status), default: 0] &+= 1
    }

    /// Checks a request and answers it, or hands back the write to commit.
    public func begin(_ req: HTTPRequest) -> Step {
        let r = check(req)
        if case .done(let resp) = r, req.isWrite {
            count(Route.match(req.path)?.0.pattern ?? "other", resp.status)
            if resp.status != 401 && resp.status != 403 { auditWrite(req, resp.status) }
        }
        return r
    }

    /// The checks that need only the request's head: client, token, route,
    /// method and the body's announced size. A server runs them as soon as
    /// the head is in, so a refused body is never read.
    public func precheck(_ head: HTTPRequest) -> HTTPResponse? {
        let length = head.header("content-length").flatMap { Int($0) } ?? head.body.count
        let r = gate(head, bodyLength: length)
        if let resp = r, head.isWrite {
            count(Route.match(head.path)?.0.pattern ?? "other", resp.status)
            if resp.status != 401 && resp.status != 403 { auditWrite(head, resp.status) }
        }
        return r
    }

    func gate(_ req: HTTPRequest, bodyLength: Int) -> HTTPResponse? {
        guard settings.allows(req.peer) else { return .error(403, "client \(req.peer) is not allowed") }
        guard let token = settings.token else { return .error(500, "the API has no token configured") }
        guard let auth = req.header("authorization") else {
            return HTTPResponse.error(401, "missing Authorization: Bearer token").with("WWW-Authenticate", "Bearer")
        }
        let given = auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)) : ""
        guard API.constantTimeEquals(given, token) else {
            return HTTPResponse.error(401, "invalid token").with("WWW-Authenticate", "Bearer")
        }
        guard let (route, _) = Route.match(req.path) else { return .error(404, "no such endpoint: \(req.path)") }
        guard route.methods.contains(req.method) else {
            return HTTPResponse.error(405, "method \(req.method) is not allowed on \(route.pattern)")
                .with("Allow", route.methods.joined(separator: ", "))
        }
        let limit = route == .state ? API.maxStateBody : API.maxBody
        if bodyLength > limit { return .error(413, "request body larger than \(limit) bytes") }
        return nil
    }

    private func check(_ req: HTTPRequest) -> Step {
        if let refused = gate(req, bodyLength: req.body.count) { return .done(refused) }
        guard let (route, params) = Route.match(req.path) else { return .done(.error(404, "no such endpoint")) }
        if !req.isWrite { return .done(read(route, params, req)) }
        if let wait = takeWriteToken() {
            return .done(HTTPResponse.error(429, "rate limit of \(settings.rateLimit) writes per second exceeded")
                .with("Retry-After", String(wait)))
        }
        var body = JSON.null
        if !req.body.isEmpty {
            do throws(JSONError) { body = try JSON.parse(req.body) } catch {
                return .done(.error(400, "invalid JSON: \(error.description)", field: "body"))
            }
        }
        return .write(Job(route: route, params: params, request: req, body: body))
    }

    func auditWrite(_ req: HTTPRequest, _ status: Int) {
        guard settings.audit else { return }
        // A body refused for its size is not worth a log line of its own.
        let values = status == 413 ? "(\(req.header("content-length") ?? String(req.body.count)) bytes)" : String(decoding: req.body.prefix(512), as: UTF8.self)
        audit("api write source=\(req.peer) method=\(req.method) path=\(API.printable(req.path)) status=\(status) values=\(API.printable(values))")
    }

    /// Text with control characters shown as `?` (a decoded path or a body
    /// cannot forge log lines).
    static func printable(_ s: String) -> String {
        var b = Array(s.utf8)
        for i in b.indices where b[i] < 0x20 || b[i] == 0x7F { b[i] = UInt8(ascii: "?") }
        return String(decoding: b, as: UTF8.self)
    }

    // MARK: writes

    /// Runs `jobs` in one transaction and answers each.
    public func commit(_ jobs: [Job]) -> [HTTPResponse] {
        guard let store else {
            let out = jobs.map { _ in HTTPResponse.error(503, "the store is not available") }
            for (j, r) in zip(jobs, out) { finish(j, r) }
            return out
        }
        var out: [HTTPResponse] = []
        var changed = false
        do throws(StoreError) {
            _ = try store.writeIfChanged({ (db) throws(StoreError) -> Bool in
                for j in jobs {
                    try db.exec("SAVEPOINT api")
                    var r: HTTPResponse
                    do throws(StoreError) {
                        r = try write(j, db)
                    } catch {
                        audit("api internal error: \(error.description)")
                        r = .error(500, "internal error")
                    }
                    if r.status >= 300 { try db.exec("ROLLBACK TO api") } else { changed = true }
                    try db.exec("RELEASE api")
                    out.append(r)
                }
                return changed
            })
        } catch {
            audit("api commit failed: \(error.description)")
            out = jobs.map { _ in HTTPResponse.error(500, "internal error") }
            changed = false
        }
        for (j, r) in zip(jobs, out) { finish(j, r) }
        if changed { onCommit() }
        return out
    }

    func finish(_ j: Job, _ r: HTTPResponse) {
        count(j.route.pattern, r.status)
        auditWrite(j.request, r.status)
    }

    func write(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        switch j.route {
        case .service:
            return j.request.method == "PUT" ? try putService(j, db) : try deleteService(j, db)
        case .serviceRecords: return try serviceRecords(j, db)
        case .state: return try putState(j, db)
        case .zones: return try createZone(j, db)
        case .transfer: return try addSecondary(j, db)
        case .zone: return try deleteZone(j, db)
        case .records: return try createRecord(j, db)
        case .record: return j.request.method == "PUT" ? try updateRecord(j, db) : try deleteRecord(j, db)
        default: return .error(405, "not a write")
        }
    }

    // MARK: reads

    func read(_ route: Route, _ params: [String], _ req: HTTPRequest) -> HTTPResponse {
        if route == .metrics { return metrics() }
        if route == .health { return health() }
        guard let store else { return .error(503, "the store is not available") }
        do throws(StoreError) {
            // leases() is a read transaction of its own.
            if route == .leases { return try listLeases(store) }
            return try store.db.readTransaction { () throws(StoreError) -> HTTPResponse in
                switch route {
                case .services: return try listServices(req, store.db)
                case .service: return try getService(req, params[0], store.db)
                case .zones: return try listZones(req, store.db)
                case .zone: return try getZone(params[0], store.db)
                case .transfer: return try listSecondaries(store.db)
                case .records: return try listRecords(req, params[0], store.db)
                case .record: return try getRecord(params[0], params[1], store.db)
                default: return .error(404, "no such endpoint")
                }
            }
        } catch {
            audit("api read failed: \(error.description)")
            return .error(503, "the store cannot be read")
        }
    }

    func health() -> HTTPResponse {
        let up = Int((clock() &- startedAt) / 1_000_000_000)
        var names = Set(settings.configZones.map { $0.name })
        var ok = store != nil
        if let store {
            do throws(StoreError) {
                _ = try store.generation()
                for z in try Zones.list(store.db).zones { names.insert(z.name) }
            } catch {
                ok = false
            }
        }
        let body: JSON = .object([("status", .string(ok ? "ok" : "error")), ("version", .string(version)),
                                  ("zones", JSON(names.count)), ("uptime_seconds", JSON(up))])
        return .json(ok ? 200 : 503, body)
    }

    func listLeases(_ store: Store) throws(StoreError) -> HTTPResponse {
        var items: [JSON] = []
        for l in try store.leases() {
            items.append(.object([("address", .string(l.address)), ("mac", .string(l.mac)),
                                  ("name", l.name.map { .string($0) } ?? .null), ("interface", .string(l.interface)),
                                  ("expires", JSON(l.expires)), ("state", .string(l.state == 2 ? "bound" : l.state == 3 ? "declined" : "other"))]))
        }
        return .json(200, .object([("leases", .array(items))]))
    }

    /// `offset` and `limit` of a list request (limit ≤ 1,000).
    static func page(_ req: HTTPRequest) -> Result<(Int, Int), HTTPError> {
        var offset = 0, limit = 100
        if let o = req.queryValue("offset") {
            guard let v = Int(o), v >= 0 else { return .failure(HTTPError(400, "offset must be a non-negative integer", "offset")) }
            offset = v
        }
        if let l = req.queryValue("limit") {
            guard let v = Int(l), v >= 1, v <= 1000 else { return .failure(HTTPError(400, "limit must be from 1 to 1000", "limit")) }
            limit = v
        }
        return .success((offset, limit))
    }
}

/// An error response on its way out of a helper.
public struct HTTPError: Error {
    public var response: HTTPResponse
    init(_ status: Int, _ reason: String, _ field: String? = nil) { response = .error(status, reason, field: field) }
}

extension HTTPResponse {
    func with(_ name: String, _ value: String) -> HTTPResponse {
        var r = self
        r.headers.append((name, value))
        return r
    }
}
