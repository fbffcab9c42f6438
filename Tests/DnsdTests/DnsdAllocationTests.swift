// Issue 3's proof for the real serving path: ≥100,000 queries of mixed kinds
// through dnsd's UDP loop (socket → recvmmsg batch → Answerer → sendmmsg)
// and the number of heap allocations made by that loop does not grow.

import AllocCounter
@testable import Dnsd
import Daemon
import DNS
import Foundation
import Runtime
import Sys
import Testing

#if DEBUG
private let optimized = false
#else
private let optimized = true
#endif

@Suite struct DnsdAllocationTests {
    static func query(_ name: String, _ type: RRType, id: UInt16, edns: Bool) throws -> [UInt8] {
        var h = Header()
        h.id = id
        h.rd = true
        let m = Message(header: h, questions: [Question(name: try DomainName(name), type: type, rrClass: .in)],
                        edns: edns ? EDNS(options: [EDNSOption(code: 3, data: [])]) : nil)
        return try m.encode()
    }

    // Unoptimized code allocates in places the optimizer removes (2 per query
    // here at -Onone), so the count means something only in an optimized
    // build: `make test` runs the allocation tests again with -c release.
    @Test(.enabled(if: optimized, "allocation counts need an optimized build (make test runs this with -c release)"))
    func udpServingAllocatesNothingPerQuery() throws {
        let dir = "/tmp/dnsbox-dnsd-alloc-\(Sys.pid)-\(Sys.random64() % 1_000_000)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let big = (0..<8).map { "big IN TXT \"\(String(repeating: Character(UnicodeScalar(97 + $0)!), count: 120))\"" }
        try ("$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n"
             + "www IN A 192.0.2.1\nalias IN CNAME www\n*.wild IN A 192.0.2.9\nsub IN NS ns.sub\nns.sub IN A 192.0.2.77\n"
             + big.joined(separator: "\n") + "\n").write(toFile: dir + "/ex.zone", atomically: true, encoding: .utf8)
        let port = 20000 + Int(Sys.random64() % 20000)
        try """
            config dnsbox 'main'
            \toption database '\(dir)/db/x.db'
            \toption rundir '\(dir)/run'
            \toption log_level 'error'
            config dnsd 'main'
            \tlist listen '127.0.0.1:\(port)'
            \toption nsid 'alloc'
            \toption workers '1'
            config zone
            \toption name 'example.com'
            \toption file '\(dir)/ex.zone'
            """.write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)

        let applet = AppletInfo(name: "dnsd", summary: "", usage: "", section: "dnsd")
        let host = try #require(ServiceHost.start(applet, ["-c", dir + "/c.conf"]))
        let server = DnsdService(host: host, threaded: false)
        #expect(server.start())

        let queries: [[UInt8]] = [
            try Self.query("www.example.com.", .a, id: 1, edns: true),        // hit
            try Self.query("nope.example.com.", .a, id: 2, edns: false),      // NXDOMAIN
            try Self.query("www.example.com.", .mx, id: 3, edns: true),       // NODATA
            try Self.query("alias.example.com.", .a, id: 4, edns: false),     // CNAME
            try Self.query("X.wild.example.com.", .a, id: 5, edns: true),     // wildcard
            try Self.query("a.sub.example.com.", .a, id: 6, edns: false),     // referral
            try Self.query("big.example.com.", .txt, id: 7, edns: false),     // truncated (TC)
            try Self.query("example.org.", .a, id: 8, edns: false),           // REFUSED
        ]
        let client = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { client.close() }
        let to = SocketAddress(ip: "127.0.0.1", port: UInt16(port))!
        var reply = [UInt8](repeating: 0, count: 4096)
        var serverAllocations: Int64 = 0
        var answered = 0
        func exchange(_ rounds: Int, count: Bool) throws {
            for r in 0..<rounds {
                _ = try queries[r % queries.count].withUnsafeBytes { try client.send($0, to: to) }
                var got: (Int, SocketAddress)? = nil
                var spins = 0
                while got == nil && spins < 1000 {
                    let before = alloc_count_this_thread()
                    server.runWorkersOnce(timeoutMs: 5)
                    if count { serverAllocations += alloc_count_this_thread() - before }
                    got = try reply.withUnsafeMutableBytes { try client.receive(into: $0) }
                    spins += 1
                }
                if got != nil { answered += 1 }
            }
        }
        try exchange(64, count: false) // warm-up: lazily created runtime state
        answered = 0
        alloc_counter_suspend_throw_hooks() // see alloc_counter.h: truncation throws .noRoom
        try exchange(100_000, count: true)
        alloc_counter_restore_throw_hooks()
        #expect(answered == 100_000)
        #expect(serverAllocations == 0, "allocations in dnsd's loop for 100,000 queries: \(serverAllocations)")
    }

    /// The upstream of the cache-hit test: answers www/alias/nx under up.test.
    static func upstreamReply(_ q: [UInt8]) throws -> [UInt8] {
        let m = try Message(bytes: q)
        var h = m.header
        h.qr = true
        h.aa = true
        let qq = m.questions[0]
        let www = try DomainName("www.up.test.")
        var answers: [ResourceRecord] = []
        var authority: [ResourceRecord] = []
        switch qq.name.description.lowercased() {
        case "www.up.test.":
            answers = [ResourceRecord(owner: qq.name, ttl: 3600, rdata: .a(0xC000_0201))]
        case "alias.up.test.":
            answers = [ResourceRecord(owner: qq.name, ttl: 3600, rdata: .cname(www)),
                       ResourceRecord(owner: www, ttl: 3600, rdata: .a(0xC000_0201))]
        default:
            h.rcode = 3
            authority = [ResourceRecord(owner: try DomainName("up.test."), ttl: 3600,
                                        rdata: .soa(SOA(mname: www, rname: www, serial: 1, refresh: 1, retry: 1,
                                                        expire: 1, minimum: 600)))]
        }
        return try Message(header: h, questions: m.questions, answers: answers, authority: authority, edns: m.edns).encode()
    }

    /// Issue 4: cache hits through the same loop (forwarding configured,
    /// client in allow_recursion) allocate nothing either.
    @Test(.enabled(if: optimized, "allocation counts need an optimized build (make test runs this with -c release)"))
    func cacheHitsAllocateNothingPerQuery() throws {
        let dir = "/tmp/dnsbox-dnsd-cache-alloc-\(Sys.pid)-\(Sys.random64() % 1_000_000)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let upstream = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { upstream.close() }
        let upPort = try upstream.localAddress().port
        let port = 20000 + Int(Sys.random64() % 20000)
        try """
            config dnsbox 'main'
            \toption database '\(dir)/db/x.db'
            \toption rundir '\(dir)/run'
            \toption log_level 'error'
            config dnsd 'main'
            \tlist listen '127.0.0.1:\(port)'
            \toption workers '1'
            \tlist forwarder '127.0.0.1:\(upPort)'
            config zone
            \toption name 'home.lan'
            config record
            \toption zone 'home.lan'
            \toption name 'nas'
            \toption type 'A'
            \toption value '192.168.1.10'
            """.write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        let applet = AppletInfo(name: "dnsd", summary: "", usage: "", section: "dnsd")
        let host = try #require(ServiceHost.start(applet, ["-c", dir + "/c.conf"]))
        let server = DnsdService(host: host, threaded: false)
        #expect(server.start())

        let queries: [[UInt8]] = [
            try Self.query("www.up.test.", .a, id: 1, edns: true),       // positive
            try Self.query("ALIAS.up.test.", .a, id: 2, edns: false),    // CNAME chain
            try Self.query("nx.up.test.", .a, id: 3, edns: true),        // NXDOMAIN (RFC 2308)
            try Self.query("nx.up.test.", .aaaa, id: 4, edns: false),    // NXDOMAIN covers every type
            try Self.query("nas.home.lan.", .a, id: 5, edns: false),     // local zone
        ]
        let client = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { client.close() }
        let to = SocketAddress(ip: "127.0.0.1", port: UInt16(port))!
        var reply = [UInt8](repeating: 0, count: 4096)
        var upBuf = [UInt8](repeating: 0, count: 4096)
        var serverAllocations: Int64 = 0
        var answered = 0
        var upstreamQueries = 0
        func exchange(_ rounds: Int, count: Bool) throws {
            for r in 0..<rounds {
                _ = try queries[r % queries.count].withUnsafeBytes { try client.send($0, to: to) }
                var got: (Int, SocketAddress)? = nil
                var spins = 0
                while got == nil && spins < 1000 {
                    let before = alloc_count_this_thread()
                    server.runWorkersOnce(timeoutMs: 5)
                    if count { serverAllocations += alloc_count_this_thread() - before }
                    if let (n, from) = try upBuf.withUnsafeMutableBytes({ try upstream.receive(into: $0) }) {
                        upstreamQueries += 1
                        _ = try upstream.send(try Self.upstreamReply(Array(upBuf[0..<n])), to: from)
                    }
                    got = try reply.withUnsafeMutableBytes { try client.receive(into: $0) }
                    spins += 1
                }
                if got != nil { answered += 1 }
            }
        }
        try exchange(50, count: false) // warm-up: fills the cache
        #expect(upstreamQueries == 3, "upstream queries while warming: \(upstreamQueries)")
        answered = 0
        alloc_counter_suspend_throw_hooks()
        try exchange(100_000, count: true)
        alloc_counter_restore_throw_hooks()
        #expect(answered == 100_000)
        #expect(upstreamQueries == 3, "cache hits reached the upstream: \(upstreamQueries - 3)")
        let st = server.workers[0].local
        #expect(st.cacheHits >= 80_000)
        #expect(serverAllocations == 0, "allocations in dnsd's loop for 100,000 cache hits: \(serverAllocations)")
    }
}
