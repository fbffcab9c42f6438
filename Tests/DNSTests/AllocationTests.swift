// The DNS hot path allocates nothing: parse a query in place, look its name
// up in a NameTable, write an answer (with compression and OPT) into a
// preallocated buffer. Counted with the test-only malloc interposer.

import AllocCounter
import Testing
@testable import DNS

@Suite struct DNSAllocationTests {
    @Test func queryToAnswerAllocatesNothing() throws {
        #expect(alloc_counter_active() == 1)
        let queries = ["digA", "digMixedCaseAAAA"].compactMap { Captured.named($0)?.query }
        #expect(queries.count == 2)
        let www = try DomainName("www.example.com.")
        let table = NameTable<[RData]>()
        table.insert([.a(0xC000_0201), .a(0xC000_0202)], for: www)
        let soaOwner = try DomainName("example.com.")
        let soa = try RData(type: .soa, text: "ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300",
                            origin: soaOwner)
        // Buffers allocated once, as a DNS worker's are; the measured loop
        // calls the library directly (no closures around it).
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 1232, alignment: 8)
        defer { out.deallocate() }
        let packets = queries.map { q -> UnsafeRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: q.count, alignment: 8)
            p.copyBytes(from: q)
            return UnsafeRawBufferPointer(p)
        }
        defer { for p in packets { p.deallocate() } }
        let first = packets[0], second = packets[1]
        var answered = 0
        var hits = 0

        func serve(_ raw: UnsafeRawBufferPointer) throws(DNSError) {
            let q = try Query.parse(raw)
            var h = Header(id: q.header.id, flags: 0x8400)
            h.rd = q.header.rd
            var w = try MessageWriter(buffer: out, capacity: q.maxUDPResponse, header: h)
            try w.writeQuestion(q.question)
            if let rrs = table[q.question.name] {
                hits &+= 1
                // Indexed: at -Onone `for rr in rrs` runs unspecialized iterator
                // code that heap-allocates per element (measured: 1 each).
                var i = 0
                while i < rrs.count {
                    try w.writeRecord(.answer, owner: q.question.name, ttl: 300, rdata: rrs[i])
                    i &+= 1
                }
            } else {
                try w.writeRecord(.authority, owner: soaOwner, ttl: 300, rdata: soa)
            }
            if q.edns != nil { try w.writeOPT() }
            answered &+= w.finish() > 0 ? 1 : 0
        }

        try serve(first) // warm-up: one-time runtime metadata
        try serve(second)
        let before = alloc_count_this_thread()
        for i in 0..<50_000 {
            try serve(first)
            try serve(second)
            _ = i
        }
        let allocated = alloc_count_this_thread() - before
        #expect(answered == 100_002 && hits == 100_002)
        #expect(allocated == 0, "allocations for 100,000 answers: \(allocated)")
    }
}
