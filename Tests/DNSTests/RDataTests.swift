// RDATA: presentation → wire → presentation for every type, the generic
// RFC 3597 form, and the per-type rules (TXT chunks, CAA, AAAA text form).

import Testing
@testable import DNS

/// Decodes `wire` as the RDATA of `type` (names uncompressed).
func decodeRData(_ type: RRType, _ wire: [UInt8]) throws -> RData {
    try wire.withUnsafeBytes { raw in
        var r = ByteReader(raw)
        return try RData.read(type: type, rdLength: raw.count, from: &r)
    }
}

@Suite struct RDataTests {
    /// (type, input text, canonical output text, wire bytes)
    static let cases: [(String, String, String, [UInt8])] = [
        ("A", "192.0.2.1", "192.0.2.1", [192, 0, 2, 1]),
        ("AAAA", "2001:DB8::1", "2001:db8::1", [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]),
        ("AAAA", "::", "::", [UInt8](repeating: 0, count: 16)),
        ("AAAA", "::ffff:192.0.2.1", "::ffff:192.0.2.1", [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 192, 0, 2, 1]),
        ("NS", "ns1", "ns1.example.com.", [3, 110, 115, 49, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]),
        ("CNAME", "www.example.net.", "www.example.net.", [3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 110, 101, 116, 0]),
        ("PTR", "@", "example.com.", [7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]),
        ("MX", "10 mail", "10 mail.example.com.", [0, 10, 4, 109, 97, 105, 108, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]),
        ("SOA", "ns1 hostmaster 2024010101 2h 1h 2w 300",
         "ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300",
         [3, 110, 115, 49, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0,
          10, 104, 111, 115, 116, 109, 97, 115, 116, 101, 114, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0,
          0x78, 0xA3, 0xF1, 0x75, 0, 0, 0x1C, 0x20, 0, 0, 0x0E, 0x10, 0, 0x12, 0x75, 0, 0, 0, 1, 0x2C]),
        ("TXT", #""v=spf1 -all" plain "" "q\"\\\009\195""#, #""v=spf1 -all" "plain" "" "q\"\\\009\195""#,
         [11] + Array("v=spf1 -all".utf8) + [5] + Array("plain".utf8) + [0] + [5, 113, 34, 92, 9, 195]),
        ("SRV", "10 60 5060 sip", "10 60 5060 sip.example.com.",
         [0, 10, 0, 60, 0x13, 0xC4, 3, 115, 105, 112, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]),
        ("CAA", #"0 issue "letsencrypt.org""#, #"0 issue "letsencrypt.org""#,
         [0, 5] + Array("issue".utf8) + Array("letsencrypt.org".utf8)),
        ("CAA", #"128 iodef "mailto:a@b.c; x""#, #"128 iodef "mailto:a@b.c; x""#,
         [128, 5] + Array("iodef".utf8) + Array("mailto:a@b.c; x".utf8)),
        ("TYPE65534", ##"\# 3 abcdef"##, ##"\# 3 ABCDEF"##, [0xab, 0xcd, 0xef]),
        ("TYPE260", ##"\# 0"##, ##"\# 0"##, []),
        ("HINFO", ##"\# 4 01 41 01 42"##, ##"\# 4 01410142"##, [1, 65, 1, 66]),
    ]

    @Test(arguments: 0..<cases.count)
    func presentationWirePresentation(_ i: Int) throws {
        let (typeName, input, output, wire) = Self.cases[i]
        let type = try #require(RRType(mnemonic: typeName))
        let origin = try DomainName("example.com.")
        let rdata = try RData(type: type, text: input, origin: origin)
        #expect(rdata.type == type)
        #expect(rdata.wireBytes == wire)
        #expect(rdata.presentation == output)
        // Back from wire and from the printed text.
        #expect(try decodeRData(type, wire) == rdata)
        #expect(try RData(type: type, text: output) == rdata)
        // The generic form is accepted for every type (RFC 3597 §5).
        let generic = RData.genericPresentation(wire)
        #expect(try RData(type: type, text: generic) == rdata)
    }

    @Test func aaaaTextFormRFC5952() throws {
        let cases = [
            ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),       // a single 0 is not ::
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),                // the longest run
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),          // the first of equal runs
            ("1::", "1::"),
            ("::1", "::1"),
            ("fe80::1:2:3:4", "fe80::1:2:3:4"),
            ("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"),
            ("::192.0.2.1", "::c000:201"),
        ]
        for (input, want) in cases {
            let r = try RData(type: .aaaa, text: input)
            #expect(r.presentation == want, "\(input)")
        }
        for bad in ["", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::", "1:2:3:4:5:6:7:8::",
                    "::1.2.3", "1:", ":1"] {
            #expect(throws: DNSError.self, "\(bad)") { try RData(type: .aaaa, text: bad) }
        }
    }

