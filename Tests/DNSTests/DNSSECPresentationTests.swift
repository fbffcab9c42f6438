// DNSSEC RDATA in presentation form (DS, CDS, DNSKEY, CDNSKEY, RRSIG, NSEC,
// NSEC3, NSEC3PARAM): records from a real signer printed exactly as dig
// prints them, the text forms of dig, kdig and the signer read back to the
// same bytes, type bitmaps, base64/base32hex/hex, signature times, and every
// error a zone file can meet.
//
// Fixtures: a zone signed with BIND 9.18 dnssec-signzone (RSASHA256 ZSK,
// ECDSAP256SHA256 KSK with CDS/CDNSKEY; NSEC, NSEC3 with salt AABBCCDD and
// NSEC3 without salt), served by knotd 3.2 and transferred with
// `dig +nosplit` (text), `dig +unknownformat` (wire) and kdig; plus
// hand-written edge records served and printed the same way.

import Testing
@testable import DNS

/// Bytes of a hex string (test data only).
private func bytes(_ hex: String) -> [UInt8] { hexDecode(Array(hex.utf8)) ?? [] }

@Suite struct DNSSECPresentationTests {
    /// (type, text as `dig +nosplit` prints it, RDATA in hex as `dig +unknownformat` prints it)
    static let signed: [(String, String, String)] = [
        ("DNSKEY", "256 3 8 AwEAAcA/s63Ae4YUY4dmTUsrH3GORqNRFi256XwhBj5SektxSNF57rKy+C/nWvn1xbKHcuveq1NBHnZYq7gqu3n1Chl6Nm9TcsYCkokq//4BiF0XFERo4bnR4JGojElmIPlyXLRMgSHbzDV1gPopCnVoomRLZhEKUtRsCfK3gIqFFcXgmUsdKHaNkIlcSx97HvIiVftGQH3srAD/PBjJjQtGnGfdv0aXjEejF74yrQjPDgj/6OFyxSVrKKBb1Vi3qnlAsL+cN9RQSMRc4jTrC9G+cRIWtbdsnVJ6zrPpwsz/I/7BjuzRdqEKN0s/W17WRWge7zx0AM+ebZyKsYCrlDMRrwU=",
         "0100030803010001C03FB3ADC07B86146387664D4B2B1F718E46A351162DB9E97C21063E527A4B7148D179EEB2B2F82FE75AF9F5C5B28772EBDEAB53411E7658ABB82ABB79F50A197A366F5372C60292892AFFFE01885D17144468E1B9D1E091A88C496620F9725CB44C8121DBCC357580FA290A7568A2644B66110A52D46C09F2B7808A8515C5E0994B1D28768D90895C4B1F7B1EF22255FB46407DECAC00FF3C18C98D0B469C67DDBF46978C47A317BE32AD08CF0E08FFE8E172C5256B28A05BD558B7AA7940B0BF9C37D45048C45CE234EB0BD1BE711216B5B76C9D527ACEB3E9C2CCFF23FEC18EECD176A10A374B3F5B5ED645681EEF3C7400CF9E6D9C8AB180AB943311AF05"),
        ("DNSKEY", "257 3 13 ak+VS4Veg+9l5q4JpGnPmKKbx8GsL3rr10ZTxIcPt+qN6PHuy/XYFnnIi4LOeqG5eDGdmyrWIB7IRDSNJAGbUg==",
         "0101030D6A4F954B855E83EF65E6AE09A469CF98A29BC7C1AC2F7AEBD74653C4870FB7EA8DE8F1EECBF5D81679C88B82CE7AA1B978319D9B2AD6201EC844348D24019B52"),
        ("CDNSKEY", "257 3 13 ak+VS4Veg+9l5q4JpGnPmKKbx8GsL3rr10ZTxIcPt+qN6PHuy/XYFnnIi4LOeqG5eDGdmyrWIB7IRDSNJAGbUg==",
         "0101030D6A4F954B855E83EF65E6AE09A469CF98A29BC7C1AC2F7AEBD74653C4870FB7EA8DE8F1EECBF5D81679C88B82CE7AA1B978319D9B2AD6201EC844348D24019B52"),
        ("CDS", "18098 13 2 C75F3E8C10734EF8FD68CCBE469FF9D1AFD2F6F7B944A8D55B0F6C02CB489845",
         "46B20D02C75F3E8C10734EF8FD68CCBE469FF9D1AFD2F6F7B944A8D55B0F6C02CB489845"),
        ("DS", "12345 13 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766",
         "30390D02E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766"),
        ("DS", "12345 8 1 2BB183AF5F22588179A53B0A98631FAD1A292118", "303908012BB183AF5F22588179A53B0A98631FAD1A292118"),
        ("RRSIG", "SOA 8 2 3600 20240201000000 20240101000000 48691 example.test. Ri7rs7QXbCI7E0XAKODzCg6GDPqN7wdqDKRw8MbZXyKsLze2nprd0B+yymlbo2/0WInAqZ0dPpXiZQ/t41xAX9lWANA2HDHxPHiJe+2zNXSjZ2RFUbwcld6Gy2PVqO5zcFq4m+UqKhcTHg41KTRlHpcAAQEjflNmihZsBbdh0yaVOa9XhlJ02ye9+XuPAx4wnA+4g9so1b0o768vs6rf4DORQU8BLuEAUwN883hhddSEUxA5UcdXTpw3fQLkeS/4CkTy4jPT5v7r70Cx8p18brB5pNm9T9dW6ZH8WH/o/NwZMAR5UViU6ZPoibw3C32oE19qAZmxg5jFKCzZamuplA==",
         "0006080200000E1065BADF0065920080BE33076578616D706C65047465737400462EEBB3B4176C223B1345C028E0F30A0E860CFA8DEF076A0CA470F0C6D95F22AC2F37B69E9ADDD01FB2CA695BA36FF45889C0A99D1D3E95E2650FEDE35C405FD95600D0361C31F13C78897BEDB33574A367644551BC1C95DE86CB63D5A8EE73705AB89BE52A2A17131E0E352934651E97000101237E53668A166C05B761D3269539AF57865274DB27BDF97B8F031E309C0FB883DB28D5BD28EFAF2FB3AADFE03391414F012EE10053037CF3786175D48453103951C7574E9C377D02E4792FF80A44F2E233D3E6FEEBEF40B1F29D7C6EB079A4D9BD4FD756E991FC587FE8FCDC19300479515894E993E889BC370B7DA8135F6A0199B18398C5282CD96A6BA994"),
        ("RRSIG", "DNSKEY 13 2 3600 20240201000000 20240101000000 18098 example.test. hS3ed3T1sVISe2KUaHwHmD0z0gCgJ2yiKTAaxIC6mao/2bDA/ZVRXfclJqQ6BEIQM542POmrzx4d80ubjVAqUQ==",
         "00300D0200000E1065BADF006592008046B2076578616D706C65047465737400852DDE7774F5B152127B6294687C07983D33D200A0276CA229301AC480BA99AA3FD9B0C0FD95515DF72526A43A044210339E363CE9ABCF1E1DF34B9B8D502A51"),
        ("NSEC", "_sip._udp.example.test. NS SOA MX TXT RRSIG NSEC DNSKEY CDS CDNSKEY CAA",
         "045F736970045F756470076578616D706C6504746573740000082201800000038018010140"),
        // The signer keeps the case of the next owner name (RFC 6840 §5.1).
        ("NSEC", "HiGh.example.test. SRV RRSIG NSEC", "0448694768076578616D706C650474657374000006000000004003"),
        ("NSEC3PARAM", "1 0 5 AABBCCDD", "0100000504AABBCCDD"),
        ("NSEC3PARAM", "1 0 0 -", "0100000000"),
        ("NSEC3", "1 1 5 AABBCCDD 3BD0C18RHRBVCKO93MORIK98U3699M68 NS SOA MX TXT RRSIG DNSKEY NSEC3PARAM CDS CDNSKEY CAA",
         "0101000504AABBCCDD141ADA06051B8ED7F653091DB1B95128F0CC94D8C800082201800000029018010140"),
        ("NSEC3", "1 1 5 AABBCCDD 34R3KK0Q8OTM01N5T91EV4K8IK3NV157 NS DS RRSIG",
         "0101000504AABBCCDD1419363A501A463B6006E5EA42EF928895077F84A70006200000000012"),
        // An empty non-terminal: no types at all (RFC 5155 §7.1).
        ("NSEC3", "1 1 5 AABBCCDD R67BE5U9UIVK7ESV9ODUBQKT14TQ6Q7H", "0101000504AABBCCDD14D98EB717C9F4BF43BB9F4E1BE5EA9D093BA368F1"),
        ("NSEC3", "1 0 0 - 3EFOO4JF4EMIHRN9GUGVKQ1L7638PDTS CNAME RRSIG",
         "0100000000141B9F8C126F23AD28EEE987A1FA683539868CB7BC0006040000000002"),
        ("NSEC3", "1 0 0 - V3N2R9CHQLP7TDETOLMMAKFMS81UDCJE", "010000000014F8EE2DA591D5727EB5DDC56D6551F6E203E6B26E"),
        // Hand-written edge records, printed by dig the same way.
        ("RRSIG", "CAA 13 3 1 20240101000000 19700101000000 1 example.test. AQID",
         "01010D030000000165920080000000000001076578616D706C65047465737400010203"),
        ("NSEC", "next.example.test. A MX CAA TYPE1234 TYPE65534 TYPE65535",
         "046E657874076578616D706C6504746573740000024001010140041B000000000000000000000000000000000000000000000000000020FF200000000000000000000000000000000000000000000000000000000000000003"),
        ("NSEC", #"a\.b\032c\255.example.test. NSEC"#, "06612E622063FF076578616D706C650474657374000006000000000001"),
        ("DS", "0 0 0 00", "0000000000"),
        ("CDS", "0 0 0 00", "0000000000"),
        ("DS", "1 1 250 AB", "000101FAAB"),
        ("DS", "65535 255 3 0011223344556677889900112233445566778899001122334455667788990011",
         "FFFFFF030011223344556677889900112233445566778899001122334455667788990011"),
        ("CDNSKEY", "0 3 0 AA==", "0000030000"),
        ("DNSKEY", "65535 255 255 AQ==", "FFFFFFFF01"),
        ("NSEC3PARAM", "0 0 0 0102030405060708090A0B0C0D0E0F", "000000000F0102030405060708090A0B0C0D0E0F"),
        ("NSEC3PARAM", "1 255 65535 FF", "01FFFFFF01FF"),
        ("NSEC3", "1 0 0 - 00000000000000000000000000000000", "0100000000140000000000000000000000000000000000000000"),
        ("NSEC3", "255 255 65535 00 VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV A TYPE300",
         "FFFFFFFF010014FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF0001400106000000000008"),
    ]

    @Test(arguments: 0..<signed.count)
    func printedAsDigPrintsAndReadBack(_ i: Int) throws {
        let (name, text, hex) = Self.signed[i]
        let type = try #require(RRType(mnemonic: name))
        let wire = bytes(hex)
        let fromWire = try decodeRData(type, wire)
        #expect(fromWire == .unknown(type: type, data: wire))
        #expect(fromWire.presentation == text)
        let fromText = try RData(type: type, text: text)
        #expect(fromText == fromWire)
        #expect(fromText.wireBytes == wire)
        // The generic form still works for these types (RFC 3597 §5).
        #expect(try RData(type: type, text: RData.genericPresentation(wire)) == fromWire)
    }

    /// dig prints a time more than 2^31 s from its clock as a date before
    /// 1970 (kdig too); dnsbox reads that back and prints the unsigned value.
    @Test func timesOutsideTheToolsWindow() throws {
        let cases: [(String, String, String)] = [
            ("TYPE65534 255 0 0 19700101000000 19691231235959 0 . AA==",
             "TYPE65534 255 0 0 19700101000000 21060207062815 0 . AA==", "FFFEFF000000000000000000FFFFFFFF00000000"),
            ("A 13 3 4294967295 19691231235959 20000229235959 65535 sig.example.test. AQIDBA==",
             "A 13 3 4294967295 21060207062815 20000229235959 65535 sig.example.test. AQIDBA==",
             "00010D03FFFFFFFFFFFFFFFF38BC5D7FFFFF03736967076578616D706C6504746573740001020304"),
        ]
        for (dig, ours, hex) in cases {
            let r = try RData(type: .rrsig, text: dig)
            #expect(r.wireBytes == bytes(hex))
            #expect(r.presentation == ours)
            #expect(try RData(type: .rrsig, text: ours) == r)
        }
    }

    /// The other text forms of the same records: dig's default (base64 and
    /// hex split every 56 characters), kdig (lowercase NSEC3 hash, a space
    /// after an empty bitmap) and the signer's own multi-line output.
    @Test func otherToolsTextReadsToTheSameBytes() throws {
        let cases: [(RRType, String, Int)] = [
            (.rrsig, "DNSKEY 13 2 3600 20240201000000 20240101000000 18098 example.test. hS3ed3T1sVISe2KUaHwHmD0z0gCgJ2yiKTAaxIC6mao/2bDA/ZVRXfcl JqQ6BEIQM542POmrzx4d80ubjVAqUQ==", 7),
            (.ds, "12345 13 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CF C41A5766", 4),
            (.nsec3, "1 1 5 AABBCCDD r67be5u9uivk7esv9odubqkt14tq6q7h ", 14),
            (.nsec3, "1 1 5 aabbccdd 34r3kk0q8otm01n5t91ev4k8ik3nv157 ns ds rrsig", 13),
            (.rrsig, """
                SOA 8 2 3600 (
                    20240201000000 20240101000000 48691 example.test.
                    Ri7rs7QXbCI7E0XAKODzCg6GDPqN7wdqDKRw
                    8MbZXyKsLze2nprd0B+yymlbo2/0WInAqZ0d
                    PpXiZQ/t41xAX9lWANA2HDHxPHiJe+2zNXSj
                    Z2RFUbwcld6Gy2PVqO5zcFq4m+UqKhcTHg41
                    KTRlHpcAAQEjflNmihZsBbdh0yaVOa9XhlJ0
                    2ye9+XuPAx4wnA+4g9so1b0o768vs6rf4DOR
                    QU8BLuEAUwN883hhddSEUxA5UcdXTpw3fQLk
                    eS/4CkTy4jPT5v7r70Cx8p18brB5pNm9T9dW
                    6ZH8WH/o/NwZMAR5UViU6ZPoibw3C32oE19q
                    AZmxg5jFKCzZamuplA== )
                """, 6),
            // Decimal times and a relative signer name (completed with the origin).
            (.rrsig, "DNSKEY 13 2 3600 1706745600 1704067200 18098 @ hS3ed3T1sVISe2KUaHwHmD0z0gCgJ2yiKTAaxIC6mao/2bDA/ZVRXfclJqQ6BEIQM542POmrzx4d80ubjVAqUQ==", 7),
        ]
        let origin = try DomainName("example.test.")
        for (type, text, k) in cases {
            let r = try RData(type: type, text: text, origin: origin)
            #expect(r.wireBytes == bytes(Self.signed[k].2), "\(text)")
            #expect(r.presentation == Self.signed[k].1)
        }
    }

    /// RRSIG signer and NSEC next names are written as they are: never
    /// compressed, even against an identical owner, and never downcased.
    @Test func namesInsideAreNeitherCompressedNorDowncased() throws {
        let origin = try DomainName("Example.TEST.")
        let sig = try RData(type: .rrsig, text: "SOA 13 2 3600 20240201000000 20240101000000 1 @ AQID", origin: origin)
        let nsec = try RData(type: .nsec, text: "Www NSEC RRSIG", origin: origin)
        let signer: [UInt8] = [7] + Array("Example".utf8) + [4] + Array("TEST".utf8) + [0]
        #expect(sig.wireBytes[18...] == ArraySlice(signer + [1, 2, 3]))
        #expect(nsec.wireBytes.starts(with: [3] + Array("Www".utf8) + signer))
        let message = try build { w in
            try w.writeQuestion(origin, type: .soa, rrClass: .in)
            try w.writeRecord(.answer, owner: origin, ttl: 60, rdata: sig)
            try w.writeRecord(.answer, owner: origin, ttl: 60, rdata: nsec)
        }
        // Question, then each answer: owner compressed to the question, the RDATA as is.
        let rdata1 = 12 + signer.count + 4 + 2 + 10
        #expect(Array(message[rdata1..<(rdata1 + sig.wireBytes.count)]) == sig.wireBytes)
        let rdata2 = rdata1 + sig.wireBytes.count + 2 + 10
        #expect(Array(message[rdata2...]) == nsec.wireBytes)
        let m = try Message(bytes: message)
        #expect(m.answers.map(\.rdata) == [sig, nsec])
        #expect(m.answers[0].rdata.presentation.hasSuffix(" 1 Example.TEST. AQID"))
        #expect(m.answers[1].rdata.presentation == "Www.Example.TEST. RRSIG NSEC")
    }
}

@Suite struct TypeBitmapTests {
    @Test func windowsAndBits() {
        #expect(encodeTypeBitmap([]) == [])
        #expect(encodeTypeBitmap([1]) == [0, 1, 0x40])          // type 0 (the top bit) stays clear
        #expect(encodeTypeBitmap([0]) == [0, 1, 0x80])
        #expect(encodeTypeBitmap([15, 1, 1, 15]) == [0, 2, 0x40, 0x01])
        // Several windows, the last octet of each the last with a bit set.
        #expect(encodeTypeBitmap([65535, 257, 1, 46]) ==
                [0, 6, 0x40, 0, 0, 0, 0, 0x02, 1, 1, 0x40, 255, 32] + [UInt8](repeating: 0, count: 31) + [0x01])
        #expect(typeBitmapText([0, 1, 0x40][...]) == " A")
        #expect(typeBitmapText([0, 1, 0x80][...]) == " TYPE0")
        #expect(typeBitmapText([UInt8]()[...]) == "")
        #expect(typeBitmapText(encodeTypeBitmap([65535, 257, 1, 46])[...]) == " A RRSIG CAA TYPE65535")
        for t: UInt16 in [0, 1, 7, 8, 255, 256, 4660, 65280, 65535] {
            #expect(typeBitmapText(encodeTypeBitmap([t])[...]) == " " + RRType(t).mnemonic)
        }
    }

