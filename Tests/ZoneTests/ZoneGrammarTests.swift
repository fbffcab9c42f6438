// The master-file grammar piece by piece: TTL rules, owners, $ORIGIN,
// $INCLUDE state, lexical details, duplicates and the include path rule.

import DNS
import Testing
@testable import Zone

/// The records of `text` (a zone for example.com.) as dig-style lines.
func lines(_ text: String, defaultTTL: UInt32? = nil, files: [String: String] = [:]) throws -> [String] {
    try parseZone(text, defaultTTL: defaultTTL, files: files).records.map { $0.description }
}

let soaLine = "example.com. 300 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300"

@Suite struct ZoneGrammarTests {
    @Test func ttlPrecedence() throws {
        // $TTL wins over the last explicit TTL (RFC 2308 §4).
        #expect(try lines("$TTL 1h30m\n@ 300 SOA ns1 h 1 2 3 4 300\na 60 A 192.0.2.1\nb A 192.0.2.2\n")
                == [soaLine, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 5400 IN A 192.0.2.2"])
        // Without $TTL the last explicit TTL applies (RFC 1035 §5.1).
        #expect(try lines("@ 300 SOA ns1 h 1 2 3 4 300\na 60 A 192.0.2.1\nb A 192.0.2.2\n")
                == [soaLine, "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.2"])
        // The caller's default is a $TTL before the first line.
        #expect(try lines("@ SOA ns1 h 1 2 3 4 300\nb A 192.0.2.2\n", defaultTTL: 77)
                == ["example.com. 77 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300", "b.example.com. 77 IN A 192.0.2.2"])
        #expect(try lines("$TTL 5\n@ SOA ns1 h 1 2 3 4 300\n", defaultTTL: 77)
                == ["example.com. 5 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300"])
        // Else the SOA MINIMUM, which then acts as $TTL (as BIND).
        #expect(try lines("@ SOA ns1 h 1 2 3 4 300\nb 60 A 192.0.2.2\nc A 192.0.2.3\n")
                == [soaLine, "b.example.com. 60 IN A 192.0.2.2", "c.example.com. 300 IN A 192.0.2.3"])
        #expect(throws: ZoneError("default TTL 2147483648 is above 2147483647", file: "z.zone", line: 0, column: 0)) {
            try parseZone("@ SOA ns1 h 1 2 3 4 300\n", defaultTTL: 0x8000_0000)
        }
        // Units, either case, as BIND.
        #expect(try lines("@ 1W SOA ns1 h 1 2 3 4 300\na 2d3h4m5s A 192.0.2.1\n").map { $0.split(separator: " ")[1] }
                == ["604800", "183845"])
        // SOA timers take units too.
        #expect(try parseZone("@ 60 SOA ns1 h 1 2h 1h 1w 5m\n").soa
                == SOA(mname: try DomainName("ns1.example.com."), rname: try DomainName("h.example.com."),
                       serial: 1, refresh: 7200, retry: 3600, expire: 604800, minimum: 300))
    }

    @Test func ttlAndClassInEitherOrderAndOmitted() throws {
        let text = "$TTL 10\n@ SOA ns1 h 1 2 3 4 300\na 20 IN A 192.0.2.1\nb IN 30 A 192.0.2.2\nc IN A 192.0.2.3\nd 40 A 192.0.2.4\ne A 192.0.2.5\nf CLASS1 A 192.0.2.6\n"
        #expect(try lines(text).dropFirst().map { $0.split(separator: " ")[1] } == ["20", "30", "10", "40", "10", "10"])
    }

    @Test func ownersOriginAndAt() throws {
        let text = """
            $TTL 60
            @ SOA ns1 h 1 2 3 4 300
            www A 192.0.2.1
                AAAA ::1
            $origin sub
            @ TXT here
            x CNAME @
            y CNAME www.example.com.
            $ORIGIN .
            z.example.com. A 192.0.2.9
            """
        #expect(try lines(text) == [
            "example.com. 60 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300",
            "www.example.com. 60 IN A 192.0.2.1",
            "www.example.com. 60 IN AAAA ::1",
            "sub.example.com. 60 IN TXT \"here\"",
            "x.sub.example.com. 60 IN CNAME sub.example.com.",
            "y.sub.example.com. 60 IN CNAME www.example.com.",
            "z.example.com. 60 IN A 192.0.2.9",
        ])
    }

    @Test func includeKeepsTheParentsOriginAndOwner() throws {
        let files = ["/zones/hosts.inc": "$TTL 5\nnas A 10.0.0.1\n  AAAA fd00::1\n",
                     "/zones/sub/deeper.inc": "@ TXT deeper\n"]
        let text = """
            $TTL 60
            @ SOA ns1 h 1 2 3 4 300
            www A 192.0.2.1
            $INCLUDE hosts.inc lan
              AAAA ::1
            $INCLUDE "/zones/sub/deeper.inc"
            $INCLUDE sub/../hosts.inc lan2.example.com.
            """
        #expect(try lines(text, files: files) == [
            "example.com. 60 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300",
            "www.example.com. 60 IN A 192.0.2.1",
            "nas.lan.example.com. 5 IN A 10.0.0.1",
            "nas.lan.example.com. 5 IN AAAA fd00::1",
            "www.example.com. 5 IN AAAA ::1",                // $TTL from the include stays in force
            "example.com. 5 IN TXT \"deeper\"",
            "nas.lan2.example.com. 5 IN A 10.0.0.1",
            "nas.lan2.example.com. 5 IN AAAA fd00::1",
        ])
    }

    @Test func lexicalDetails() throws {
        let text = "\u{FEFF}$TTL 60\r\n@ SOA ns1 h ( 1 ; serial\n 2 3\n\n ; blank and comment lines inside\n 4 300 )\n\n"
            + "a\\(b TXT \"(x;y)\" \\\"q \"\" \"\\\\\"\n"
            + "tab\tTXT\t\"\\t\\065\"\n"
        #expect(try lines(text) == [
            "example.com. 60 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300",
            "a\\(b.example.com. 60 IN TXT \"(x;y)\" \"\\\"q\" \"\" \"\\\\\"",
            "tab.example.com. 60 IN TXT \"tA\"",
        ])
    }

    @Test func duplicatesAreDroppedAndDNSSECMayAccompanyCNAME() throws {
        let z = try parseZone("""
            $TTL 60
            @ SOA ns1 h 1 2 3 4 300
            a A 192.0.2.1
            A 30 A 192.0.2.1
            c CNAME Target.example.com.
            c CNAME target.EXAMPLE.com.
            c RRSIG \\# 2 0001
            c NSEC \\# 2 0002
            """)
        #expect(z.records.map { $0.description } == [
            "example.com. 60 IN SOA ns1.example.com. h.example.com. 1 2 3 4 300",
            "a.example.com. 60 IN A 192.0.2.1",
            "c.example.com. 60 IN CNAME Target.example.com.",
            "c.example.com. 60 IN RRSIG \\# 2 0001",
            "c.example.com. 60 IN NSEC \\# 2 0002",
        ])
    }

    @Test func includePathRule() {
        #expect(IncludePath.resolve("a.inc", in: "/zones") == "/zones/a.inc")
        #expect(IncludePath.resolve("a/../b.inc", in: "/zones/") == "/zones/b.inc")
        #expect(IncludePath.resolve("./x//y.inc", in: "/zones") == "/zones/x/y.inc")
        #expect(IncludePath.resolve("/zones/a.inc", in: "/zones") == "/zones/a.inc")
        #expect(IncludePath.resolve("a/../../x", in: "/zones") == nil)
        #expect(IncludePath.resolve("/zones/../etc/x", in: "/zones") == nil)
        #expect(IncludePath.resolve("/zones2/x", in: "/zones") == nil)
        #expect(IncludePath.resolve(".", in: "/zones") == nil)
        #expect(IncludePath.resolve("", in: "/zones") == nil)
        #expect(IncludePath.resolve("x.inc", in: "zones") == "zones/x.inc")
        #expect(IncludePath.resolve("x.inc", in: ".") == "x.inc")
        #expect(IncludePath.resolve("../x.inc", in: ".") == nil)
        #expect(IncludePath.resolve("/etc/x", in: ".") == nil)
        #expect(IncludePath.resolve("/x", in: "/") == "/x")
    }

    @Test func canonicalOrderPutsTheSOAFirstThenNamesThenTypesThenRDATA() throws {
        let z = try parseZone("""
            $TTL 60
            z A 192.0.2.2
            z A 192.0.2.1
            @ MX 10 b
            @ MX 10 A
            *.a TXT w
            @ SOA ns1 h 1 2 3 4 300
            a\\001 TXT x
            a TXT y
            """)
        #expect(z.canonicalRecords.map { $0.owner.relativeDescription(to: z.origin) + " " + $0.rdata.presentation } == [
            "@ ns1.example.com. h.example.com. 1 2 3 4 300",
            "@ 10 A.example.com.",
            "@ 10 b.example.com.",
            "a \"y\"",
            "*.a \"w\"",
            "a\\001 \"x\"",
            "z 192.0.2.1",
            "z 192.0.2.2",
        ])
    }
}
