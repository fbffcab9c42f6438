// Answers checked by decoding them: flags, sections, TTLs.

import Testing
import DNS
import Zone
@testable import Authority

let exampleZone = """
$TTL 3600
@        IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@        NS    ns1
@        NS    ns2.other.net.
@        MX    10 mail
ns1      A     192.0.2.1
www      A     192.0.2.10
www      A     192.0.2.11
www      AAAA  2001:db8::10
mail     A     192.0.2.25
alias    CNAME alias2
alias2   CNAME www
out      CNAME www.other.net.
a.b.c    TXT   "deep"
*.wild   A     192.0.2.50
*.wild   TXT   "wild"
x.wild   A     192.0.2.51
a.e.wild A     192.0.2.52
*.wc     CNAME www
child    NS    ns.child
child    NS    ns.other.net.
ns.child A     192.0.2.53
loop1    CNAME loop2
loop2    CNAME loop1
"""

func bigZone() -> String {
    var s = "$TTL 60\n@ SOA ns1.big.test. h.big.test. 1 2 3 4 5\n@ NS ns1\nns1 A 10.0.0.1\n"
    s += "* TXT \"apex wildcard\"\nsub NS ns.elsewhere.net.\ne.f A 10.0.0.2\n"
    for i in 0..<40 { s += "big TXT \"record number \(i) padding padding\"\n" }
    return s
}

func makeSnapshot() throws -> Snapshot {
    var chain = exampleZone + "\n"
    for i in 0..<12 { chain += "c\(i) CNAME c\(i + 1)\n" }
    let z1 = try Zone.parse(Array(chain.utf8), file: "example.com", origin: DomainName("example.com."))
    let z2 = try Zone.parse(Array(bigZone().utf8), file: "big.test", origin: DomainName("big.test."))
    return Snapshot(zones: [z1, z2])
}

func queryBytes(_ name: String, _ type: RRType, cls: RRClass = .in, edns: EDNS? = nil,
                opcode: Opcode = .query, id: UInt16 = 0x1234) throws -> [UInt8] {
    var h = Header(id: id)
    h.rd = true
    h.opcode = opcode
    let m = Message(header: h, questions: [Question(name: try DomainName(name), type: type, rrClass: cls)], edns: edns)
    return try m.encode()
}

func respond(_ a: Answerer, _ q: [UInt8], udp: Bool = true) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 65535)
    let n = q.withUnsafeBytes { qb in
        out.withUnsafeMutableBytes { ob in a.respond(to: qb, into: ob, udp: udp) }
    }
    return Array(out[0..<n])
}

func ask(_ a: Answerer, _ name: String, _ type: RRType, cls: RRClass = .in, edns: EDNS? = nil,
         udp: Bool = true) throws -> Message {
    let r = respond(a, try queryBytes(name, type, cls: cls, edns: edns), udp: udp)
    return try Message(bytes: r)
}

func rdatas(_ rrs: [ResourceRecord], _ type: RRType) -> [RData] { rrs.filter { $0.type == type }.map { $0.rdata } }

@Suite struct AnswererTests {
    let a: Answerer
    init() throws {
        a = Answerer(snapshot: try makeSnapshot(), nsid: Array("ns-a".utf8), version: Array("dnsbox 1".utf8))
    }

    @Test func exactHit() throws {
        let m = try ask(a, "www.example.com.", .a)
        #expect(m.header.qr && m.header.aa && !m.header.tc && m.header.rd)
        #expect(m.header.id == 0x1234)
        #expect(m.rcode == .noError)
        #expect(m.answers.count == 2)
        #expect(Set(m.answers.map { $0.rdata.wireBytes }) == Set([RData.a(0xC000_020A).wireBytes, RData.a(0xC000_020B).wireBytes]))
        #expect(m.answers.allSatisfy { $0.ttl == 3600 && $0.owner == (try! DomainName("www.example.com.")) })
        #expect(m.authority.isEmpty)
        #expect(m.edns == nil)
    }

    @Test func cnameChain() throws {
        let m = try ask(a, "alias.example.com.", .a)
        #expect(m.header.aa && m.rcode == .noError)
        #expect(m.answers.map { $0.type } == [.cname, .cname, .a, .a])
        #expect(m.answers[1].owner == (try DomainName("alias2.example.com.")))
        #expect(m.answers[2].owner == (try DomainName("www.example.com.")))
    }

