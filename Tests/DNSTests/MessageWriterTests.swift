// Writing messages: golden bytes, compression (and its limits), truncation
// at record boundaries, section order, and case preservation.

import Testing
@testable import DNS

/// Runs `body` with a writer over a fresh buffer of `size` bytes (at most
/// `capacity` used) and returns the finished message.
func build(size: Int = 4096, capacity: Int? = nil, header: Header = Header(id: 0x1234, flags: 0x8400),
           _ body: (inout MessageWriter) throws -> Void) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0xEE, count: size)
    let n = try buffer.withUnsafeMutableBytes { raw -> Int in
        var w = try MessageWriter(buffer: raw, capacity: capacity, header: header)
        try body(&w)
        return w.finish()
    }
    return Array(buffer[0..<n])
}

@Suite struct MessageWriterTests {
    let www = try! DomainName("www.example.com.")

    @Test func goldenAnswer() throws {
        let bytes = try build { w in
            try w.writeQuestion(www, type: .a, rrClass: .in)
            try w.writeRecord(.answer, owner: www, ttl: 3600, rdata: .a(0xC000_0201))
        }
        let want: [UInt8] = [
            0x12, 0x34, 0x84, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
            3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0, 0x00, 0x01, 0x00, 0x01,
            0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0E, 0x10, 0x00, 0x04, 192, 0, 2, 1,
        ]
        #expect(bytes == want)
    }

    @Test func compressionShrinksAndDecompressesBack() throws {
        let origin = try DomainName("example.com.")
        let records = try [
            "www 60 IN CNAME web", "web 60 IN A 192.0.2.1", "@ 60 IN MX 10 mail", "@ 60 IN NS ns1.example.net.",
            "@ 60 IN SOA ns1.example.net. hostmaster 1 2 3 4 5", "mail 60 IN A 192.0.2.2", "x.y.z 60 IN PTR y.z",
        ].map { try ResourceRecord($0, origin: origin) }
        var m = Message(header: Header(id: 7, flags: 0x8400), questions: [Question(name: www, type: .a)], answers: records)
        let compressed = try m.encode()
        var uncompressedSize = 12 + www.wire.count + 4
        for r in records { uncompressedSize += r.owner.wire.count + 10 + r.rdata.wireBytes.count }
        #expect(compressed.count < uncompressedSize - 60)
        let back = try Message(bytes: compressed)
        #expect(back == m)
        // Every owner after the first is a pointer or ends in one.
        m.edns = EDNS(dnssecOK: true)
        #expect(try Message(bytes: try m.encode()) == m)
    }

    @Test func repeatedOwnersCostTwoBytes() throws {
        let one = try build { w in
            try w.writeQuestion(www, type: .a, rrClass: .in)
            try w.writeRecord(.answer, owner: www, ttl: 1, rdata: .a(1))
        }
        let ten = try build { w in
            try w.writeQuestion(www, type: .a, rrClass: .in)
            for i in 0..<10 { try w.writeRecord(.answer, owner: www, ttl: 1, rdata: .a(UInt32(i))) }
        }
        #expect(ten.count - one.count == 9 * (2 + 10 + 4))
    }

    @Test func pointersStayBelow0x4000() throws {
        // Fill past 16 KiB, then write a new name twice: its second copy can
        // not point at the first (beyond pointer reach) and is written whole.
        let filler = RData.txt([[UInt8](repeating: 65, count: 255)])
        let late = try DomainName("late.example.org.")
        let bytes = try build(size: 20000) { w in
            try w.writeQuestion(www, type: .txt, rrClass: .in)
            for _ in 0..<64 { try w.writeRecord(.answer, owner: www, ttl: 1, rdata: filler) }
            #expect(w.count > 0x4000)
            try w.writeRecord(.answer, owner: late, ttl: 1, rdata: .a(1))
            try w.writeRecord(.answer, owner: late, ttl: 1, rdata: .a(2))
        }
        let tail = late.wire + [0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 0, 0, 0, 2]
        #expect(Array(bytes.suffix(tail.count)) == tail)
        let m = try Message(bytes: bytes)
        #expect(m.answers.count == 66)
        #expect(m.answers[65].owner == late)
    }