    @Test func malformedBitmapsPrintGeneric() throws {
        let bad: [[UInt8]] = [
            [0],                                 // cut inside a window header
            [0, 2, 0x40],                        // block shorter than its length
            [0, 0],                              // empty block
            [0, 33] + [UInt8](repeating: 1, count: 33),
            [0, 2, 0x40, 0],                     // zero last octet
            [1, 1, 0x40, 0, 1, 0x40],            // windows out of order
            [0, 1, 0x40, 0, 1, 0x20],            // a window twice
        ]
        for b in bad {
            #expect(typeBitmapText(b[...]) == nil, "\(b)")
            let nsec = RData.unknown(type: .nsec, data: [0] + b)
            #expect(nsec.presentation == RData.genericPresentation([0] + b))
            #expect(try RData(type: .nsec, text: nsec.presentation) == nsec)
        }
        // An NSEC with no types is accepted both ways.
        #expect(try RData(type: .nsec, text: "next.").presentation == "next.")
    }
}

@Suite struct BaseNTests {
    // RFC 4648 §10 test vectors.
    static let vectors: [(String, String, String)] = [
        ("", "", ""), ("f", "Zg==", "CO"), ("fo", "Zm8=", "CPNG"), ("foo", "Zm9v", "CPNMU"),
        ("foob", "Zm9vYg==", "CPNMUOG"), ("fooba", "Zm9vYmE=", "CPNMUOJ1"), ("foobar", "Zm9vYmFy", "CPNMUOJ1E8"),
    ]