    @Test func cnameOutOfZoneEndsChain() throws {
        let m = try ask(a, "out.example.com.", .a)
        #expect(m.rcode == .noError && m.header.aa)
        #expect(m.answers.map { $0.type } == [.cname])
        #expect(m.authority.isEmpty)
    }

    @Test func cnameQueriedDirectly() throws {
        let m = try ask(a, "alias.example.com.", .cname)
        #expect(m.answers.map { $0.type } == [.cname])
    }

    @Test func nxdomainWithSOAAndNegativeTTL() throws {
        let m = try ask(a, "nope.example.com.", .a)
        #expect(m.rcode == .nxDomain && m.header.aa)
        #expect(m.answers.isEmpty)
        #expect(m.authority.count == 1)
        #expect(m.authority[0].type == .soa && m.authority[0].ttl == 300)
        #expect(m.authority[0].owner == (try DomainName("example.com.")))
    }

    @Test func nodata() throws {
        let m = try ask(a, "www.example.com.", .txt)
        #expect(m.rcode == .noError && m.header.aa && m.answers.isEmpty)
        #expect(m.authority.map { $0.type } == [.soa])
        #expect(m.authority[0].ttl == 300)
    }

    @Test func emptyNonTerminalIsNodata() throws {
        for name in ["b.c.example.com.", "c.example.com.", "e.wild.example.com."] {
            let m = try ask(a, name, .a)
            #expect(m.rcode == .noError, "\(name)")
            #expect(m.answers.isEmpty && m.authority.map { $0.type } == [.soa], "\(name)")
        }
    }

    @Test func wildcardAnswer() throws {
        let m = try ask(a, "Foo.Wild.example.com.", .a)
        #expect(m.rcode == .noError && m.header.aa)
        #expect(m.answers.count == 1)
        #expect(m.answers[0].owner == (try DomainName("foo.wild.example.com.")))
        #expect(m.answers[0].rdata == .a(0xC000_0232))
        // The owner keeps the query's case.
        #expect(m.answers[0].owner.description.hasPrefix("Foo.Wild"))
        let deeper = try ask(a, "a.b.wild.example.com.", .txt)
        #expect(deeper.answers.map { $0.rdata } == [.txt([Array("wild".utf8)])])
    }

    @Test func wildcardNodata() throws {
        let m = try ask(a, "foo.wild.example.com.", .mx)
        #expect(m.rcode == .noError && m.answers.isEmpty)
        #expect(m.authority.map { $0.type } == [.soa])
    }

    @Test func wildcardDoesNotMatchExistingNames() throws {
        let m = try ask(a, "x.wild.example.com.", .txt)
        #expect(m.rcode == .noError && m.answers.isEmpty)
        let hit = try ask(a, "x.wild.example.com.", .a)
        #expect(hit.answers.map { $0.rdata } == [.a(0xC000_0233)])
        // Below an empty non-terminal the wildcard does not apply.
        let blocked = try ask(a, "z.e.wild.example.com.", .a)
        #expect(blocked.rcode == .nxDomain)
    }

    @Test func wildcardCNAME() throws {
        let m = try ask(a, "q.wc.example.com.", .a)
        #expect(m.answers.map { $0.type } == [.cname, .a, .a])
        #expect(m.answers[0].owner == (try DomainName("q.wc.example.com.")))
    }

    @Test func delegationReferralWithGlue() throws {
        for name in ["child.example.com.", "host.deep.child.example.com."] {
            let m = try ask(a, name, .a)
            #expect(m.rcode == .noError)
            #expect(!m.header.aa, "\(name)")
            #expect(m.answers.isEmpty)
            #expect(m.authority.count == 2 && m.authority.allSatisfy { $0.type == .ns })
            #expect(m.authority[0].owner == (try DomainName("child.example.com.")))
            #expect(m.additional.map { $0.rdata } == [.a(0xC000_0235)])
        }
        // Glue itself is not served as authoritative data.
        let g = try ask(a, "ns.child.example.com.", .a)
        #expect(!g.header.aa && g.answers.isEmpty)
    }

    @Test func additionalForMX() throws {
        let m = try ask(a, "example.com.", .mx)
        #expect(m.answers.count == 1)
        #expect(m.additional.map { $0.rdata } == [.a(0xC000_0219)])
        let ns = try ask(a, "example.com.", .ns)
        #expect(ns.header.aa && ns.answers.count == 2)
        #expect(ns.additional.map { $0.rdata } == [.a(0xC000_0201)])
    }

