import API
import Config
import HTTP
import Runtime
import Store
import Sys

/// `apictl`: the HTTP API. `apictl serve` runs the server; under a web
/// server (`GATEWAY_INTERFACE` set) it answers one request as a CGI
/// program; any other subcommand is the command-line client.
enum ApictlApplet {
    static func main(_ args: [String]) -> Int32 {
        if Sys.getenv("GATEWAY_INTERFACE") != nil { return ApiCGI.run() }
        let opts: CommonOptions
        switch CommonOptions.parse(args) {
        case .success(let o): opts = o
        case .failure(let e): return usageFailure(e, Applets.find("apictl")?.usage ?? "")
        }
        if opts.rest.first == "serve" {
            guard let applet = Applets.find("apictl"), let host = ServiceHost.start(applet, args) else { return ExitCode.failure }
            let server = ApiServer(host: host)
            guard server.start() else { return ExitCode.failure }
            guard host.dropPrivileges() else { return ExitCode.failure }
            return host.run()
        }
        return ApiClient.run(opts)
    }

    /// The API object for a config: settings, the store, dnsd pokes, applet status.
    static func makeAPI(_ c: Config, settings s: Settings, store: Store?) -> API {
        let api = API(settings: APISettings(c), store: store)
        api.version = Applets.version
        let rundir = s.rundir
        api.status = { applet in
            guard let r = try? ControlClient.send("status", to: rundir + "/" + applet + ".sock", timeoutMs: 100),
                  r.hasPrefix("ok") else { return nil }
            return r
        }
        // dnsd rebuilds before it answers the poke, so a write is served
        // by the time its response goes out (a lost poke: dnsd's poll).
        api.onCommit = { _ = try? ControlClient.send("poke", to: rundir + "/dnsd.sock", timeoutMs: 250) }
        api.audit = { line in log.info(line) }
        return api
    }
}

/// The standalone server: one event loop, HTTP/1.1 keep-alive, writes of
/// all connections ready in one loop turn committed together.
final class ApiServer {
    final class Connection {
        let socket: Socket
        let peer: String
        var input: [UInt8] = []
        var output: [UInt8] = []
        /// A whole request must arrive before this (monotonic ns).
        var deadline: UInt64
        var waiting = false
        var closeAfterWrite = false
        var closed = false
        /// The peer has sent all it will (EOF).
        var eof = false
        /// The current request's head passed `API.precheck`.
        var headChecked = false
        /// The epoll events registered.
        var events = EventLoop.readable | EventLoop.hangup
        init(socket: Socket, peer: String, deadline: UInt64) {
            self.socket = socket
            self.peer = peer
            self.deadline = deadline
        }
    }

    unowned(unsafe) let host: ServiceHost
    private var api: API
    private var listener: Socket?
    private var connections: [Int32: Connection] = [:]
    private var pending: [(Connection, API.Job)] = []
    private var touched: [Connection] = []
    private var chunk = [UInt8](repeating: 0, count: 65536)
    private var store: Store?
    /// Pokes dnsd without waiting; its reply releases the held responses.
    private var poker: ControlPoker?
    /// Answers to writes, held until dnsd has rebuilt past their generation
    /// (or `holdMs` passed): (connection, response bytes, generation, batch).
    private var held: [(Connection, [UInt8], Int64, UInt64)] = []
    private var batchSerial: UInt64 = 0
    private var changed = false
    /// One poke at a time: dnsd coalesces everything committed meanwhile
    /// into its next rebuild, and a burst of writes cannot flood its socket.
    private var pokeInFlight = false
    private var pokeSentAt: UInt64 = 0
    private var lastCommitted: Int64 = -1
    private var pokedFor: Int64 = -1
    /// How long a write's answer waits for dnsd at most.
    static let holdMs: UInt64 = 10

    init(host: ServiceHost) {
        self.host = host
        api = ApictlApplet.makeAPI(host.config, settings: host.settings, store: nil)
    }