    @Test func badPresentationIsRejected() {
        let bad: [(RRType, String)] = [
            (.a, "256.0.0.1"), (.a, "1.2.3"), (.a, "1.2.3.4.5"), (.a, "1.2.3.a"), (.a, ""), (.a, "1.2.3.4 5"),
            (.mx, "10"), (.mx, "65536 mail"), (.mx, "x mail"), (.soa, "a b 1 2 3 4"), (.soa, "a b 1 2 3 4 x"),
            (.srv, "1 2 3"), (.txt, ""), (.txt, #""unterminated"#), (.caa, #"0 "issue" "x""#), (.caa, #"0 is-sue "x""#),
            (.caa, "256 issue x"), (RRType(65534), "abcdef"), (RRType(65534), ##"\# 2 abcdef"##), (RRType(65534), ##"\# 2 abc"##),
            (.a, ##"\# 3 010203"##), (.ns, ##"\# 1 00 00"##), (.ns, ##"\# 2 c00c"##),
        ]
        for (t, text) in bad {
            #expect(throws: DNSError.self, "\(t) \(text)") { try RData(type: t, text: text) }
        }
    }

    @Test func longTXTIsSplitInto255OctetChunks() throws {
        let long = String(repeating: "x", count: 600)
        let r = try RData(type: .txt, text: "\"\(long)\"")
        guard case .txt(let strings) = r else {
            Issue.record("not TXT")
            return
        }
        #expect(strings.map(\.count) == [255, 255, 90])
        #expect(r.wireBytes.count == 603)
        #expect(try decodeRData(.txt, r.wireBytes) == r)
    }

    @Test func wireDecodingChecksRDLength() throws {
        #expect(throws: DNSError.self) { try decodeRData(.a, [1, 2, 3]) }
        #expect(throws: DNSError.self) { try decodeRData(.a, [1, 2, 3, 4, 5]) }
        #expect(throws: DNSError.self) { try decodeRData(.aaaa, [1, 2, 3, 4]) }
        #expect(throws: DNSError.self) { try decodeRData(.txt, []) }
        #expect(throws: DNSError.self) { try decodeRData(.txt, [3, 97]) }
        #expect(throws: DNSError.self) { try decodeRData(.mx, [0, 1, 0, 0]) }
        #expect(throws: DNSError.self) { try decodeRData(.caa, [0, 5, 0x61]) } // tag past RDLENGTH
        // An empty (invalid) tag is carried as opaque data, not refused.
        #expect(try decodeRData(.caa, [0, 0]) == .unknown(type: .caa, data: [0, 0]))
        #expect(throws: DNSError.self) { try decodeRData(.soa, [0, 0, 1, 2, 3]) }
        #expect(throws: DNSError.self) { try decodeRData(.srv, [0, 1, 0, 2, 0, 3]) }
        #expect(throws: Never.self) { _ = try? decodeRData(RRType(99), []) }
    }

    @Test func presentationHelpers() throws {
        #expect(Presentation.ttl("1h30m") == 5400)
        #expect(Presentation.ttl("1W") == 604_800)
        #expect(Presentation.ttl("86400") == 86400)
        #expect(Presentation.ttl("4294967296") == nil)
        #expect(Presentation.ttl("1x") == nil)
        #expect(Presentation.ipv4("10.0.0.255") == 0x0A00_00FF)
        #expect(Presentation.ipv4(0xC000_0201) == "192.0.2.1")
        let v6 = try #require(Presentation.ipv6("2001:db8::"))
        #expect(Presentation.ipv6(hi: v6.hi, lo: v6.lo) == "2001:db8::")
        #expect(Presentation.hex([0xAB, 1], uppercase: true) == "AB01")
        let f = try Presentation.fields(#"a "b c" ( d ) ; comment"#)
        #expect(f == [PresentationField("a"), PresentationField("b c", quoted: true), PresentationField("d")])
    }

    @Test func recordLines() throws {
        let origin = try DomainName("example.com.")
        let r = try ResourceRecord("www 300 IN A 192.0.2.1", origin: origin)
        #expect(r.description == "www.example.com. 300 IN A 192.0.2.1")
        let s = try ResourceRecord("@ IN 1h MX 10 mail", origin: origin)
        #expect(s.description == "example.com. 3600 IN MX 10 mail.example.com.")
        let t = try ResourceRecord("x CH TXT \"a b\"", origin: origin, defaultTTL: 5)
        #expect(t.description == #"x.example.com. 5 CH TXT "a b""#)
        #expect(throws: DNSError.self) { try ResourceRecord("www 300 IN", origin: origin) }
        #expect(throws: DNSError.self) { try ResourceRecord("www 300 IN BOGUS x", origin: origin) }
    }
}

@Suite struct CAARegressionTests {
    /// Found by the DNS fuzzer: a CAA tag with non-ASCII bytes decoded into a
    /// typed CAA whose presentation could not be parsed back. It is now
    /// carried as opaque data, printed and re-read with the generic form.
    @Test func caaWithAnInvalidTagIsCarriedOpaque() throws {
        let rdata: [UInt8] = [0, 5, 0x97, 0x87, 0x73, 0x75, 0x65] + Array("letsencrypt.org".utf8)
        var msg: [UInt8] = [0x12, 0x34, 0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x01, 0x01, 0, 1, 0, 0, 0x0e, 0x10]
        msg += [0, UInt8(rdata.count)] + rdata
        let m = try Message(bytes: msg)
        let rd = try #require(m.answers.first?.rdata)
        #expect(rd == .unknown(type: .caa, data: rdata))
        #expect(rd.presentation.hasPrefix("\\# 22 "))
        #expect(try RData(type: .caa, text: rd.presentation) == rd)
        // A valid tag still decodes typed; a tag over 15 characters is refused in text.
        #expect(try RData(type: .caa, text: "0 issue \"ca.example\"") == .caa(flags: 0, tag: Array("issue".utf8), value: Array("ca.example".utf8)))
        #expect(throws: DNSError.self) { try RData(type: .caa, text: "0 abcdefghijklmnop \"x\"") }
    }
}