    @Test func fullCompressionTableStillWritesCorrectNames() throws {
        let names = try (0..<100).map { try DomainName("h\($0).zone\($0 % 7).example.") }
        let bytes = try build(size: 8192) { w in
            for (i, n) in names.enumerated() { try w.writeRecord(.answer, owner: n, ttl: 1, rdata: .cname(names[(i * 13) % 100])) }
            #expect(w.compression.count == CompressionTable.capacity)
        }
        let m = try Message(bytes: bytes)
        #expect(m.answers.map(\.owner) == names)
        for (i, r) in m.answers.enumerated() { #expect(r.rdata == .cname(names[(i * 13) % 100])) }
    }

    @Test func truncationStopsAtARecordBoundary() throws {
        var lastGood = 0
        var written = 0
        let bytes = try build(capacity: 120) { w in
            try w.writeQuestion(www, type: .a, rrClass: .in)
            for i in 0..<50 {
                let before = w.count
                do {
                    try w.writeRecord(.answer, owner: www, ttl: 1, rdata: .txt([Array("record \(i)".utf8)]))
                    written += 1
                    lastGood = w.count
                } catch DNSError.noRoom {
                    #expect(w.count == before, "a failed write leaves nothing behind")
                    w.header.tc = true
                    break
                }
            }
        }
        #expect(bytes.count == lastGood && bytes.count <= 120)
        let m = try Message(bytes: bytes)
        #expect(m.header.tc)
        #expect(m.answers.count == written && written > 0)
    }

    @Test func reserveKeepsRoomForOPT() throws {
        let nsid = Array("dnsbox-1".utf8)
        let bytes = try build(capacity: 512) { w in
            try w.writeQuestion(www, type: .a, rrClass: .in)
            w.reserve(11 + 4 + nsid.count)
            while (try? w.writeRecord(.answer, owner: www, ttl: 1, rdata: .aaaa(hi: 1, lo: 2))) != nil {}
            w.header.tc = true
            w.release()
            try nsid.withUnsafeBytes { try w.writeOPT(dnssecOK: true, nsid: $0) }
        }
        #expect(bytes.count <= 512)
        let m = try Message(bytes: bytes)
        #expect(m.edns?.nsid == nsid)
        #expect(m.edns?.dnssecOK == true)
        #expect(m.header.tc)
    }

    @Test func sectionsMustComeInOrder() throws {
        _ = try build { w in
            try w.writeRecord(.authority, owner: www, ttl: 1, rdata: .a(1))
            #expect(throws: DNSError.self) { try w.writeRecord(.answer, owner: www, ttl: 1, rdata: .a(1)) }
            #expect(throws: DNSError.self) { try w.writeQuestion(www, type: .a, rrClass: .in) }
            try w.writeRecord(.additional, owner: www, ttl: 1, rdata: .a(1))
        }
    }

    @Test func srvAndUnknownRDATAAreNeverCompressed() throws {
        let target = try DomainName("sip.example.com.")
        let bytes = try build { w in
            try w.writeQuestion(target, type: .srv, rrClass: .in)
            try w.writeRecord(.answer, owner: target, ttl: 1, rdata: .srv(SRV(priority: 1, weight: 2, port: 3, target: target)))
            try w.writeRecord(.answer, owner: target, ttl: 1, rdata: .unknown(type: RRType(65280), data: target.wire))
        }
        // Both RDATAs hold the full name even though it is in the question.
        let full = target.wire
        var found = 0
        for i in 0...(bytes.count - full.count) where Array(bytes[i..<(i + full.count)]) == full { found += 1 }
        #expect(found == 3)
        #expect(try Message(bytes: bytes).answers.count == 2)
    }

    @Test func echoedQuestionKeepsTheClientsCase() throws {
        let c = try #require(Captured.named("digMixedCaseAAAA"))
        let zoneOwner = try DomainName("www.example.com.")
        var out = [UInt8](repeating: 0, count: 512)
        let n = try c.query.withUnsafeBytes { q in
            try out.withUnsafeMutableBytes { raw -> Int in
                let query = try Query.parse(q)
                var h = Header(id: query.header.id)
                h.qr = true
                h.aa = true
                h.rd = query.header.rd
                var w = try MessageWriter(buffer: raw, capacity: query.maxUDPResponse, header: h)
                try w.writeQuestion(query.question)
                // The zone's lowercase owner compresses onto the query's name…
                try w.writeRecord(.answer, owner: zoneOwner, ttl: 60, rdata: .aaaa(hi: 0x2001_0db8_0000_0000, lo: 1))
                // …and an owner taken from the query keeps its case too.
                try w.writeRecord(.answer, owner: query.question.name, ttl: 60, rdata: .aaaa(hi: 0x2001_0db8_0000_0000, lo: 2))
                return w.finish()
            }
        }
        let m = try Message(bytes: Array(out[0..<n]))
        #expect(m.questions.first?.name.description == "WwW.ExAmPle.COM.")
        #expect(m.answers.map(\.owner.description) == ["WwW.ExAmPle.COM.", "WwW.ExAmPle.COM."])
        #expect(n == 12 + 17 + 4 + 2 * (2 + 10 + 16))
    }

    @Test func byteWriterReportsNoRoom() {
        var buffer = [UInt8](repeating: 0, count: 5)
        buffer.withUnsafeMutableBytes { raw in
            var w = ByteWriter(raw)
            #expect(throws: Never.self) { try w.writeU32(0x0102_0304) }
            #expect(throws: DNSError.noRoom) { try w.writeU16(1) }
            #expect(w.count == 4)
            #expect(throws: Never.self) { try w.writeU8(5) }
            #expect(throws: DNSError.noRoom) { try w.writeU8(6) }
            w.patchU16(0xAABB, at: 3)
            w.patchU16(0xCCDD, at: 4)           // out of range: ignored
        }
        #expect(buffer == [1, 2, 3, 0xAA, 0xBB])
    }

    @Test func headerFlagsRoundTrip() throws {
        var h = Header(id: 0xBEEF)
        h.qr = true; h.opcode = .notify; h.aa = true; h.tc = true; h.rd = true
        h.ra = true; h.ad = true; h.cd = true; h.rcode = RCode.refused.headerBits
        #expect(h.flags == 0b1_0100_1111_0_1_1_0101)
        let bytes = try build(header: h) { _ in }
        let back = try Message(bytes: bytes).header
        #expect(back == h)
        #expect(back.opcode == .notify && back.rcode == 5 && !back.z)
    }
}
