// apictl's command-line client.

import API
import Config
import Daemon
import HTTP
import Sys

/// `apictl COMMAND`: the API's client for a person on the router.
public enum ApiClient {
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

    public static func run(_ opts: CommonOptions) -> Int32 {
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
            do throws(SysError) { got = try sock.receive(into: &buf) } catch { return .failure(error) }
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
