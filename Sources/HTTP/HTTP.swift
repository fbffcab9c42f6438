/// HTTP/1.1 requests and responses for the API (RFC 9112), without I/O.
///
/// Contract: `HTTPRequest.parse` looks at the bytes received so far on a
/// connection and says whether a whole request is there (and how many
/// bytes it used), more is needed, or the request is unacceptable with the
/// status to answer (400, 411, 413, 431, 501, 505). Bodies need
/// `Content-Length`; `Transfer-Encoding` is refused (501), as is a body
/// without a length on a method that carries one (411).

import Core

public struct HTTPRequest {
    public var method: String
    /// The request target as sent (path and query).
    public var target: String
    /// The path, percent-decoded, without the query.
    public var path: String
    public var query: [(name: String, value: String)]
    /// Header names lowercased, values trimmed, in order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The client's address (text), filled in by the server.
    public var peer: String
    /// HTTP/1.0 without keep-alive, or `Connection: close`.
    public var wantsClose: Bool

    public init(method: String, path: String, query: [(name: String, value: String)] = [],
                headers: [(name: String, value: String)] = [], body: [UInt8] = [], peer: String = "") {
        self.method = method
        self.target = path
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peer = peer
        wantsClose = false
    }

    public func header(_ name: String) -> String? {
        for h in headers where h.name == name { return h.value }
        return nil
    }

    public func queryValue(_ name: String) -> String? {
        for q in query where q.name == name { return q.value }
        return nil
    }

    public var isWrite: Bool { method == "PUT" || method == "POST" || method == "DELETE" || method == "PATCH" }

    public struct Limits {
        public var maxHeaderBytes = 16 * 1024
        public var maxBodyBytes = 10 * 1024 * 1024
        public init() {}
    }

    public enum Parse {
        case incomplete
        /// The header block is whole, the body not yet (only with
        /// `reportHead`): a server may refuse the request before its body.
        case head(HTTPRequest)
        case complete(HTTPRequest, consumed: Int)
        case failure(status: Int, reason: String)
    }