    func start() -> Bool {
        let settings = APISettings(host.config)
        for p in settings.problems { log.error(p) }
        guard settings.problems.isEmpty else { return false }
        guard let addr = SocketAddress(hostPort: settings.listen, defaultPort: 8080) else {
            log.error("api: option listen '\(settings.listen)' is not host:port")
            return false
        }
        let store: Store
        do throws(StoreError) { store = try Store(path: host.settings.database) } catch {
            log.error("cannot open the store: \(error.description)")
            return false
        }
        api = ApictlApplet.makeAPI(host.config, settings: host.settings, store: store)
        self.store = store
        api.onCommit = { [unowned(unsafe) self] in self.changed = true }
        do throws(SysError) {
            let p = try ControlPoker(loop: host.loop)
            p.onReply = { [unowned(unsafe) self] reply in self.dnsdReplied(reply) }
            poker = p
        } catch {
            log.warn("cannot create the control client for dnsd pokes: \(error.description); dnsd notices writes by polling")
        }
        do throws(SysError) {
            var o = Socket.Options()
            o.v6Only = false
            let l = try Socket.tcpListen(bind: addr, options: o, backlog: 512)
            listener = l
            try host.loop.add(fd: l.fd) { [unowned(unsafe) self] _ in self.accept() }
        } catch {
            log.error("cannot listen on \(addr): \(error.description)")
            return false
        }
        log.info("API listening", [("address", "\(addr)"), ("dynamic_zones", "\(settings.dynamicZones.count)")])
        host.loop.afterDispatch = { [unowned(unsafe) self] in self.afterDispatch() }
        host.loop.schedule(after: 250, repeating: true) { [unowned(unsafe) self] in self.expire() }
        host.applyConfig = { [unowned(unsafe) self] next in
            let s = APISettings(next)
            if let p = s.problems.first { return p }
            if s.listen != self.api.settings.listen { log.warn("option listen changed; it takes effect after a restart") }
            self.api.settings = s
            return nil
        }
        host.statusFields = { [unowned(unsafe) self] in
            var w: UInt64 = 0
            for (_, v) in self.api.writes { w &+= v }
            return [("connections", "\(self.connections.count)"), ("writes", "\(w)")]
        }
        return true
    }

    private var timeoutNanos: UInt64 { UInt64(api.settings.timeoutMs) * 1_000_000 }

    private func accept() {
        guard let l = listener else { return }
        while true {
            let next: (Socket, SocketAddress)?
            do throws(SysError) { next = try l.accept() } catch {
                // Out of descriptors (EMFILE) or similar: the listener stays
                // readable, so stop watching it for a moment instead of spinning.
                log.warn("accept failed: \(error.description); pausing new connections for 100 ms")
                try? host.loop.modify(fd: l.fd, events: 0)
                host.loop.schedule(after: 100) { [unowned(unsafe) self] in
                    if let l = self.listener { try? self.host.loop.modify(fd: l.fd, events: EventLoop.readable) }
                }
                return
            }
            guard let (sock, peer) = next else { return }
            if connections.count >= api.settings.maxConnections {
                let busy = HTTPResponse.error(503, "too many connections").serialized(close: true)
                _ = try? sock.send(busy)
                sock.close()
                continue
            }
            log.debug("accepted", [("fd", "\(sock.fd)"), ("connections", "\(connections.count)")])
            let conn = Connection(socket: sock, peer: peer.ipString, deadline: host.loop.now() &+ timeoutNanos)
            connections[sock.fd] = conn
            do throws(SysError) {
                try host.loop.add(fd: sock.fd, events: EventLoop.readable | EventLoop.hangup) { [unowned(unsafe) self] ev in
                    self.onEvent(conn, ev)
                }
            } catch {
                close(conn)
            }
        }
    }

    /// Unsent answers a connection may have before it is read no further
    /// (a client that pipelines requests but never reads cannot grow it).
    static let maxBacklog = 256 * 1024
    static let maxInput = API.maxStateBody + 64 * 1024
    /// Bytes read ahead of the request being answered.
    static let readAhead = 64 * 1024

