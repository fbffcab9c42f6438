// The journal behind IXFR out: condensed differences between two versions,
// their stored form, the bounds, and the IXFR answer read back by the
// transfer reader (the same one that reads Knot's and NSD's).

import DNS
import Testing
import Zone
@testable import Authority

@Suite struct JournalTests {
    static let origin = try! DomainName("x.test.")

    static func compiled(_ serial: UInt32, _ body: String) throws -> CompiledZone {
        let text = "$TTL 300\n@ SOA ns1 h \(serial) 3600 600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\n" + body
        let z = try Zone.parse(Array(text.utf8), file: "t", origin: origin)
        return try #require(Snapshot(zones: [z]).zone(named: origin))
    }

    static func descriptions(_ rs: [ResourceRecord]) -> Set<String> { Set(rs.map(\.description)) }

    static func ixfr(_ z: CompiledZone, _ journal: Journal?, from serial: UInt32) throws -> XfrReader.Step {
        let q = try TransferTests.request(.ixfr, clientSerial: serial)
        var t = try #require(q.withUnsafeBytes { ZoneTransfer(zone: z, query: $0, journal: journal) })
        var r = XfrReader(zone: origin, id: 0x77, ixfrFrom: serial)
        var buf = [UInt8](repeating: 0, count: 65535)
        var step = XfrReader.Step.more
        while !t.isFinished {
            let n = buf.withUnsafeMutableBytes { t.nextMessage(into: $0, capacity: 512) }
            if n == 0 { break }
            step = buf.withUnsafeBytes { r.consume(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return step
    }

    @Test func compiledZoneRecordsAreTheZones() throws {
        let z = try Self.compiled(1, "www A 192.0.2.10\nwww AAAA 2001:db8::10\nmail MX 10 www\nt TXT \"a b\"\n")
        let rs = z.records()
        #expect(rs.first?.type == .soa && rs.count == 7)
    }

    @Test func differenceIsCondensedAndTTLChangesAreRemoveThenAdd() throws {
        let v1 = try Self.compiled(1, "a A 192.0.2.1\nb A 192.0.2.2\nc 300 TXT \"x\"\n")
        let v2 = try Self.compiled(2, "a A 192.0.2.1\nb A 192.0.2.3\nc 60 TXT \"x\"\nd A 192.0.2.4\n")
        let d = try #require(ZoneDiff.between(old: v1.records(), new: v2.records()))
        #expect(d.fromSerial == 1 && d.toSerial == 2)
        #expect(Self.descriptions(d.removed) == ["b.x.test. 300 IN A 192.0.2.2", "c.x.test. 300 IN TXT \"x\""])
        #expect(Self.descriptions(d.added) == ["b.x.test. 300 IN A 192.0.2.3", "c.x.test. 60 IN TXT \"x\"",
                                               "d.x.test. 300 IN A 192.0.2.4"])
        // Applying it to the old version gives the new one.
        let applied = try XfrReader.apply([d], to: v1.records()).get()
        #expect(Self.descriptions(applied) == Self.descriptions(v2.records()))
    }

    @Test func storedFormReadsBack() throws {
        var body = ""
        for i in 0..<4000 { body += "h\(i) A 10.0.\(i / 256).\(i % 256)\n" }
        let v1 = try Self.compiled(7, "")
        let v2 = try Self.compiled(8, body)   // several messages
        let d = try #require(ZoneDiff.between(old: v1.records(), new: v2.records()))
        let bytes = d.encoded(zone: v2)
        #expect(bytes.count > 65535)
        let back = try #require(ZoneDiff.decode(bytes, zone: Self.origin, fromSerial: 7))
        #expect(back.toSerial == 8 && back.added.count == 4000 && back.removed.isEmpty)
        #expect(ZoneDiff.decode(Array(bytes.dropLast(3)), zone: Self.origin, fromSerial: 7) == nil)
        #expect(ZoneDiff.decode(bytes, zone: Self.origin, fromSerial: 6) == nil)
    }

    @Test func boundsDropTheOldestFirst() throws {
        var j = Journal()
        var z = try Self.compiled(1, "")
        for s in UInt32(2)...6 {
            let next = try Self.compiled(s, "h\(s) A 10.0.0.\(s)\n")
            let d = try #require(ZoneDiff.between(old: z.records(), new: next.records()))
            (j, _) = j.appending(d, size: 100, maxDepth: 3, maxBytes: 1000)
            z = next
        }
        #expect(j.diffs.map(\.fromSerial) == [3, 4, 5] && j.lastSerial == 6)
        #expect(j.chain(from: 4, to: 6)?.count == 2)
        #expect(j.chain(from: 2, to: 6) == nil && j.chain(from: 4, to: 7) == nil)
        let (small, dropped) = j.appending(j.diffs[0], size: 250, maxDepth: 10, maxBytes: 500)
        #expect(small.diffs.count == 3 && dropped == 1 && small.totalSize == 450)
        let (none, all) = j.appending(j.diffs[0], size: 501, maxDepth: 10, maxBytes: 500)
        #expect(none.isEmpty && all == 3)
    }

    @Test func ixfrOutSendsTheChainTheClientNeeds() throws {
        let v1 = try Self.compiled(1, "a A 192.0.2.1\nb A 192.0.2.2\n")
        let v2 = try Self.compiled(2, "a A 192.0.2.1\nb A 192.0.2.3\n")
        let v3 = try Self.compiled(3, "a A 192.0.2.9\nb A 192.0.2.3\nnew TXT \"hi\"\n")
        let d12 = try #require(ZoneDiff.between(old: v1.records(), new: v2.records()))
        let d23 = try #require(ZoneDiff.between(old: v2.records(), new: v3.records()))
        let j = Journal(diffs: [d12, d23], sizes: [1, 1])

        guard case .done(.incremental(let both)) = try Self.ixfr(v3, j, from: 1) else { Issue.record("not IXFR"); return }
        #expect(both.map(\.fromSerial) == [1, 2])
        #expect(Self.descriptions(try XfrReader.apply(both, to: v1.records()).get()) == Self.descriptions(v3.records()))
        guard case .done(.incremental(let one)) = try Self.ixfr(v3, j, from: 2) else { Issue.record("not IXFR"); return }
        #expect(one.count == 1 && one[0].added.count == 2 && one[0].removed.count == 1)
        // Not in the journal: the whole zone; up to date: the SOA alone.
        guard case .done(.full(let all)) = try Self.ixfr(v3, j, from: 0) else { Issue.record("not AXFR-style"); return }
        #expect(Self.descriptions(all) == Self.descriptions(v3.records()))
        #expect(try Self.ixfr(v3, j, from: 3) == .done(.upToDate(serial: 3)))
        // A journal that does not end at the zone's serial is not used.
        guard case .done(.full) = try Self.ixfr(v3, Journal(diffs: [d12], sizes: [1]), from: 1) else {
            Issue.record("a stale journal was used"); return
        }
    }
}
