// EDNS(0), RFC 6891: parsing the OPT record of a query, the FORMERR cases,
// BADVERS, NSID (RFC 5001), and the OPT record the writer produces.

import Testing
@testable import DNS

/// A query for www.example.com A with `additional` records appended raw.
func rawQuery(id: UInt16 = 0xABCD, qdCount: UInt8 = 1, an: [UInt8] = [], anCount: UInt8 = 0,
              additional: [UInt8] = [], arCount: UInt8 = 0) -> [UInt8] {
    var b: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, qdCount, 0, anCount, 0, 0, 0, arCount]
    for _ in 0..<qdCount { b += [3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0, 0, 1, 0, 1] }
    return b + an + additional
}

/// An OPT record: root owner, payload, ext-rcode, version, flags, options.
func opt(payload: UInt16 = 1232, extRcode: UInt8 = 0, version: UInt8 = 0, flags: UInt16 = 0, options: [UInt8] = [],
         owner: [UInt8] = [0]) -> [UInt8] {
    owner + [0, 41, UInt8(payload >> 8), UInt8(payload & 0xFF), extRcode, version, UInt8(flags >> 8), UInt8(flags & 0xFF),
             UInt8(options.count >> 8), UInt8(options.count & 0xFF)] + options
}

/// Parses `bytes` as a query and hands back what the server would look at.
func parseQuery(_ bytes: [UInt8]) throws -> (payload: Int, edns: EDNS?, badVers: Bool, nsid: Bool, rcode: RCode) {
    try bytes.withUnsafeBytes { raw in
        let q = try Query.parse(raw)
        return (q.maxUDPResponse, q.edns?.edns, q.needsBadVers, q.edns?.requestsNSID ?? false, q.rcode)
    }
}

@Suite struct EDNSTests {
    @Test func noEDNSMeans512() throws {
        let q = try parseQuery(rawQuery())
        #expect(q.payload == 512)
        #expect(q.edns == nil)
        #expect(!q.badVers)
    }

    @Test func payloadDOAndOptions() throws {
        let nsidReq: [UInt8] = [0, 3, 0, 0]
        let cookie: [UInt8] = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]
        let q = try parseQuery(rawQuery(additional: opt(payload: 4096, flags: 0x8000, options: nsidReq + cookie), arCount: 1))
        #expect(q.payload == 4096)
        let e = try #require(q.edns)
        #expect(e.dnssecOK)
        #expect(e.options == [EDNSOption(code: 3, data: []), EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])
        #expect(q.nsid)
        #expect(!q.badVers)
    }

    @Test func smallPayloadCountsAs512() throws {
        #expect(try parseQuery(rawQuery(additional: opt(payload: 100), arCount: 1)).payload == 512)
        #expect(try parseQuery(rawQuery(additional: opt(payload: 0), arCount: 1)).payload == 512)
    }

    @Test func versionOtherThanZeroNeedsBadVers() throws {
        let q = try parseQuery(rawQuery(additional: opt(version: 1), arCount: 1))
        #expect(q.badVers)
        #expect(q.edns?.version == 1)
        // The extended RCODE bits combine with the header's.
        let r = try parseQuery(rawQuery(additional: opt(extRcode: 1), arCount: 1))
        #expect(r.rcode == .badVers)
    }

    @Test func twoOPTsAreFormErr() {
        let bytes = rawQuery(additional: opt() + opt(), arCount: 2)
        #expect(throws: DNSError.formErr(offset: 44, reason: "")) { try parseQuery(bytes) }
        #expect(throws: DNSError.self) { try Message(bytes: bytes) }
    }

    @Test func optOutsideAdditionalIsFormErr() {
        let bytes = rawQuery(an: opt(), anCount: 1)
        #expect(throws: DNSError.self) { try parseQuery(bytes) }
        #expect(throws: DNSError.self) { try Message(bytes: bytes) }
    }

    @Test func optWithNonRootOwnerIsFormErr() {
        let bytes = rawQuery(additional: opt(owner: [1, 97, 0]), arCount: 1)
        #expect(throws: DNSError.self) { try parseQuery(bytes) }
    }

    @Test func malformedOptionsAreRejected() {
        for options: [UInt8] in [[0], [0, 3, 0], [0, 3, 0, 1], [0, 3, 0, 4, 1, 2]] {
            #expect(throws: DNSError.self) { try parseQuery(rawQuery(additional: opt(options: options), arCount: 1)) }
        }
    }

    @Test func otherQueryShapesAreFormErr() {
        #expect(throws: DNSError.self) { try parseQuery(rawQuery(qdCount: 0)) }
        #expect(throws: DNSError.self) { try parseQuery(rawQuery(qdCount: 2)) }
        #expect(throws: DNSError.self) { try parseQuery(rawQuery() + [0]) }
        #expect(throws: DNSError.self) { try parseQuery(rawQuery(arCount: 1)) }
        // A non-OPT additional record (e.g. TSIG-like) is walked past.
        let a: [UInt8] = [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(throws: Never.self) { try parseQuery(rawQuery(additional: a + opt(), arCount: 2)) }
    }

    @Test func writtenOPTGoldenBytes() throws {
        let nsid = Array("ns1".utf8)
        let bytes = try build(header: Header(id: 1, flags: 0x8000)) { w in
            try nsid.withUnsafeBytes { try w.writeOPT(dnssecOK: true, nsid: $0) }
        }
        #expect(Array(bytes[12...]) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 7, 0, 3, 0, 3, 110, 115, 49])
        #expect(bytes[11] == 1)
        // Default: payload 1232, no DO, no options.
        let plain = try build { w in try w.writeOPT() }
        #expect(Array(plain[12...]) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])
    }

    @Test func badVersAnswer() throws {
        let bytes = try build(header: Header(id: 9, flags: 0x8000)) { w in
            try w.writeQuestion(try DomainName("example.com."), type: .a, rrClass: .in)
            try w.writeOPT(rcode: .badVers)
        }
        let m = try Message(bytes: bytes)
        #expect(m.header.rcode == 0)
        #expect(m.edns?.extendedRcode == 1)
        #expect(m.edns?.version == 0)
        #expect(m.rcode == .badVers)
        #expect(m.description.contains("status: BADVERS"))
    }

    @Test func optKeepsTheHeaderRcodeUnlessGiven() throws {
        var h = Header(id: 3, flags: 0x8000)
        h.rcode = RCode.nxDomain.headerBits
        let m = try Message(bytes: try build(header: h) { w in try w.writeOPT() })
        #expect(m.rcode == .nxDomain)
    }

    @Test func optThatDoesNotFitLeavesNothing() throws {
        _ = try build(capacity: 20) { w in
            #expect(throws: DNSError.noRoom) { try w.writeOPT() }
            #expect(w.count == 12)
            #expect(w.header.arCount == 0)
        }
    }
}
