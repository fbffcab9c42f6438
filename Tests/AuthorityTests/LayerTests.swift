// A zone under a layer (service writes without compiling the zone) must
// answer, transfer and differ exactly as the same content compiled afresh.

import Foundation
import Testing
import DNS
import Zone
@testable import Authority

private let dynZone = """
$TTL 300
@        SOA   ns1 hostmaster 10 3600 600 1209600 300
@        NS    ns1
@        MX    10 mail
ns1      A     192.0.2.1
mail     A     192.0.2.25
web      A     10.0.0.1
web      A     10.0.0.2
db       AAAA  2001:db8::5
old      A     10.0.0.9
*        A     10.9.9.9
deep     TXT   "has a child"
x.deep   A     10.0.0.7
"""

private func compiled(_ text: String) throws -> CompiledZone {
    let z = try Zone.parse(Array(text.utf8), file: "dyn", origin: DomainName("dyn.test."))
    return Snapshot.compile(z)!
}

private func soa(_ z: CompiledZone, serial: UInt32) -> SOA {
    guard case .soa(var s) = z.soa else { fatalError() }
    s.serial = serial
    return s
}

private func change(_ owner: String, _ type: RRType?, _ ttl: UInt32, _ addrs: [[UInt8]]) throws -> ZoneLayer.Change {
    ZoneLayer.Change(owner: try DomainName(owner + ".dyn.test."), type: type, ttl: ttl, rdata: addrs)
}

/// The answer's sections as sorted text (order within an RRset is not fixed).
private func shape(_ a: Answerer, _ name: String, _ type: RRType) throws -> String {
    let m = try ask(a, name, type)
    func t(_ rs: [ResourceRecord]) -> String { rs.map { $0.description }.sorted().joined(separator: "|") }
    return "\(m.rcode) aa=\(m.header.aa) an=\(t(m.answers)) ns=\(t(m.authority)) ad=\(t(m.additional))"
}

