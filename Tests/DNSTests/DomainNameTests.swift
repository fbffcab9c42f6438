// Owned names: presentation both ways, limits, comparison, ordering, hashing,
// and the borrowed view agreeing with the owned form.

import Testing
@testable import DNS

@Suite struct DomainNameTests {
    @Test func parsesAbsoluteRelativeRootAndOrigin() throws {
        let origin = try DomainName("example.com.")
        #expect(try DomainName("www.example.com.").wire == [3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0])
        #expect(try DomainName("www", origin: origin).description == "www.example.com.")
        #expect(try DomainName("@", origin: origin) == origin)
        #expect(try DomainName(".") == .root)
        #expect(DomainName.root.description == ".")
        #expect(DomainName.root.wire == [0])
        // Without an origin a relative name is completed with the root.
        #expect(try DomainName("a.b").description == "a.b.")
    }

    @Test func escapesBothWays() throws {
        let n = try DomainName(#"a\.b.c\\d.\065\032x."#)
        #expect(n.labels == [Array("a.b".utf8), Array(#"c\d"#.utf8), [65, 32, 120]])
        #expect(n.description == #"a\.b.c\\d.A\032x."#)
        #expect(try DomainName(n.description) == n)
        // Every byte value survives a round trip.
        let all = try DomainName(wire: [63] + (0..<63).map { UInt8($0 * 4 + 1) } + [3, 0, 0xFF, 0x2E, 0])
        #expect(try DomainName(all.description) == all)
        #expect(try DomainName(all.description).wire == all.wire)
    }

    @Test(arguments: ["", "a..b.", ".a.", "..", #"a\"#, #"a\25"#, #"a\256."#, "a.b..", ".."])
    func rejectsBadText(_ text: String) {
        #expect(throws: DNSError.self) { try DomainName(text) }
    }

    @Test func labelAndNameLimits() throws {
        let l63 = String(repeating: "a", count: 63)
        #expect(try DomainName("\(l63).").wire.count == 65)
        #expect(throws: DNSError.labelTooLong(offset: -1)) { try DomainName("\(l63)a.") }
        // 4 × 63-octet labels = 4 × 64 + 1 = 257 octets: too long.
        let long = [String](repeating: l63, count: 4).joined(separator: ".") + "."
        #expect(throws: DNSError.nameTooLong(offset: -1)) { try DomainName(long) }
        // 3 × 64 + 62 + 1 = 255 octets: the maximum.
        let max = [String](repeating: l63, count: 3).joined(separator: ".") + "." + String(repeating: "b", count: 61) + "."
        #expect(try DomainName(max).wire.count == 255)
        #expect(throws: DNSError.self) { try DomainName("x." + max) }
        // Relative names are checked after the origin is appended.
        let origin = try DomainName(max)
        #expect(throws: DNSError.nameTooLong(offset: -1)) { try DomainName("a", origin: origin) }
    }

    @Test func wireValidation() {
        #expect(throws: DNSError.self) { try DomainName(wire: []) }
        #expect(throws: DNSError.self) { try DomainName(wire: [1, 65]) }
        #expect(throws: DNSError.self) { try DomainName(wire: [0xC0, 12]) }
        #expect(throws: DNSError.self) { try DomainName(wire: [0, 0]) }
        #expect(throws: DNSError.self) { try DomainName(wire: [64] + [UInt8](repeating: 97, count: 64) + [0]) }
    }

    @Test func caseInsensitiveEqualityKeepsCase() throws {
        let a = try DomainName("WwW.ExAmPle.COM.")
        let b = try DomainName("www.example.com.")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a.caseInsensitiveHash == b.caseInsensitiveHash)
        #expect(a.description == "WwW.ExAmPle.COM.")
        #expect(a.lowercased.description == "www.example.com.")
        var d: [DomainName: Int] = [b: 1]
        d[a] = 2
        #expect(d.count == 1 && d[b] == 2)
        // Non-ASCII bytes are not case-folded (RFC 4343 §3).
        #expect(try DomainName(#"\200."#) != DomainName(#"\160."#))
    }

    @Test func subdomainParentAndRelative() throws {
        let zone = try DomainName("example.com.")
        let www = try DomainName("WWW.Example.com.")
        #expect(www.isSubdomain(of: zone))
        #expect(zone.isSubdomain(of: zone))
        #expect(zone.isSubdomain(of: .root))
        #expect(!zone.isSubdomain(of: www))
        #expect(!(try DomainName("xexample.com.")).isSubdomain(of: zone))
        #expect(!(try DomainName("example.com.x.")).isSubdomain(of: zone))
        #expect(www.parent == zone)
        #expect(DomainName.root.parent == nil)
        #expect(www.labelCount == 3)
        #expect(www.relativeDescription(to: zone) == "WWW")
        #expect(zone.relativeDescription(to: zone) == "@")
        #expect(try DomainName("other.org.").relativeDescription(to: zone) == "other.org.")
        #expect(try zone.prepending(label: Array("mail".utf8)).description == "mail.example.com.")
        #expect(try DomainName("a.b").appending(zone).description == "a.b.example.com.")
    }

    /// The example ordering of RFC 4034 §6.1.
    @Test func canonicalOrderRFC4034() throws {
        let sorted = [
            "example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
            "z.example.", #"\001.z.example."#, "*.z.example.", #"\200.z.example."#,
        ]
        let names = try sorted.map { try DomainName($0) }
        #expect(names.reversed().sorted() == names)
        for i in 0..<names.count - 1 {
            #expect(names[i] < names[i + 1])
            #expect(!(names[i + 1] < names[i]))
        }
        #expect(DomainName.canonicalCompare(try DomainName("A.example."), try DomainName("a.EXAMPLE.")) == 0)
    }

    @Test func viewAgreesWithOwnedName() throws {
        // "mail" + pointer to "example.com" at offset 16 of a message whose
        // question is www.example.com.
        var msg: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        msg += try DomainName("www.Example.COM.").wire
        msg += [0, 1, 0, 1]
        let second = msg.count
        msg += [4] + Array("MAIL".utf8) + [0xC0, 16]
        let owned = try DomainName("mail.example.com.")
        try msg.withUnsafeBytes { raw in
            var r = ByteReader(raw, offset: second)
            let v = try NameView.read(&r)
            #expect(r.offset == msg.count)
            #expect(v.labelCount == 3)
            #expect(v.wireLength == owned.wire.count)
            #expect(v.equals(owned))
            #expect(v.caseInsensitiveHash == owned.caseInsensitiveHash)
            #expect(v.domainName.description == "MAIL.Example.COM.")
            #expect(!v.equals(try DomainName("mail.example.org.")))
            #expect(!v.equals(try DomainName("mail.example.com.x.")))
            let parent = try #require(v.dropping(labels: 1))
            #expect(parent.equals(try DomainName("example.com.")))
            #expect(v.dropping(labels: 3)?.isRoot == true)
            #expect(v.dropping(labels: 4) == nil)
            var r0 = ByteReader(raw, offset: 12)
            let www = try NameView.read(&r0)
            #expect(www.dropping(labels: 1)?.equals(parent) == true)
            #expect(v.isSubdomain(of: try DomainName("EXAMPLE.com.")))
            #expect(v.isSubdomain(of: .root))
            #expect(v.isSubdomain(of: owned))
            #expect(!v.isSubdomain(of: try DomainName("ail.example.com.")))
            #expect(!v.isSubdomain(of: try DomainName("x.mail.example.com.")))
        }
    }

    @Test func nameTableLooksUpViewsAndEnclosers() throws {
        let t = NameTable<String>(capacity: 2)
        for (i, n) in ["example.com.", "www.example.com.", "b.c.d.", "example.org."].enumerated() {
            t.insert("v\(i)", for: try DomainName(n))
        }
        for i in 0..<100 { t.insert("x\(i)", for: try DomainName("h\(i).example.net.")) }
        #expect(t.count == 104)
        #expect(t[try DomainName("WWW.EXAMPLE.COM.")] == "v1")
        #expect(t.insert("again", for: try DomainName("b.C.d.")) == "v2")
        #expect(t.count == 104)
        var msg: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        msg += try DomainName("a.b.WWW.Example.Com.").wire
        try msg.withUnsafeBytes { raw in
            var r = ByteReader(raw, offset: 12)
            let v = try NameView.read(&r)
            #expect(t[v] == nil)
            let hit = try #require(t.closestEncloser(of: v))
            #expect(hit.value == "v1")
            #expect(hit.labelsDropped == 2)
        }
        #expect(t[try DomainName("h57.example.net.")] == "x57")
    }

    @Test func typeAndClassMnemonics() {
        #expect(RRType(mnemonic: "aaaa") == .aaaa)
        #expect(RRType(mnemonic: "TYPE65534")?.rawValue == 65534)
        #expect(RRType(mnemonic: "type1") == .a)
        #expect(RRType(mnemonic: "TYPE65536") == nil)
        #expect(RRType(mnemonic: "TYPE") == nil)
        #expect(RRType(mnemonic: "BOGUS") == nil)
        #expect(RRType(65534).mnemonic == "TYPE65534")
        #expect(RRType.caa.mnemonic == "CAA")
        #expect(RRClass(mnemonic: "CLASS3") == .ch)
        #expect(RRClass(mnemonic: "chaos") == .ch)
        #expect(RRClass(42).mnemonic == "CLASS42")
        #expect(RCode.badVers.headerBits == 0 && RCode.badVers.extendedBits == 1)
        #expect(RCode(header: 0, extended: 1) == .badVers)
        #expect(RCode.nxDomain.description == "NXDOMAIN")
        #expect(Opcode.notify.description == "NOTIFY")
    }
}
