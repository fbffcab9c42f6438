import Testing
@testable import HTTP

@Suite struct JSONTests {
    @Test func parsesAndSerializesRoundTrip() throws {
        let text = #"{"a":[1,-2,3.5e2,true,false,null],"b":{"c":"x\"y\\z\n\u00e9\ud83d\ude00"},"d":"last"}"#
        let v = try JSON.parse(Array(text.utf8))
        #expect(v["d"]?.string == "last")
        #expect(v["b"]?["c"]?.string == "x\"y\\z\né😀")
        #expect(v.members?.count == 3)
        let again = try JSON.parse(Array(v.serialized.utf8))
        #expect(again.serialized == v.serialized)
        #expect(try JSON.parse(Array("  42 ".utf8)).int == 42)
        #expect(try JSON.parse(Array("4.5".utf8)).int == nil)
    }

    @Test func rejectsDuplicateKeysAtAnyDepthAndSize() throws {
        // {"type":"AAAA",…,"type":"A"} must not create an A service.
        #expect(throws: JSONError.self) { try JSON.parse(Array(#"{"type":"AAAA","name":"x","type":"A"}"#.utf8)) }
        #expect(throws: JSONError.self) { try JSON.parse(Array(#"[{"a":{"b":1,"b":2}}]"#.utf8)) }
        // Past 16 keys the check goes through a set: still caught, first and last.
        let many = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(throws: JSONError.self) { try JSON.parse(Array("{\(many),\"k0\":1}".utf8)) }
        #expect(throws: JSONError.self) { try JSON.parse(Array("{\(many),\"k39\":1}".utf8)) }
        #expect(throws: JSONError.self) { try JSON.parse(Array("{\(many),\"k15\":1}".utf8)) }
        #expect(try JSON.parse(Array("{\(many)}".utf8)).members?.count == 40)
        // The same key in sibling objects is fine.
        #expect(try JSON.parse(Array(#"[{"a":1},{"a":2}]"#.utf8)).array?.count == 2)
    }

    @Test func rejectsMalformedTextWithAnOffset() {
        for bad in ["", "{", "{\"a\"}", "[1,]", "{\"a\":1,}", "tru", "01", "\"\\x\"", "\"\u{01}\"", "[1] 2",
                    "\"\\ud800\"", "-", "1.", "1e", "{1:2}"] {
            #expect(throws: JSONError.self, "\(bad)") { try JSON.parse(Array(bad.utf8)) }
        }
        // Deep nesting is refused, not a stack overflow.
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONError.self) { try JSON.parse(Array(deep.utf8)) }
        // Invalid UTF-8 inside a string.
        #expect(throws: JSONError.self) { try JSON.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func escapesControlCharacters() {
        #expect(JSON.string("a\u{01}\t").serialized == "\"a\\u0001\\t\"")
    }
}

@Suite struct HTTPRequestTests {
    func parse(_ s: String) -> HTTPRequest.Parse { HTTPRequest.parse(Array(s.utf8)) }

    @Test func parsesARequestWithBodyQueryAndHeaders() throws {
        let raw = "PUT /v1/services/val%6Bey?zone=service.local&x=a+b HTTP/1.1\r\nHost: h\r\nAuthorization:  Bearer t \r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n"
        guard case .complete(let r, let used) = parse(raw) else { Issue.record("not complete"); return }
        #expect(r.method == "PUT" && r.path == "/v1/services/valkey")
        #expect(r.queryValue("zone") == "service.local" && r.queryValue("x") == "a b")
        #expect(r.header("authorization") == "Bearer t")
        #expect(r.body == Array("hello".utf8))
        #expect(used == raw.utf8.count - "GET / HTTP/1.1\r\n".utf8.count)
        #expect(!r.wantsClose)
    }

    @Test func waitsForTheWholeRequest() {
        let raw = "POST /v1/x HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345"
        for cut in 0..<raw.utf8.count {
            if case .incomplete = parse(String(decoding: Array(raw.utf8)[0..<cut], as: UTF8.self)) { continue }
            Issue.record("complete at \(cut)")
        }
        if case .incomplete = parse(raw) {} else { Issue.record("body incomplete") }
    }

    @Test func refusesWhatTheServerDoesNotTake() {
        func status(_ s: String) -> Int? { if case .failure(let st, _) = parse(s) { return st } else { return nil } }
        #expect(status("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == 501)
        #expect(status("PUT /x HTTP/1.1\r\n\r\n") == 411)
        #expect(status("POST /x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n") == 413)
        #expect(status("GET /x HTTP/2.0\r\n\r\n") == 505)
        #expect(status("GET x HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET /x HTTP/1.1\r\nbad header\r\n\r\n") == 400)
        #expect(status("GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == 400)
        #expect(status("GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") == 400)
        #expect(status("GET /%zz HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET /x HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000)) == 431)
        #expect(status("get /x HTTP/1.1\r\n\r\n") == 400)
    }

    @Test func leadingEmptyLinesAndTheHeadBeforeTheBody() {
        let raw = "\r\n\r\nPOST /v1/state HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}"
        if case .complete(let r, _) = parse(raw + "{}") { #expect(r.path == "/v1/state" && r.body.count == 4) } else { Issue.record("blank lines") }
        if case .head(let h) = HTTPRequest.parse(Array(raw.utf8), reportHead: true) {
            #expect(h.header("content-length") == "4" && h.body.isEmpty)
        } else { Issue.record("no head") }
        if case .incomplete = parse(raw) {} else { Issue.record("head reported without asking") }
        if case .incomplete = parse("\r\n\r\n") {} else { Issue.record("only blank lines") }
    }

    @Test func closeAndKeepAlive() {
        if case .complete(let r, _) = parse("GET / HTTP/1.0\r\n\r\n") { #expect(r.wantsClose) } else { Issue.record("1.0") }
        if case .complete(let r, _) = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") { #expect(!r.wantsClose) } else { Issue.record("ka") }
        if case .complete(let r, _) = parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n") { #expect(r.wantsClose) } else { Issue.record("close") }
    }

    @Test func malformedInputNeverTraps() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        let base = Array("PUT /v1/services/a?zone=b HTTP/1.1\r\nContent-Length: 4\r\nAuthorization: Bearer x\r\n\r\n{}{}".utf8)
        for _ in 0..<20_000 {
            var b = base
            for _ in 0..<4 {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                let i = Int(seed >> 33) % b.count
                b[i] = UInt8(truncatingIfNeeded: seed >> 17)
            }
            _ = HTTPRequest.parse(b)
            _ = try? JSON.parse(b)
        }
    }

    @Test func responsesOnTheWireAndForCGI() {
        let r = HTTPResponse.error(404, "no such thing", field: "name")
        let wire = String(decoding: r.serialized(close: true), as: UTF8.self)
        #expect(wire.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(wire.contains("Content-Type: application/json\r\n") && wire.contains("Connection: close\r\n"))
        #expect(wire.hasSuffix("\r\n\r\n{\"error\":\"no such thing\",\"field\":\"name\"}\n"))
        let cgi = String(decoding: HTTPResponse(status: 204).cgi(), as: UTF8.self)
        #expect(cgi == "Status: 204 No Content\r\n\r\n")
    }
}
