// The answering path allocates nothing: ≥100,000 mixed queries through
// `Answerer.respond`, counted with the test-only malloc interposer.

import AllocCounter
import Testing
import DNS
@testable import Authority

// Swift Testing's throw hooks box every thrown error (an allocation); the
// measured loop suspends them (see Tests/AllocCounter/include/alloc_counter.h).

/// Each query in its own buffer, allocated before the measured loop (the
/// caller deallocates them).
private func rawPackets(_ wire: [[UInt8]]) -> [UnsafeRawBufferPointer] {
    wire.map { q -> UnsafeRawBufferPointer in
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: q.count, alignment: 8)
        p.copyBytes(from: q)
        return UnsafeRawBufferPointer(p)
    }
}

@Suite struct AuthorityAllocationTests {
    /// A zone under a layer (both of its parts) answers without allocating too.
    @Test func layeredQueriesAllocateNothing() throws {
        let base = try makeSnapshot()
        let z = try #require(base.zone(named: try DomainName("example.com.")))
        guard case .soa(var soa) = z.soa else { Issue.record("no SOA"); return }
        var layered = z
        for batch in 0..<12 {   // past recentLimit: an older and a recent part
            soa.serial += 1
            var changes: [ZoneLayer.Change] = []
            for k in 0..<100 {
                changes.append(ZoneLayer.Change(owner: try DomainName("n\(batch * 100 + k).example.com."), type: .a, ttl: 60,
                                                rdata: [[10, 0, UInt8(batch), UInt8(k)]]))
            }
            if batch == 11 {
                changes.append(ZoneLayer.Change(owner: try DomainName("www.example.com."), type: .aaaa, ttl: 60,
                                                rdata: [[UInt8](repeating: 1, count: 16)]))
                changes.append(ZoneLayer.Change(owner: try DomainName("n5.example.com."), type: nil, ttl: 0, rdata: []))
            }
            layered = CompiledZone(layered, soa: soa, changes: changes)
        }
        #expect(layered.layer?.older != nil)
        let a = Answerer(snapshot: Snapshot(sources: [.compiled(layered)]))
        let wire: [[UInt8]] = [
            try queryBytes("n1150.example.com.", .a),       // recent part
            try queryBytes("n10.example.com.", .a),         // older part
            try queryBytes("n5.example.com.", .a),          // gone: NXDOMAIN
            try queryBytes("www.example.com.", .a),         // shadowed: NODATA
            try queryBytes("www.example.com.", .aaaa),
            try queryBytes("x.n10.example.com.", .a),       // below a leaf
            try queryBytes("alias.example.com.", .a),       // compiled data still
        ]
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
        defer { out.deallocate() }
        let packets = rawPackets(wire)
        defer { for p in packets { p.deallocate() } }
        var bytes = 0
        for p in packets { bytes &+= a.respond(to: p, into: out, udp: true) }
        alloc_counter_suspend_throw_hooks()
        defer { alloc_counter_restore_throw_hooks() }
        let before = alloc_count_this_thread()
        var i = 0
        while i < 70_000 {
            bytes &+= a.respond(to: packets[i % packets.count], into: out, udp: true)
            i &+= 1
        }
        let allocated = alloc_count_this_thread() - before
        #expect(allocated == 0)
        #expect(bytes > 70_000 * 12)
    }

    @Test func mixedQueriesAllocateNothing() throws {
        #expect(alloc_counter_active() == 1)
        let a = Answerer(snapshot: try makeSnapshot(), nsid: Array("ns-a".utf8))
        let nsidOpt = EDNS(udpPayloadSize: 1232, options: [EDNSOption(code: 3, data: [])])
        let wire: [[UInt8]] = [
            try queryBytes("www.example.com.", .a),                    // hit
            try queryBytes("nope.example.com.", .a),                   // NXDOMAIN
            try queryBytes("www.example.com.", .txt),                  // NODATA
            try queryBytes("alias.example.com.", .a),                  // CNAME chain
            try queryBytes("Foo.wild.example.com.", .a),               // wildcard
            try queryBytes("host.child.example.com.", .a),             // referral
            try queryBytes("big.big.test.", .txt),                     // truncation
            try queryBytes("WWW.example.com.", .aaaa, edns: nsidOpt),  // EDNS + NSID
            try queryBytes("example.com.", .mx, edns: EDNS()),         // additional
            try queryBytes("b.c.example.com.", .a),                    // ENT
            try queryBytes("www.example.org.", .a),                    // REFUSED
            try queryBytes("version.bind.", .txt, cls: .ch),           // CHAOS
            try queryBytes("www.example.com.", .a, edns: EDNS(version: 1)), // BADVERS
            try queryBytes("loop1.example.com.", .a),                  // CNAME loop
            try queryBytes("host.deep.child.example.com.", .a, edns: EDNS()), // referral + glue
        ]
        // Buffers allocated once, as a worker's are; the measured loop calls
        // the engine directly (no closures around it).
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 8)
        defer { out.deallocate() }
        let packets = rawPackets(wire)
        defer { for p in packets { p.deallocate() } }
        let n = packets.count
        var bytes = 0
        var k = 0
        while k < n { bytes &+= a.respond(to: packets[k], into: out, udp: true); k &+= 1 } // warm-up
        alloc_counter_suspend_throw_hooks()
        defer { alloc_counter_restore_throw_hooks() }
        let before = alloc_count_this_thread()
        var i = 0
        while i < 105_000 {
            bytes &+= a.respond(to: packets[i % n], into: out, udp: (i & 1) == 0)
            i &+= 1
        }
        let allocated = alloc_count_this_thread() - before
        #expect(bytes > 105_000 * 12)
        // Per kind, to name the culprit when the total is not 0.
        var perKind: [Int64] = []
        perKind.reserveCapacity(n)
        k = 0
        while k < n {
            let b = alloc_count_this_thread()
            bytes &+= a.respond(to: packets[k], into: out, udp: true)
            perKind.append(alloc_count_this_thread() - b)
            k &+= 1
        }
        #expect(allocated == 0, "allocations for 105,000 queries: \(allocated); per kind: \(perKind)")
    }
}