    @Test func rfc4648Vectors() {
        for (plain, b64, b32) in Self.vectors {
            let p = Array(plain.utf8)
            #expect(base64Encode(p[...]) == b64)
            #expect(base64Decode(Array(b64.utf8)) == p)
            #expect(Presentation.base64(p) == b64)
            #expect(Presentation.base64(b64) == p)
            #expect(base32hexEncode(p[...]) == b32)
            #expect(base32hexDecode(Array(b32.utf8)) == p)
            #expect(base32hexDecode(Array(b32.lowercased().utf8)) == p)
        }
        let all = (0...255).map { UInt8($0) }
        #expect(base64Decode(Array(base64Encode(all[...]).utf8)) == all)
        #expect(base32hexDecode(Array(base32hexEncode(all[...]).utf8)) == all)
        #expect(hexDecode(Array(hexEncode(all).utf8)) == all)
        #expect(hexDecode(Array("aBcD".utf8)) == [0xAB, 0xCD])
    }

    @Test func malformed() {
        for bad in ["Zg=", "Zg", "Z===", "====", "Zg=a", "Zm9v!A==", "Zg==Zg==", "Zm 9v", "Zm9v\n"] {
            #expect(base64Decode(Array(bad.utf8)) == nil, "\(bad)")
        }
        for bad in ["C", "CPN", "CPNMUO", "W0", "CO======", "C-", "CPNMUOJ1E"] {
            #expect(base32hexDecode(Array(bad.utf8)) == nil, "\(bad)")
        }
        for bad in ["a", "abc", "0g", "-1"] {
            #expect(hexDecode(Array(bad.utf8)) == nil, "\(bad)")
        }
    }
}