@Suite struct LayerTests {
    /// web changed, db gone, new added, old turned AAAA: layered vs compiled afresh.
    func pair() throws -> (layered: CompiledZone, fresh: CompiledZone, base: CompiledZone, first: CompiledZone) {
        let base = try compiled(dynZone)
        let first = CompiledZone(base, soa: soa(base, serial: 11), changes: [
            try change("web", .a, 60, [[10, 0, 0, 3]]),
            try change("db", nil, 0, []),
        ])
        let second = CompiledZone(first, soa: soa(base, serial: 12), changes: [
            try change("new", .aaaa, 30, [[0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [7]]),
            try change("old", .aaaa, 300, [[0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [9]]),
            try change("web", .a, 60, [[10, 0, 0, 3], [10, 0, 0, 4]]),
        ])
        var text = dynZone.replacingOccurrences(of: "10 3600 600", with: "12 3600 600")
        text = text.replacingOccurrences(of: "web      A     10.0.0.1\nweb      A     10.0.0.2\n",
                                         with: "web 60 A 10.0.0.3\nweb 60 A 10.0.0.4\n")
        text = text.replacingOccurrences(of: "db       AAAA  2001:db8::5\n", with: "")
        text = text.replacingOccurrences(of: "old      A     10.0.0.9\n", with: "old AAAA 2001:db8::9\nnew 30 AAAA 2001:db8::7\n")
        return (second, try compiled(text), base, first)
    }

    @Test func answersAsTheZoneCompiledAfresh() throws {
        let (layered, fresh, _, _) = try pair()
        let a = Answerer(snapshot: Snapshot(sources: [.compiled(layered)]))
        let b = Answerer(snapshot: Snapshot(sources: [.compiled(fresh)]))
        var asked = 0
        for name in ["web", "db", "new", "old", "mail", "ns1", "gone", "x.web", "x.db", "deep", "x.deep", "", "a.b.new"] {
            for type in [RRType.a, .aaaa, .txt, .mx, .soa, .ns, RRType(255), .cname, .ds] {
                let q = (name.isEmpty ? "" : name + ".") + "dyn.test."
                #expect(try shape(a, q, type) == shape(b, q, type), "\(q) \(type)")
                asked += 1
            }
        }
        #expect(asked == 117)
        // The new serial answers, and the negative TTL comes from the new SOA.
        let m = try ask(a, "dyn.test.", .soa)
        if case .soa(let s)? = m.answers.first?.rdata { #expect(s.serial == 12) } else { Issue.record("no SOA") }
    }

    @Test func transfersTheMergedZone() throws {
        let (layered, fresh, _, _) = try pair()
        let l = layered.records().map { $0.description }
        let f = fresh.records().map { $0.description }
        #expect(l.first == f.first)
        #expect(l.sorted() == f.sorted())
        #expect(l.count == f.count)
    }

    @Test func journalDifferenceComesFromTheChangedOwnersAlone() throws {
        let (second, _, base, first) = try pair()
        let quick = try #require(ZoneDiff.layered(old: first, new: second))
        let whole = try #require(ZoneDiff.between(old: first.records(), new: second.records()))
        #expect(quick.fromSerial == 11 && quick.toSerial == 12)
        #expect(quick.removed.map { $0.description }.sorted() == whole.removed.map { $0.description }.sorted())
        #expect(quick.added.map { $0.description }.sorted() == whole.added.map { $0.description }.sorted())
        #expect(quick.added.count == 3 && quick.removed.count == 1)
        // Not one step of the other: no shortcut.
        #expect(ZoneDiff.layered(old: base, new: second) == nil)
        #expect(ZoneDiff.layered(old: second, new: first) == nil)
    }

    @Test func onlyLeafServiceOwnersAreLayerable() throws {
        let base = try compiled(dynZone)
        func ok(_ n: String) throws -> Bool { base.isLayerable(try DomainName(n + "dyn.test.")) }
        #expect(try ok("web.") && ok("db.") && ok("brand-new."))
        #expect(try !ok("mail."))      // an MX target: its additional data is compiled in
        #expect(try !ok("ns1."))       // an NS target
        #expect(try !ok("*."))         // the wildcard
        #expect(try !ok("deep."))      // TXT, and a child below
        #expect(try !ok("a.web."))     // not a child of the apex
        #expect(try !ok(""))           // the apex
    }

    /// Past `recentLimit` owners the recent part folds into the older one;
    /// answers and transfers stay those of the zone compiled afresh.
    @Test func aLayerThatFoldsStillAnswersAsTheCompiledZone() throws {
        let base = try compiled(dynZone)
        var z = base
        var want: [String: [UInt8]] = [:]
        var serial: UInt32 = 10
        for batch in 0..<30 {
            var changes: [ZoneLayer.Change] = []
            for k in 0..<100 {
                let i = batch * 100 + k
                // Every seventh batch rewrites older names; some are deleted.
                let n = batch % 7 == 6 ? (i * 31) % (batch * 100) : i
                let name = "n\(n)"
                if n % 13 == 5 {
                    changes.append(try change(name, nil, 0, []))
                    want[name] = nil
                } else {
                    let addr: [UInt8] = [10, UInt8(batch), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
                    changes.append(try change(name, .a, 60, [addr]))
                    want[name] = addr
                }
            }
            serial += 1
            z = CompiledZone(z, soa: soa(base, serial: serial), changes: changes)
        }
        #expect(z.layer?.older != nil)
        var text = dynZone.replacingOccurrences(of: "10 3600 600", with: "\(serial) 3600 600") + "\n"
        for (name, a) in want.sorted(by: { $0.key < $1.key }) { text += "\(name) 60 A \(a.map { String($0) }.joined(separator: "."))\n" }
        let fresh = try compiled(text)
        #expect(z.records().map { $0.description }.sorted() == fresh.records().map { $0.description }.sorted())
        let a = Answerer(snapshot: Snapshot(sources: [.compiled(z)]))
        let b = Answerer(snapshot: Snapshot(sources: [.compiled(fresh)]))
        for n in [0, 5, 18, 99, 100, 1023, 1024, 1500, 2047, 2999, 3000, 4000] {
            #expect(try shape(a, "n\(n).dyn.test.", .a) == shape(b, "n\(n).dyn.test.", .a), "n\(n)")
        }
        #expect(try shape(a, "web.dyn.test.", .a) == shape(b, "web.dyn.test.", .a))
    }
}