    private func onEvent(_ conn: Connection, _ events: UInt32) {
        if conn.closed { return }
        if events & EventLoop.writable != 0 { touched.append(conn) }
        if events & (EventLoop.readable | EventLoop.hangup) != 0 {
            if wantsRead(conn) {
                // A little at a time, unless a checked head announced a body.
                let limit = conn.headChecked ? ApiServer.maxInput : ApiServer.readAhead
                while conn.input.count < limit {
                    let r: Result<(Int, SocketAddress)?, SysError> = chunk.withUnsafeMutableBytes { b in
                        do throws(SysError) { return .success(try conn.socket.receive(into: b)) } catch { return .failure(error) }
                    }
                    guard case .success(let got) = r else { return close(conn) }
                    guard let (n, _) = got else { break }
                    if n == 0 { conn.eof = true; break }
                    conn.input.append(contentsOf: chunk[0..<n])
                }
                process(conn)
            } else if events & EventLoop.failed != 0 && !conn.waiting {
                // Reset or closed while we were not reading: nothing to deliver.
                return close(conn)
            }
        }
        touched.append(conn)
    }

    private func wantsRead(_ c: Connection) -> Bool {
        !c.eof && !c.waiting && !c.closeAfterWrite && c.output.count < ApiServer.maxBacklog
            && c.input.count < (c.headChecked ? ApiServer.maxInput : ApiServer.readAhead)
    }

    /// Parses and answers what `conn` has sent, up to its first write.
    private func process(_ conn: Connection) {
        while !conn.waiting && !conn.closeAfterWrite && conn.output.count < ApiServer.maxBacklog {
            let r = conn.input.withUnsafeBytes { HTTPRequest.parse($0, reportHead: true) }
            switch r {
            case .incomplete:
                // The peer sent all it will: nothing more can complete.
                if conn.eof { conn.closeAfterWrite = true }
                return
            case .head(var head):
                // Refuse what would be refused anyway before taking its body.
                if !conn.headChecked {
                    head.peer = conn.peer
                    if let refusal = api.precheck(head) {
                        conn.output += refusal.serialized(close: true)
                        conn.closeAfterWrite = true
                        conn.input.removeAll()
                        return
                    }
                    conn.headChecked = true
                }
                if conn.eof { conn.closeAfterWrite = true }
                return
            case .failure(let status, let reason):
                conn.output += HTTPResponse.error(status, reason).serialized(close: true)
                conn.closeAfterWrite = true
                conn.input.removeAll()
                return
            case .complete(var req, let used):
                conn.input.removeFirst(used)
                conn.headChecked = false
                conn.deadline = host.loop.now() &+ timeoutNanos
                req.peer = conn.peer
                if req.wantsClose { conn.closeAfterWrite = true }
                switch api.begin(req) {
                case .done(let resp): conn.output += resp.serialized(close: req.wantsClose)
                case .write(let job):
                    conn.waiting = true
                    pending.append((conn, job))
                }
            }
        }
    }

    /// Commits the writes collected in this loop turn, pokes dnsd and holds
    /// their answers until dnsd serves them (at most `holdMs`), then sends
    /// what is ready.
    private func afterDispatch() {
        var rounds = 0
        while !pending.isEmpty && rounds < 8 {
            rounds += 1
            let batch = pending
            pending.removeAll()
            changed = false
            let answers = api.commit(batch.map { $0.1 })
            var generation: Int64 = -1
            if changed, let g = try? store?.generation() {
                lastCommitted = g
                if pokeInFlight && host.loop.now() &- pokeSentAt > 1_000_000_000 { pokeInFlight = false }  // dnsd went away
                if pokeInFlight || sendPoke() { generation = g }
            }
            batchSerial &+= 1
            let serial = batchSerial
            for (i, (conn, job)) in batch.enumerated() {
                let bytes = answers[i].serialized(close: job.request.wantsClose)
                if generation >= 0 {
                    held.append((conn, bytes, generation, serial))
                } else {
                    release(conn, bytes)
                }
            }
            if generation >= 0 {
                host.loop.schedule(after: ApiServer.holdMs) { [unowned(unsafe) self] in
                    self.releaseHeld { $0.3 <= serial }
                }
            }
        }
        // More pipelined writes than rounds: come back at once.
        if !pending.isEmpty { host.loop.wake() }
        guard !touched.isEmpty else { return }
        let list = touched
        touched.removeAll()
        for c in list where !c.closed { flush(c) }
    }