@Suite struct SignatureTimeTests {
    @Test func datesAndNumbers() {
        let cases: [(String, UInt32)] = [
            ("19700101000000", 0), ("0", 0), ("20240101000000", 1_704_067_200), ("1704067200", 1_704_067_200),
            ("20000229235959", 951_868_799), ("21060207062815", 4_294_967_295), ("4294967295", 4_294_967_295),
            // Serial arithmetic (RFC 4034 §3.1.5): later and earlier dates wrap.
            ("21060207062816", 0), ("19691231235959", 4_294_967_295), ("00000101000000", 2_257_290_240),
            ("99991231235959", 4_294_197_631),
        ]
        for (text, v) in cases {
            #expect(parseSignatureTime(Array(text.utf8)) == v, "\(text)")
        }
        #expect(formatSignatureTime(0) == "19700101000000")
        #expect(formatSignatureTime(951_868_799) == "20000229235959")
        #expect(formatSignatureTime(1_709_210_096) == "20240229123456")
        #expect(formatSignatureTime(4_294_967_295) == "21060207062815")
        // Every day boundary of a leap cycle prints and reads back.
        var t: UInt32 = 946_684_800 - 86_400
        while t < 946_684_800 + 4 * 366 * 86_400 {
            #expect(parseSignatureTime(Array(formatSignatureTime(t).utf8)) == t)
            t += 86_399
        }
    }