    /// Parses one request from the start of `buf`.
    public static func parse(_ buf: UnsafeRawBufferPointer, limits: Limits = Limits(), reportHead: Bool = false) -> Parse {
        let n = buf.count
        // Empty lines before a request are ignored (RFC 9112 §2.2).
        var first = 0
        while first < n, buf[first] == 0x0D || buf[first] == 0x0A { first += 1 }
        if first == n {
            return n > limits.maxHeaderBytes ? .failure(status: 400, reason: "only empty lines") : .incomplete
        }
        // The end of the header block: CRLF CRLF (bare LF LF tolerated).
        var end = -1
        var bodyStart = 0
        var k = first
        while k < n {
            if buf[k] == 0x0A {
                if k + 1 < n, buf[k + 1] == 0x0A { end = k; bodyStart = k + 2; break }
                if k + 2 < n, buf[k + 1] == 0x0D, buf[k + 2] == 0x0A { end = k; bodyStart = k + 3; break }
            }
            k += 1
        }
        if end < 0 {
            if n - first > limits.maxHeaderBytes { return .failure(status: 431, reason: "request header block larger than \(limits.maxHeaderBytes) bytes") }
            return .incomplete
        }
        if bodyStart - first > limits.maxHeaderBytes { return .failure(status: 431, reason: "request header block larger than \(limits.maxHeaderBytes) bytes") }
        // Lines (without CR).
        var lines: [String] = []
        var s = first
        var j = first
        while j <= end {
            if buf[j] == 0x0A {
                var e = j
                if e > s, buf[e - 1] == 0x0D { e -= 1 }
                guard let line = String(validating: UnsafeRawBufferPointer(rebasing: buf[s..<e]), as: UTF8.self) else {
                    return .failure(status: 400, reason: "request header is not UTF-8")
                }
                lines.append(line)
                s = j + 1
            }
            j += 1
        }
        guard let requestLine = lines.first else { return .incomplete }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            return .failure(status: 400, reason: "malformed request line")
        }
        let method = String(parts[0])
        for c in method.utf8 where !(c >= 0x41 && c <= 0x5A) { return .failure(status: 400, reason: "malformed method") }
        let version = parts[2]
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .failure(status: 505, reason: "only HTTP/1.1 and HTTP/1.0 are supported")
        }
        let target = String(parts[1])
        guard target.utf8.first == UInt8(ascii: "/") else { return .failure(status: 400, reason: "request target must be a path") }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.utf8.firstIndex(of: UInt8(ascii: ":")) else {
                return .failure(status: 400, reason: "malformed header line")
            }
            let nameBytes = line.utf8[line.utf8.startIndex..<colon]
            if nameBytes.isEmpty { return .failure(status: 400, reason: "empty header name") }
            for c in nameBytes where c <= 0x20 || c == 0x7F { return .failure(status: 400, reason: "malformed header name") }
            let name = lowercase(String(decoding: nameBytes, as: UTF8.self))
            let value = trim(String(decoding: line.utf8[line.utf8.index(after: colon)...], as: UTF8.self))
            headers.append((name, value))
        }
        var req = HTTPRequest(method: method, path: "")
        req.target = target
        req.headers = headers
        guard let (path, query) = splitTarget(target) else { return .failure(status: 400, reason: "malformed percent-encoding in the request target") }
        req.path = path
        req.query = query
        let connection = lowercase(req.header("connection") ?? "")
        req.wantsClose = version == "HTTP/1.0" ? !hasToken(connection, "keep-alive") : hasToken(connection, "close")
        if req.header("transfer-encoding") != nil {
            return .failure(status: 501, reason: "Transfer-Encoding is not supported; send Content-Length")
        }
        var length = 0
        var lengths = 0
        for h in headers where h.name == "content-length" {
            lengths += 1
            guard let v = Int(h.value), v >= 0, h.value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                return .failure(status: 400, reason: "malformed Content-Length")
            }
            if lengths > 1 && v != length { return .failure(status: 400, reason: "conflicting Content-Length headers") }
            length = v
        }
        if lengths == 0 && (method == "PUT" || method == "POST" || method == "PATCH") {
            return .failure(status: 411, reason: "Content-Length is required")
        }
        if length > limits.maxBodyBytes {
            return .failure(status: 413, reason: "request body larger than \(limits.maxBodyBytes) bytes")
        }
        guard n - bodyStart >= length else { return reportHead ? .head(req) : .incomplete }
        req.body = Array(UnsafeRawBufferPointer(rebasing: buf[bodyStart..<(bodyStart + length)]))
        return .complete(req, consumed: bodyStart + length)
    }

    public static func parse(_ bytes: [UInt8], limits: Limits = Limits(), reportHead: Bool = false) -> Parse {
        bytes.withUnsafeBytes { parse($0, limits: limits, reportHead: reportHead) }
    }

    /// Splits a target into its decoded path and query pairs.
    public static func splitTarget(_ target: String) -> (String, [(name: String, value: String)])? {
        let u = Array(target.utf8)
        let q = u.firstIndex(of: UInt8(ascii: "?")) ?? u.count
        guard let path = percentDecode(u[0..<q], plusIsSpace: false) else { return nil }
        var query: [(name: String, value: String)] = []
        if q < u.count {
            for pair in u[(q + 1)...].split(separator: UInt8(ascii: "&")) {
                let eq = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
                guard let k = percentDecode(pair[pair.startIndex..<eq], plusIsSpace: true) else { return nil }
                let v = eq < pair.endIndex ? percentDecode(pair[(eq + 1)...], plusIsSpace: true) : ""
                guard let v else { return nil }
                query.append((k, v))
            }
        }
        return (path, query)
    }

    /// `list` (a comma-separated header value, lowercased) names `token`.
    static func hasToken(_ list: String, _ token: String) -> Bool {
        for part in list.split(separator: ",") where trim(String(part)) == token { return true }
        return false
    }

    static func percentDecode(_ s: ArraySlice<UInt8>, plusIsSpace: Bool) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < s.endIndex, let h = hexValue(s[i + 1]), let l = hexValue(s[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
                continue
            }
            out.append(plusIsSpace && c == UInt8(ascii: "+") ? 0x20 : c)
            i += 1
        }
        return String(validating: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    public static func lowercase(_ s: String) -> String { Text.lowercased(s) }

    static func trim(_ s: String) -> String { Text.trimmed(s[...]) }
}

/// A response: status, headers, body.
public struct HTTPResponse {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response.
    public static func json(_ status: Int, _ value: JSON) -> HTTPResponse {
        var text = value.serialized
        text += "\n"
        return HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }

    /// The API's error shape: `{"error": reason, "field": field}`.
    public static func error(_ status: Int, _ reason: String, field: String? = nil) -> HTTPResponse {
        var m: [(key: String, value: JSON)] = [("error", .string(reason))]
        if let f = field { m.append(("field", .string(f))) }
        return json(status, .object(m))
    }

    public static func text(_ status: Int, _ body: String, contentType: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }

    public func header(_ name: String) -> String? {
        let l = HTTPRequest.lowercase(name)
        for h in headers where HTTPRequest.lowercase(h.name) == l { return h.value }
        return nil
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }

    /// The response on the wire (HTTP/1.1).
    public func serialized(close: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPResponse.reason(status))\r\n"
        for h in headers { head += "\(h.name): \(h.value)\r\n" }
        if status != 204 { head += "Content-Length: \(body.count)\r\n" }
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        if status != 204 { out += body }
        return out
    }

    /// The response as a CGI program prints it (RFC 3875 §6).
    public func cgi() -> [UInt8] {
        var head = "Status: \(status) \(HTTPResponse.reason(status))\r\n"
        for h in headers { head += "\(h.name): \(h.value)\r\n" }
        if status != 204 { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        if status != 204 { out += body }
        return out
    }
}