    private func release(_ conn: Connection, _ bytes: [UInt8]) {
        conn.waiting = false
        conn.output += bytes
        conn.deadline = host.loop.now() &+ timeoutNanos
        if !conn.closed { process(conn) }
        touched.append(conn)
    }

    private func releaseHeld(_ which: ((Connection, [UInt8], Int64, UInt64)) -> Bool) {
        guard !held.isEmpty else { return }
        var keep: [(Connection, [UInt8], Int64, UInt64)] = []
        for h in held {
            if which(h) { release(h.0, h.1) } else { keep.append(h) }
        }
        held = keep
        // Writes that `process` found behind the released ones.
        afterDispatch()
    }

    private func sendPoke() -> Bool {
        guard let p = poker, p.send("poke", to: host.settings.controlSocketPath("dnsd")) else { return false }
        pokeInFlight = true
        pokeSentAt = host.loop.now()
        pokedFor = lastCommitted
        return true
    }

    /// dnsd's answer to a poke: "ok generation=N" once it serves N.
    private func dnsdReplied(_ reply: String) {
        pokeInFlight = false
        guard let r = reply.split(separator: "=").last, let g = Int64(r) else { return }
        // Poke again only for writes committed after the last poke: when
        // dnsd cannot read the store its generation stays behind, and its
        // own poll catches up (no ping-pong).
        if lastCommitted > pokedFor { _ = sendPoke() }
        releaseHeld { $0.2 <= g }
    }

    private func flush(_ conn: Connection) {
        var rounds = 0
        while !conn.closed && rounds < 64 {
            rounds += 1
            while !conn.output.isEmpty {
                let n: Int
                do throws(SysError) { n = try conn.socket.send(conn.output) } catch {
                    guard error.wouldBlock else { return close(conn) }
                    return interest(conn)
                }
                conn.output.removeFirst(n)
            }
            if conn.closeAfterWrite && !conn.waiting { return close(conn) }
            // Room again: answer what is pipelined behind.
            let before = conn.output.count
            if !conn.input.isEmpty && !conn.waiting { process(conn) }
            if conn.output.count == before { break }
        }
        interest(conn)
    }

    /// Watches for what the connection can do next: read while it may take
    /// more, write while output is queued.
    private func interest(_ conn: Connection) {
        guard !conn.closed else { return }
        var ev: UInt32 = wantsRead(conn) ? EventLoop.readable | EventLoop.hangup : 0
        if !conn.output.isEmpty { ev |= EventLoop.writable }
        if ev != conn.events {
            conn.events = ev
            try? host.loop.modify(fd: conn.socket.fd, events: ev)
        }
    }

    private func close(_ conn: Connection) {
        guard !conn.closed else { return }
        conn.closed = true
        host.loop.remove(fd: conn.socket.fd)
        connections[conn.socket.fd] = nil
        conn.socket.close()
    }

    /// Closes connections that did not complete a request in time (slow
    /// clients, idle keep-alive).
    private func expire() {
        let now = host.loop.now()
        var late: [Connection] = []
        for (_, c) in connections where !c.waiting && now > c.deadline { late.append(c) }
        for c in late {
            if !c.input.isEmpty {
                _ = try? c.socket.send(HTTPResponse.error(408, "request not received in time").serialized(close: true))
            }
            close(c)
        }
    }
}

/// One request answered the CGI way (RFC 3875), for uhttpd, lighttpd or
/// busybox httpd in front (TLS, their own logs and limits).
enum ApiCGI {
    static func run() -> Int32 {
        let resp = answer()
        _ = FileDescriptorIO.writeAll(1, resp.cgi())
        return ExitCode.ok
    }