    @Test func badTimes() {
        for bad in ["20241301000000", "20240001000000", "20240100000000", "20240132000000", "20240431000000",
                    "20230229000000", "21000229000000", "20240101240000", "20240101006000", "20240101000060",
                    "2024010100000", "202401010000000", "4294967296", "2024-01-01T00", "2024010100000x", "", "-1"] {
            #expect(parseSignatureTime(Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(parseSignatureTime(Array("20240229000000".utf8)) != nil)
        #expect(parseSignatureTime(Array("20000229000000".utf8)) != nil)
    }
}

@Suite struct DNSSECPresentationErrorTests {
    static let key = "AQID"
    static let sig = "SOA 13 2 3600 20240201000000 20240101000000 1 example.test."
    static let h32 = String(repeating: "0", count: 32)

    /// Each error path with the message a zone file error shows.
    static let errors: [(RRType, String, String)] = [
        (.ds, "1 2 3", "DS needs 4 fields or more, got 3"),
        (.ds, "65536 13 2 00", "bad DS key tag '65536'"),
        (.ds, "1 256 2 00", "bad DS algorithm '256'"),
        (.ds, "1 13 x 00", "bad DS digest type 'x'"),
        (.ds, "1 13 9 00 0G", "bad DS digest '0G'"),
        (.ds, "1 13 9 00 \"00\"", "bad DS digest '00'"),
        (.ds, "1 13 9 00 A BC", "bad DS digest 'BC': odd number of hex digits"),
        (.ds, "1 13 2 " + String(repeating: "00", count: 31),
         "bad DS digest '\(String(repeating: "00", count: 31))': digest type 2 needs 32 octets, got 31"),
        (.cds, "1 13 1 0000 " + String(repeating: "00", count: 19),
         "bad CDS digest '\(String(repeating: "00", count: 19))': digest type 1 needs 20 octets, got 21"),
        (.ds, "1 13 4 00", "bad DS digest '00': digest type 4 needs 48 octets, got 1"),
        (.dnskey, "256 3 13", "DNSKEY needs 4 fields or more, got 3"),
        (.dnskey, "65536 3 13 AQID", "bad DNSKEY flags '65536'"),
        (.dnskey, "256 -3 13 AQID", "bad DNSKEY protocol '-3'"),
        (.cdnskey, "256 3 ECDSAP256SHA256 AQID", "bad CDNSKEY algorithm 'ECDSAP256SHA256'"),
        (.dnskey, "256 3 13 AQ!D", "bad DNSKEY public key 'AQ!D'"),
        (.dnskey, "256 3 13 AQID AQI", "bad DNSKEY public key 'AQI': base64 needs a multiple of 4 digits, padded with = at the end only"),
        (.dnskey, "256 3 13 AQ== AQID", "bad DNSKEY public key 'AQID': base64 needs a multiple of 4 digits, padded with = at the end only"),
        (.rrsig, sig, "RRSIG needs 9 fields or more, got 8"),
        (.rrsig, "BOGUS 13 2 3600 20240201000000 20240101000000 1 example.test. AQID", "bad RRSIG type covered 'BOGUS'"),
        (.rrsig, "SOA 256 2 3600 20240201000000 20240101000000 1 example.test. AQID", "bad RRSIG algorithm '256'"),
        (.rrsig, "SOA 13 256 3600 20240201000000 20240101000000 1 example.test. AQID", "bad RRSIG labels '256'"),
        (.rrsig, "SOA 13 2 1h 20240201000000 20240101000000 1 example.test. AQID", "bad RRSIG original TTL '1h'"),
        (.rrsig, "SOA 13 2 3600 20241301000000 20240101000000 1 example.test. AQID",
         "bad RRSIG expiration '20241301000000': not a date YYYYMMDDHHmmSS or seconds since 1970"),
        (.rrsig, "SOA 13 2 3600 20240201000000 2024-01-01 1 example.test. AQID",
         "bad RRSIG inception '2024-01-01': not a date YYYYMMDDHHmmSS or seconds since 1970"),
        (.rrsig, "SOA 13 2 3600 20240201000000 20240101000000 65536 example.test. AQID", "bad RRSIG key tag '65536'"),
        (.rrsig, "SOA 13 2 3600 20240201000000 20240101000000 1 a..b AQID", "bad name 'a..b': empty label"),
        (.rrsig, "SOA 13 2 3600 20240201000000 20240101000000 1 \"example.test.\" AQID", "bad RRSIG signer 'example.test.': a name cannot be quoted"),
        (.rrsig, "SOA 13 2 3600 20240201000000 20240101000000 1 example.test. AQID A=BC",
         "bad RRSIG signature 'A=BC': base64 needs a multiple of 4 digits, padded with = at the end only"),
        (.nsec, "", "NSEC needs 1 field or more, got 0"),
        (.nsec, "next. A BOGUS", "bad NSEC type 'BOGUS'"),
        (.nsec, "next. A \"MX\"", "bad NSEC type 'MX'"),
        (.nsec, "a..b A", "bad name 'a..b': empty label"),
        (.nsec3, "1 0 0 -", "NSEC3 needs 5 fields or more, got 4"),
        (.nsec3, "256 0 0 - " + h32, "bad NSEC3 hash algorithm '256'"),
        (.nsec3, "1 256 0 - " + h32, "bad NSEC3 flags '256'"),
        (.nsec3, "1 0 65536 - " + h32, "bad NSEC3 iterations '65536'"),
        (.nsec3, "1 0 0 XY " + h32, "bad NSEC3 salt 'XY'"),
        (.nsec3, "1 0 0 ABC " + h32, "bad NSEC3 salt 'ABC': odd number of hex digits"),
        (.nsec3, "1 0 0 \(String(repeating: "00", count: 256)) " + h32,
         "bad NSEC3 salt '\(String(repeating: "00", count: 256))': longer than 255 octets"),
        (.nsec3, "1 0 0 - W0", "bad NSEC3 next hashed owner 'W0'"),
        (.nsec3, "1 0 0 - " + h32 + "=", "bad NSEC3 next hashed owner '\(h32)='"),
        (.nsec3, "1 0 0 - ABC", "bad NSEC3 next hashed owner 'ABC': base32hex digit count ends inside an octet"),
        (.nsec3, "1 0 0 - " + String(repeating: "0", count: 410),
         "bad NSEC3 next hashed owner '\(String(repeating: "0", count: 410))': longer than 255 octets"),
        (.nsec3, "1 0 0 - " + h32 + " A TYPE65536", "bad NSEC3 type 'TYPE65536'"),
        (.nsec3param, "1 0 0", "NSEC3PARAM needs 4 fields, got 3"),
        (.nsec3param, "1 0 0 - " + h32, "NSEC3PARAM needs 4 fields, got 5"),
        (.nsec3param, "1 0 0 -- ", "bad NSEC3PARAM salt '--'"),
        (.nsec3param, "1 0 0 \"-\"", "bad NSEC3PARAM salt '-'"),
        // The generic form keeps its own checks.
        (.rrsig, ##"\# 3 0001"##, ##"\# length 3 does not match the hex data"##),
    ]

    @Test(arguments: 0..<errors.count)
    func errorPath(_ i: Int) {
        let (type, text, message) = Self.errors[i]
        #expect(throws: DNSError.badPresentation(message)) { try RData(type: type, text: text) }
    }

    /// Opaque bytes the typed form cannot carry are printed in the generic
    /// form, and every printed form reads back to the same bytes.
    @Test func everyPrintedFormReadsBack() throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: seed >> 56)
        }
        let types: [RRType] = [.ds, .cds, .dnskey, .cdnskey, .rrsig, .nsec, .nsec3, .nsec3param]
        let starts: [[UInt8]] = [
            [], [0], [1, 2, 3, 4], [0, 1, 2, 3, 20] + [UInt8](repeating: 7, count: 20), [0, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5, 0],
            [0, 46, 13, 2, 0, 0, 14, 16, 101, 186, 223, 0, 101, 146, 0, 128, 0, 1, 0],
            [1, 0, 0, 0, 0, 1, 0xAA], [1, 0, 0, 0, 0, 1, 0xAA, 0, 1, 0x40], [0xC0, 0x0C, 0, 1, 0x40], [1, 0x61, 0],
        ]
        var typed = 0
        for type in types {
            for start in starts {
                for n in 0..<24 {
                    let data = start + (0..<n).map { _ in next() }
                    let r = RData.unknown(type: type, data: data)
                    let text = r.presentation
                    if !text.hasPrefix("\\#") { typed += 1 }
                    #expect(try RData(type: type, text: text) == r, "\(type) \(text)")
                }
            }
        }
        #expect(typed > 100)
        // Generic-form data that is no valid RDATA of the type stays as it is.
        let odd = try RData(type: .rrsig, text: ##"\# 2 0001"##)
        #expect(odd == .unknown(type: .rrsig, data: [0, 1]))
        #expect(odd.presentation == ##"\# 2 0001"##)
        #expect(RData.unknown(type: .dnskey, data: [1, 0, 3, 13]).presentation == ##"\# 4 0100030D"##)   // no key
        #expect(RData.unknown(type: .ds, data: [0, 1, 13, 2, 0xAB]).presentation == ##"\# 5 00010D02AB"##)  // short digest
        #expect(RData.unknown(type: .nsec, data: [0xC0, 0x0C]).presentation == ##"\# 2 C00C"##)  // a pointer
    }

    @Test func mnemonicsForTheDNSSECTypes() {
        let table: [(String, UInt16)] = [("DS", 43), ("RRSIG", 46), ("NSEC", 47), ("DNSKEY", 48), ("NSEC3", 50),
                                         ("NSEC3PARAM", 51), ("CDS", 59), ("CDNSKEY", 60)]
        for (name, value) in table {
            #expect(RRType(mnemonic: name)?.rawValue == value)
            #expect(RRType(mnemonic: name.lowercased())?.rawValue == value)
            #expect(RRType(value).mnemonic == name)
        }
        #expect(RRType.cds.rawValue == 59 && RRType.cdnskey.rawValue == 60 && RRType.nsec3param.rawValue == 51)
    }
}
