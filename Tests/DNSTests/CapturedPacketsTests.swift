// Replays the real dig/kdig queries and knotd responses in CapturedPackets.swift.

import Testing
@testable import DNS

@Suite struct CapturedPacketsTests {
    static let names = Captured.all.map(\.name)

    @Test(arguments: names)
    func queryParsesOnTheHotPath(_ name: String) throws {
        let c = try #require(Captured.named(name))
        let q = try c.query.withUnsafeBytes { raw in
            let q = try Query.parse(raw)
            return (q.header, q.question.question, q.edns?.edns)
        }
        #expect(q.0.qr == false)
        #expect(q.0.opcode == .query)
        #expect(q.0.qdCount == 1)
        // The question name is what the command asked for.
        let words = c.command.split(separator: " ")
        let asked = try DomainName(String(words[words.count - 2]))
        #expect(q.1.name == asked)
        #expect(q.1.name.description == asked.description, "case preserved")
        #expect(q.1.type == RRType(mnemonic: String(words[words.count - 1])))
        // EDNS as the tools send it: dig by default, kdig only when asked.
        if words.contains("+noedns") || (words[0] == "kdig" && !words.contains("+nsid")) {
            #expect(q.2 == nil)
        } else {
            let e = try #require(q.2)
            #expect(e.version == (c.command.contains("+edns=1") ? 1 : 0))
            #expect(e.dnssecOK == c.command.contains("+dnssec"))
            #expect((e.nsid != nil) == c.command.contains("+nsid"))
        }
    }

    @Test(arguments: names)
    func queryReencodesByteForByte(_ name: String) throws {
        let c = try #require(Captured.named(name))
        let m = try Message(bytes: c.query)
        #expect(try m.encode() == c.query)
    }

    @Test(arguments: names)
    func responseDecodesToWhatTheToolPrinted(_ name: String) throws {
        let c = try #require(Captured.named(name))
        let m = try Message(bytes: c.response)
        let lines = (m.answers + m.authority + m.additional).map(\.description)
        #expect(lines == c.records)
        #expect(m.header.qr)
        #expect(m.header.id == UInt16(c.query[0]) << 8 | UInt16(c.query[1]))
    }

    @Test(arguments: names)
    func responseRoundTripsThroughOurWriter(_ name: String) throws {
        let c = try #require(Captured.named(name))
        let m = try Message(bytes: c.response)
        let ours = try m.encode()
        #expect(try Message(bytes: ours) == m)
        // Knot compresses every name it may; so do we, with the same result.
        #expect(ours == c.response, "\(name): \(ours.count) bytes vs knot's \(c.response.count)")
    }

    @Test func badVersQueryAndKnotsAnswer() throws {
        let c = try #require(Captured.named("digBadVers"))
        let needs = try c.query.withUnsafeBytes { raw in try Query.parse(raw).needsBadVers }
        #expect(needs)
        let r = try Message(bytes: c.response)
        #expect(r.rcode == .badVers)
        #expect(r.edns?.version == 0)
    }

    @Test func nsidFromKnot() throws {
        let c = try #require(Captured.named("kdigNsid"))
        let requested = try c.query.withUnsafeBytes { raw in
            try Query.parse(raw).edns?.requestsNSID ?? false
        }
        #expect(requested)
        let r = try Message(bytes: c.response)
        #expect(r.edns?.nsid == Array("knot-capture".utf8))
    }

    @Test func nxdomainCarriesSOA() throws {
        let r = try Message(bytes: try #require(Captured.named("digNXDOMAIN")).response)
        #expect(r.rcode == .nxDomain)
        #expect(r.header.aa)
        guard case .soa(let soa) = r.authority.first?.rdata else {
            Issue.record("no SOA in authority")
            return
        }
        #expect(soa.minimum == 300)
        #expect(soa.serial == 2024010101)
    }

    @Test func mixedCaseQueryMatchesOwnedName() throws {
        let c = try #require(Captured.named("digMixedCaseAAAA"))
        let owned = try DomainName("www.example.com.")
        try c.query.withUnsafeBytes { raw in
            let q = try Query.parse(raw)
            #expect(q.question.name.equals(owned))
            #expect(q.question.name.caseInsensitiveHash == owned.caseInsensitiveHash)
            let table = NameTable<Int>()
            table.insert(7, for: owned)
            #expect(table[q.question.name] == 7)
        }
    }

    @Test func truncatedAnswerFromKnot() throws {
        let c = try #require(Captured.named("digTruncated"))
        let r = try Message(bytes: c.response)
        #expect(r.header.tc)
        #expect(r.answers.isEmpty)
        let payload = try c.query.withUnsafeBytes { raw in try Query.parse(raw).maxUDPResponse }
        #expect(payload == 512)
        // Our writer, given the zone's twelve TXT records, stops at a record
        // boundary within the same 512 bytes.
        let origin = try DomainName("example.com.")
        let records = try (1...12).map { i in
            try ResourceRecord("big 3600 IN TXT \"record \(i) padding padding padding padding padding padding padding padding\"", origin: origin)
        }
        var written = 0
        let bytes = try build(capacity: payload) { w in
            try w.writeQuestion(records[0].owner, type: .txt, rrClass: .in)
            w.reserve(11)
            for rr in records {
                do throws(DNSError) {
                    try w.writeRecord(.answer, owner: rr.owner, ttl: rr.ttl, rdata: rr.rdata)
                    written += 1
                } catch {
                    #expect(error == .noRoom)
                    w.header.tc = true
                    break
                }
            }
            w.release()
            try w.writeOPT()
        }
        #expect(bytes.count <= 512)
        let m = try Message(bytes: bytes)
        #expect(m.header.tc)
        #expect(m.answers == Array(records.prefix(written)))
        #expect(written > 0 && written < 12)
    }
}
