// The packed form between parser and compiler (ZoneData): records and names
// survive the round trip, empty non-terminals and parents are nodes, case
// and duplicates follow the rules, and the name table's compact forms
// (lowercase names kept once, hashes dropped after building) still answer.

import DNS
import Testing
@testable import Zone

@Suite struct ZoneDataTests {
    @Test func recordsRoundTripInFileOrder() throws {
        let text = """
        @ 300 SOA ns1 h 1 2 3 4 300
        @ NS ns1
        ns1 A 192.0.2.53
        www AAAA 2001:db8::1
        www A 192.0.2.1
        a.b.c TXT "x y" z
        mail MX 10 Mail.Example.COM.
        _sip._tcp SRV 1 2 5060 sip
        """
        let z = try parseZone(text)
        #expect(z.recordCount == 8)
        #expect(z.records.map { $0.description } == [
            soaLine, "example.com. 300 IN NS ns1.example.com.", "ns1.example.com. 300 IN A 192.0.2.53",
            "www.example.com. 300 IN AAAA 2001:db8::1", "www.example.com. 300 IN A 192.0.2.1",
            "a.b.c.example.com. 300 IN TXT \"x y\" \"z\"", "mail.example.com. 300 IN MX 10 Mail.Example.COM.",
            "_sip._tcp.example.com. 300 IN SRV 1 2 5060 sip.example.com.",
        ])
        // Packing the same records again gives an equal zone.
        #expect(Zone(origin: z.origin, records: z.records) == z)
        // Owners and the empty non-terminals above them are nodes; each
        // points at its parent (0: a child of the apex).
        let d = z.data
        let abc = try #require(d.nodes[try DomainName("a.b.c.example.com.")])
        let bc = try #require(d.nodes[try DomainName("b.c.example.com.")])
        let c = try #require(d.nodes[try DomainName("c.example.com.")])
        #expect(d.nodeParent[abc] == Int32(bc))
        #expect(d.nodeParent[bc] == Int32(c))
        #expect(d.nodeParent[c] == 0)
        #expect(d.nodeParent[0] == -1)
        #expect(d.soa?.serial == 1)
        #expect(d.unique)
    }

    @Test func duplicatesDifferingOnlyInNameCaseAreOne() throws {
        // RFC 4343: names in RDATA compare case-insensitively; other bytes do not.
        let z = try parseZone("@ 300 SOA ns1 h 1 2 3 4 300\n@ NS ns1\n@ NS NS1\nt TXT \"a\"\nt TXT \"A\"\n")
        #expect(z.records.map { $0.description } == [
            soaLine, "example.com. 300 IN NS ns1.example.com.",
            "t.example.com. 300 IN TXT \"a\"", "t.example.com. 300 IN TXT \"A\"",
        ])
    }

    @Test func anOwnerAfterAnIncludeIsNotTakenFromTheIncludedFile() throws {
        // The parser reuses the last owner it parsed when the text repeats;
        // the same text in another file (another origin) is another name.
        let z = try parseZone("@ 300 SOA ns1 h 1 2 3 4 300\nwww A 192.0.2.1\n$INCLUDE sub.zone sub\nwww A 192.0.2.2\n",
                              files: ["/zones/sub.zone": "www A 192.0.2.3\n"])
        #expect(z.records.map { $0.description }.dropFirst() == [
            "www.example.com. 300 IN A 192.0.2.1", "www.sub.example.com. 300 IN A 192.0.2.3",
            "www.example.com. 300 IN A 192.0.2.2",
        ])
    }

    @Test func nameTableKeepsCaseOnceAnUppercaseNameArrives() throws {
        let t = NameTable<Int>(capacity: 2)
        let names = try ["a.example.", "b.example.", "MiXed.Example.", "c.example."].map { try DomainName($0) }
        for (i, n) in names.enumerated() { t.insertNew(i, for: n) }
        #expect((0..<4).map { t.name(at: $0).description } == ["a.example.", "b.example.", "MiXed.Example.", "c.example."])
        #expect(t[try DomainName("mixed.example.")] == 2)
        // Dropping the build-time hashes keeps lookups; a later insert
        // (which grows the table) hashes the entries again.
        t.compact()
        for k in 0..<40 { t.insert(10 &+ k, for: try DomainName("n\(k).example.")) }
        for (i, n) in names.enumerated() { #expect(t[n] == i) }
        for k in 0..<40 { #expect(t[try DomainName("N\(k).EXAMPLE.")] == 10 &+ k) }
        #expect(t.count == 44)
    }
}