    static func answer() -> HTTPResponse {
        let env = { (k: String) -> String in Sys.getenv(k) ?? "" }
        let path = ConfigLoader.resolvePath(explicit: nil, env: { Sys.getenv($0) })
        let config: Config
        do throws(ConfigError) { config = try Settings.load(path: path) } catch {
            Console.err("apictl: \(error.description)\n")
            return .error(500, "the API configuration cannot be read")
        }
        let settings = Settings(config)
        settings.applyLogging(applet: "apictl")
        var req = HTTPRequest(method: env("REQUEST_METHOD"), path: "")
        var p = env("PATH_INFO")
        if p.isEmpty {
            // Servers that set no PATH_INFO: the request URI after the script's name.
            let uri = env("REQUEST_URI").split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let script = env("SCRIPT_NAME")
            if !script.isEmpty, uri.hasPrefix(script), let (decoded, _) = HTTPRequest.splitTarget("/" + String(uri.dropFirst(script.count))) {
                p = decoded
            }
        }
        while p.hasPrefix("//") { p = String(p.dropFirst()) }
        if p.isEmpty { p = "/" }
        req.target = p
        req.path = p
        if let (_, q) = HTTPRequest.splitTarget("/?" + env("QUERY_STRING")) { req.query = q }
        req.peer = env("REMOTE_ADDR")
        if let a = Sys.getenv("HTTP_AUTHORIZATION") { req.headers.append(("authorization", a)) }
        let lengthText = env("CONTENT_LENGTH")
        if !lengthText.isEmpty {
            guard let n = Int(lengthText), n >= 0 else { return .error(400, "malformed CONTENT_LENGTH") }
            guard n <= API.maxStateBody else { return .error(413, "request body larger than \(API.maxStateBody) bytes") }
            var body: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            while body.count < n {
                let got = FileDescriptorIO.read(0, &buf)
                if got <= 0 { break }
                body += buf[0..<min(got, n - body.count)]
            }
            guard body.count == n else { return .error(400, "request body shorter than CONTENT_LENGTH") }
            req.body = body
        } else if req.method == "PUT" || req.method == "POST" {
            return .error(411, "Content-Length is required")
        }
        let store: Store?
        do throws(StoreError) { store = try Store(path: settings.database) } catch {
            log.error("cannot open the store: \(error.description)")
            store = nil
        }
        let api = ApictlApplet.makeAPI(config, settings: settings, store: store)
        if let p = api.settings.problems.first { log.error(p) }
        return api.respond(req)
    }
}

/// `apictl COMMAND`: the API's client for a person on the router.
enum ApiClient {
    static let usage = """
    usage: apictl [-c FILE] COMMAND
      serve                      run the API server
      services [ZONE]            list the services of a dynamic zone
      set NAME ADDRESS...        create or replace a service (A or AAAA)
      add NAME ADDRESS...        add addresses to a service
      remove NAME ADDRESS...     remove addresses (the last one deletes it)
      delete NAME                delete a service
      zones | leases | health | metrics
      get PATH | delete-path PATH | put PATH JSON | post PATH JSON
    """

