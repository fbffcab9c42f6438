// Issue 3's proof for the real serving path: ≥100,000 queries of mixed kinds
// through dnsd's UDP loop (socket → recvmmsg batch → Answerer → sendmmsg)
// and the number of heap allocations made by that loop does not grow.

import AllocCounter
@testable import Applets
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

        let applet = try #require(Applets.find("dnsd"))
        let host = try #require(ServiceHost.start(applet, ["-c", dir + "/c.conf"]))
        let server = DnsServer(host: host, threaded: false)
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
}
