// libFuzzer target for the API's HTTP request parser and JSON (issue 5).
// Built by scripts/fuzz.sh with Sources/HTTP/*.swift as one module. For
// every input:
// - HTTPRequest.parse returns complete, incomplete or a failure with a
//   4xx/5xx status, never traps; a complete request used no more bytes
//   than it was given and its body is exactly Content-Length long;
// - the input one byte short of a whole request is incomplete (parsing
//   is incremental), or, asked for, a head when the request has a body;
// - JSON.parse returns or throws; an accepted value serializes to text
//   that parses to the same serialization.
// A broken invariant calls fatalError, which libFuzzer reports as a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHTTP.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

enum FuzzHTTP {
    static func run(_ b: [UInt8]) {
        var limits = HTTPRequest.Limits()
        limits.maxBodyBytes = 4096
        limits.maxHeaderBytes = 2048
        switch HTTPRequest.parse(b, limits: limits) {
        case .incomplete: break
        case .head: fatalError("a head reported without reportHead")
        case .failure(let status, let reason):
            if status < 400 || status > 505 || reason.isEmpty { fatalError("bad failure \(status) \(reason)") }
        case .complete(let req, let used):
            if used > b.count || used <= 0 { fatalError("used \(used) of \(b.count)") }
            if let l = req.header("content-length"), Int(l) != req.body.count { fatalError("body length") }
            // One byte less than the request (the last of its header block
            // or of its body) must be incomplete: parsing is incremental.
            if case .incomplete = HTTPRequest.parse(Array(b[0..<(used - 1)]), limits: limits) {} else {
                fatalError("a prefix of a whole request is not incomplete")
            }
            // Asked for, the head of a request with a body comes first.
            if !req.body.isEmpty {
                guard case .head = HTTPRequest.parse(Array(b[0..<(used - 1)]), limits: limits, reportHead: true) else {
                    fatalError("a request one byte short of its body is not reported as a head")
                }
            }
        }
        if let v = try? JSON.parse(b) {
            let text = v.serialized
            guard let again = try? JSON.parse(Array(text.utf8)) else { fatalError("serialization does not parse: \(text)") }
            if again.serialized != text { fatalError("round trip changed: \(text)") }
        }
    }
}