    static func run(_ opts: CommonOptions) -> Int32 {
        let config: Config
        do throws(ConfigError) { config = try opts.loadConfig() } catch {
            Console.err("apictl: \(error.description)\n")
            return ExitCode.failure
        }
        let a = opts.rest
        guard let cmd = a.first else { Console.err(usage + "\n"); return ExitCode.usage }
        func addrs(_ list: ArraySlice<String>) -> String {
            "{\"records\":[" + list.map { s -> String in var o = ""; JSON.quote(s, into: &o); return o }.joined(separator: ",") + "]}"
        }
        func seg(_ s: String) -> String { percentEncode(s) }
        let req: (String, String, String?)
        switch (cmd, a.count) {
        case ("services", 1): req = ("GET", "/v1/services", nil)
        case ("services", 2): req = ("GET", "/v1/services?zone=" + seg(a[1]), nil)
        case ("set", 3...): req = ("PUT", "/v1/services/" + seg(a[1]), addrs(a[2...]))
        case ("add", 3...): req = ("POST", "/v1/services/" + seg(a[1]) + "/records", addrs(a[2...]))
        case ("remove", 3...): req = ("DELETE", "/v1/services/" + seg(a[1]) + "/records", addrs(a[2...]))
        case ("delete", 2): req = ("DELETE", "/v1/services/" + seg(a[1]), nil)
        case ("zones", 1): req = ("GET", "/api/v1/zones", nil)
        case ("leases", 1): req = ("GET", "/api/v1/leases", nil)
        case ("health", 1): req = ("GET", "/api/v1/health", nil)
        case ("metrics", 1): req = ("GET", "/metrics", nil)
        case ("get", 2): req = ("GET", a[1], nil)
        case ("delete-path", 2): req = ("DELETE", a[1], nil)
        case ("put", 3): req = ("PUT", a[1], a[2])
        case ("post", 3): req = ("POST", a[1], a[2])
        default:
            Console.err(usage + "\n")
            return ExitCode.usage
        }
        let s = APISettings(config)
        guard let token = s.token else {
            Console.err("apictl: \(s.problems.first ?? "no token")\n")
            return ExitCode.failure
        }
        guard var addr = SocketAddress(hostPort: s.listen, defaultPort: 8080) else {
            Console.err("apictl: option listen '\(s.listen)' is not host:port\n")
            return ExitCode.failure
        }
        if addr.isUnspecified, let l = SocketAddress(ip: addr.family == .v4 ? "127.0.0.1" : "::1", port: addr.port) { addr = l }
        switch exchange(addr, method: req.0, path: req.1, body: req.2, token: token) {
        case .failure(let e):
            Console.err("apictl: \(e.description)\n")
            return ExitCode.failure
        case .success(let (status, body)):
            let text = String(decoding: body, as: UTF8.self)
            if status >= 200 && status < 300 {
                Console.out(text.isEmpty || text.hasSuffix("\n") ? text : text + "\n")
                return ExitCode.ok
            }
            Console.err("apictl: HTTP \(status): \(text)\(text.hasSuffix("\n") ? "" : "\n")")
            return ExitCode.failure
        }
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        let hex: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
        for b in s.utf8 {
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += "%"
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
        return out
    }

    /// One request on a fresh connection; status and body.
    static func exchange(_ addr: SocketAddress, method: String, path: String, body: String?, token: String,
                         timeoutMs: Int = 10_000) -> Result<(Int, [UInt8]), SysError> {
        let sock: Socket
        do throws(SysError) {
            sock = try Socket.unbound(family: addr.family, stream: true)
            if !(try sock.connect(addr)) {
                guard sock.wait(writable: true, milliseconds: timeoutMs), sock.pendingError() == 0 else {
                    sock.close()
                    return .failure(SysError("connect \(addr)", code: sock.pendingError() != 0 ? sock.pendingError() : Socket.timedOut))
                }
            }
        } catch {
            return .failure(error)
        }
        defer { sock.close() }
        let b = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(addr)\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n"
        if body != nil || method == "PUT" || method == "POST" { head += "Content-Type: application/json\r\nContent-Length: \(b.count)\r\n" }
        head += "\r\n"
        var out = Array(head.utf8) + b
        while !out.isEmpty {
            do throws(SysError) {
                let n = try sock.send(out)
                out.removeFirst(n)
            } catch {
                guard error.wouldBlock, sock.wait(writable: true, milliseconds: timeoutMs) else { return .failure(error) }
            }
        }
        var input: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let got: (Int, SocketAddress)?
            let r: Result<(Int, SocketAddress)?, SysError> = buf.withUnsafeMutableBytes { b in
                do throws(SysError) { return .success(try sock.receive(into: b)) } catch { return .failure(error) }
            }
            switch r {
            case .success(let v): got = v
            case .failure(let e): return .failure(e)
            }
            if let (n, _) = got {
                if n == 0 { break }
                input += buf[0..<n]
                continue
            }
            guard sock.wait(milliseconds: timeoutMs) else { return .failure(SysError("no answer from \(addr)", code: Socket.timedOut)) }
        }
        // Status line and the body after the blank line.
        guard let lineEnd = input.firstIndex(of: 0x0A) else { return .failure(SysError("malformed answer from \(addr)", code: 0)) }
        let statusLine = String(decoding: input[0..<lineEnd], as: UTF8.self)
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return .failure(SysError("malformed answer from \(addr)", code: 0)) }
        var k = 0
        var bodyStart = input.count
        while k + 3 < input.count {
            if input[k] == 0x0D, input[k + 1] == 0x0A, input[k + 2] == 0x0D, input[k + 3] == 0x0A { bodyStart = k + 4; break }
            k += 1
        }
        return .success((status, Array(input[bodyStart...])))
    }
}
