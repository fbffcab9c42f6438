// apictl as a CGI program under a web server.

import API
import Config
import Daemon
import HTTP
import Runtime
import Store
import Sys

/// One request answered the CGI way (RFC 3875), for uhttpd, lighttpd or
/// busybox httpd in front (TLS, their own logs and limits).
public enum ApiCGI {
    public static func run() -> Int32 {
        let resp = answer()
        _ = FileDescriptorIO.writeAll(1, resp.cgi())
        return ExitCode.ok
    }

    static func answer() -> HTTPResponse {
        let env = { (k: String) -> String in Sys.getenv(k) ?? "" }
        let path = ConfigLoader.resolvePath(explicit: nil, env: { Sys.getenv($0) })
        let config: Config
        do throws(ConfigError) { config = try ConfigFile.load(path: path) } catch {
            Console.err("apictl: \(error.description)\n")
            return .error(500, "the API configuration cannot be read")
        }
        ConfigFile.applyLogging(config.global, applet: "apictl")
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
        let handle = StoreHandle(path: config.global.database, policy: .optional)
        handle.open()
        let api = ApictlService.makeAPI(config, global: config.global, store: handle.store)
        // dnsd rebuilds before it answers the poke, so a write is served
        // by the time its response goes out (a lost poke: dnsd's poll).
        api.onCommit = { StoreNotifier.pokeNow(config.global) }
        if let p = api.settings.problems.first { log.error(p) }
        return api.respond(req)
    }
}