    @Test func outOfZoneRefused() throws {
        let m = try ask(a, "www.example.org.", .a)
        #expect(m.rcode == .refused && !m.header.aa && m.answers.isEmpty)
        #expect(m.questions.count == 1)
    }

    @Test func formErrGarbage() throws {
        var garbage: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x3F, 1, 2]
        var r = try Message(bytes: respond(a, garbage))
        #expect(r.header.id == 0xABCD && r.header.qr && r.rcode == .formErr)
        // Two questions.
        garbage = try queryBytes("www.example.com.", .a)
        garbage[5] = 2
        garbage += garbage[12...]
        r = try Message(bytes: respond(a, garbage))
        #expect(r.rcode == .formErr && r.questions.isEmpty)
        // Runts and responses are dropped.
        #expect(respond(a, [1, 2, 3]).isEmpty)
        var resp = try queryBytes("www.example.com.", .a)
        resp[2] |= 0x80
        #expect(respond(a, resp).isEmpty)
    }

    @Test func notImpOpcode() throws {
        let m = try Message(bytes: respond(a, try queryBytes("example.com.", .soa, opcode: Opcode(2))))
        #expect(m.rcode == .notImp && m.answers.isEmpty && m.header.opcode == Opcode(2))
    }

    @Test func badVers() throws {
        let m = try ask(a, "www.example.com.", .a, edns: EDNS(udpPayloadSize: 4096, version: 1))
        #expect(m.rcode == .badVers)
        #expect(m.answers.isEmpty)
        #expect(m.edns?.version == 0)
    }

    @Test func ednsAndNSID() throws {
        let m = try ask(a, "www.example.com.", .a,
                        edns: EDNS(udpPayloadSize: 4096, dnssecOK: true, options: [EDNSOption(code: 3, data: [])]))
        #expect(m.edns?.udpPayloadSize == 1232 && m.edns?.dnssecOK == true)
        #expect(m.edns?.nsid == Array("ns-a".utf8))
        #expect(m.answers.count == 2)
        let plain = try ask(a, "www.example.com.", .a, edns: EDNS(udpPayloadSize: 4096))
        #expect(plain.edns != nil && plain.edns?.nsid == nil && plain.edns?.dnssecOK == false)
    }

    @Test func truncationAtRecordBoundary() throws {
        let q = try queryBytes("big.big.test.", .txt)
        let udp = respond(a, q)
        #expect(udp.count <= 512)
        let m = try Message(bytes: udp)
        #expect(m.header.tc && m.header.aa)
        #expect(m.answers.count > 0 && m.answers.count < 40)
        #expect(m.questions.count == 1)
        let tcp = try Message(bytes: respond(a, q, udp: false))
        #expect(!tcp.header.tc && tcp.answers.count == 40)
        // With EDNS the OPT survives truncation.
        let e = try ask(a, "big.big.test.", .txt, edns: EDNS(udpPayloadSize: 700))
        #expect(e.header.tc && e.edns != nil)
        #expect(try respond(a, queryBytes("big.big.test.", .txt, edns: EDNS(udpPayloadSize: 700))).count <= 700)
    }

    @Test func mixedCaseEchoed() throws {
        let q = try queryBytes("WwW.ExAmPlE.cOm.", .a)
        let m = try Message(bytes: respond(a, q))
        #expect(m.questions[0].name.description == "WwW.ExAmPlE.cOm.")
        #expect(m.answers[0].owner.description == "WwW.ExAmPlE.cOm.")
    }

    @Test func chaos() throws {
        let v = try ask(a, "version.bind.", .txt, cls: .ch)
        #expect(v.rcode == .noError && v.answers.count == 1)
        #expect(v.answers[0].rdata == .txt([Array("dnsbox 1".utf8)]) && v.answers[0].rrClass == .ch)
        let h = try ask(a, "hostname.bind.", .txt, cls: .ch)
        #expect(h.answers.first?.rdata == .txt([Array("ns-a".utf8)]))
        let i = try ask(a, "ID.SERVER.", .txt, cls: .ch)
        #expect(i.answers.count == 1)
        let other = try ask(a, "authors.bind.", .txt, cls: .ch)
        #expect(other.rcode == .refused)
    }

    @Test func any() throws {
        let m = try ask(a, "www.example.com.", RRType(255))
        #expect(m.rcode == .noError && m.header.aa)
        #expect(!m.answers.isEmpty)
        #expect(Set(m.answers.map { $0.type.rawValue }).count == 1)
    }

    @Test func cnameLoopEnds() throws {
        let m = try ask(a, "loop1.example.com.", .a)
        #expect(m.rcode == .noError && m.header.aa)
        // As Knot does: each CNAME once, then the chain stops.
        #expect(m.answers.map { $0.owner } == [try DomainName("loop1.example.com."), try DomainName("loop2.example.com.")])
    }

    @Test func longChainIsCut() throws {
        let m = try ask(a, "c0.example.com.", .a)
        #expect(m.rcode == .noError && m.answers.count == Answerer.maxChain)
    }

    @Test func apexWildcardAndDelegationBlocksIt() throws {
        let w = try ask(a, "anything.big.test.", .txt)
        #expect(w.answers.map { $0.rdata } == [.txt([Array("apex wildcard".utf8)])])
        // Below a delegation the wildcard does not apply: referral instead.
        let r = try ask(a, "zz.sub.big.test.", .txt)
        #expect(!r.header.aa && r.answers.isEmpty && r.authority.allSatisfy { $0.type == .ns })
        // An empty non-terminal is not covered by it, nor is a name below one.
        let ent = try ask(a, "f.big.test.", .txt)
        #expect(ent.rcode == .noError && ent.answers.isEmpty)
        let e = try ask(a, "zz.f.big.test.", .txt)
        #expect(e.rcode == .nxDomain && e.authority.first?.ttl == 5)
    }

    @Test func dsAtDelegationIsParentSide() throws {
        let m = try ask(a, "child.example.com.", .ds)
        #expect(m.header.aa && m.rcode == .noError && m.answers.isEmpty)
        #expect(m.authority.map { $0.type } == [.soa])
    }

    @Test func dsAtChildApexIsAnsweredByServedParent() throws {
        let parent = """
        $TTL 300
        @ SOA ns1 h 7 3600 600 86400 60
        @ NS ns1
        ns1 A 192.0.2.1
        signed NS ns1.signed
        signed DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
        ns1.signed A 192.0.2.2
        plain NS ns1.signed
        """
        let child = "$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.2\n"
        let p = try Zone.parse(Array(parent.utf8), file: "p", origin: DomainName("example."))
        let c1 = try Zone.parse(Array(child.utf8), file: "c1", origin: DomainName("signed.example."))
        let c2 = try Zone.parse(Array(child.utf8), file: "c2", origin: DomainName("plain.example."))
        let a = Answerer(snapshot: Snapshot(zones: [c1, p, c2]))
        let ds = try ask(a, "signed.example.", .ds)
        #expect(ds.header.aa && ds.rcode == .noError && ds.answers.map { $0.type } == [.ds])
        // No DS in the parent: NODATA with the parent's SOA, not the child's.
        let none = try ask(a, "plain.example.", .ds)
        #expect(none.header.aa && none.answers.isEmpty)
        let parentName = try DomainName("example."), childName = try DomainName("plain.example.")
        #expect(none.authority.map { $0.owner } == [parentName])
        // Other types at the child's apex stay the child's.
        let soa = try ask(a, "plain.example.", .soa)
        #expect(soa.answers.map { $0.owner } == [childName])
        // A parent without the delegation (no cut): the child answers.
        let c3 = try Zone.parse(Array(child.utf8), file: "c3", origin: DomainName("nocut.example."))
        let nocut = try ask(Answerer(snapshot: Snapshot(zones: [c3, p])), "nocut.example.", .ds)
        let nocutName = try DomainName("nocut.example.")
        #expect(nocut.rcode == .noError && nocut.authority.map { $0.owner } == [nocutName])
        // Without the parent, the child answers DS for itself.
        let alone = Answerer(snapshot: Snapshot(zones: [c2]))
        let own = try ask(alone, "plain.example.", .ds)
        #expect(own.answers.isEmpty && own.authority.map { $0.owner } == [childName])
    }

    @Test func apexSOA() throws {
        let m = try ask(a, "example.com.", .soa)
        #expect(m.answers.count == 1 && m.answers[0].ttl == 3600)
    }
}
