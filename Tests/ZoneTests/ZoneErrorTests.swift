// Every error the zone parser reports, with its exact file:line:column and
// printed form. `head` (ZoneTestSupport) is lines 1–2: SOA and NS.

import DNS
import Testing
@testable import Zone

/// The printed error for `head + line3`.
func errorAfterHead(_ rest: String, files: [String: String] = [:]) -> String? {
    zoneError(head + rest, files: files)?.description
}

@Suite struct ZoneErrorTests {
    @Test func errorValueAndDescription() {
        let e = zoneError(head + "www A 192.0.2\n")
        #expect(e == ZoneError("bad IPv4 address '192.0.2'", file: "z.zone", line: 3, column: 7))
        #expect(e?.description == "bad IPv4 address '192.0.2' at z.zone:3:7")
        #expect(ZoneError("no SOA", file: "f", line: 0, column: 0).description == "no SOA at f")
    }

    @Test func rdataErrorsPointAtTheBadField() {
        #expect(errorAfterHead("x CNAME a..b\n") == "bad name 'a..b': empty label at z.zone:3:9")
        let long = String(repeating: "a", count: 64)
        #expect(errorAfterHead("x MX 10 \(long)\n")
                == "bad MX RDATA '\(long)': label longer than 63 octets at z.zone:3:9")
        #expect(errorAfterHead("x MX 10\n") == "MX needs 2 fields, got 1 at z.zone:3:8")
        #expect(errorAfterHead("x A 192.0.2.1 192.0.2.2\n") == "A needs 1 field, got 2 at z.zone:3:15")
        #expect(errorAfterHead("x TYPE65534 abc\n") == "type TYPE65534 needs the generic form \\# LENGTH HEX at z.zone:3:13")
        #expect(errorAfterHead("x TYPE65534 \\# 4 abcdef\n") == "\\# length 4 does not match the hex data at z.zone:3:16")
        #expect(errorAfterHead("x TYPE65534 \\# 2 abxz\n") == "bad hex 'abxz' at z.zone:3:18")
        #expect(errorAfterHead("x TXT \"a\\300\"\n") == "bad escape in 'a\\300' at z.zone:3:7")
        #expect(errorAfterHead("_s._tcp SRV 1 2 70000 x\n") == "bad port '70000' at z.zone:3:17")
        #expect(errorAfterHead("@ CAA 0 is-sue \"x\"\n") == "bad CAA tag 'is-sue' at z.zone:3:9")
        #expect(errorAfterHead("x 60 IN SOA ns1 h 1 2 3\n") == "SOA needs 7 fields, got 5 at z.zone:3:24")
        // Across lines inside parentheses: the field's own line.
        #expect(errorAfterHead("x MX (\n  10\n  bad..name )\n") == "bad name 'bad..name': empty label at z.zone:5:3")
    }

    @Test func ownerTTLClassAndTypeErrors() {
        let long = String(repeating: "a", count: 64)
        #expect(errorAfterHead("\(long) A 192.0.2.1\n") == "bad name '\(long)': label longer than 63 octets at z.zone:3:1")
        #expect(errorAfterHead("\"www\" A 192.0.2.1\n") == "a name cannot be quoted: \"www\" at z.zone:3:1")
        #expect(errorAfterHead("x FOO 1\n") == "unknown record type 'FOO' at z.zone:3:3")
        #expect(errorAfterHead("x \"A\" 1\n") == "unknown record type 'A' at z.zone:3:3")
        #expect(errorAfterHead("x AXFR\n") == "type AXFR cannot appear in a zone file at z.zone:3:3")
        #expect(errorAfterHead("x OPT \\# 0\n") == "type OPT cannot appear in a zone file at z.zone:3:3")
        #expect(errorAfterHead("x CH A 192.0.2.1\n") == "class CH is not supported (only IN) at z.zone:3:3")
        #expect(errorAfterHead("x 60 CLASS3 A 192.0.2.1\n") == "class CH is not supported (only IN) at z.zone:3:6")
        #expect(errorAfterHead("x ANY A 192.0.2.1\n") == "class ANY is not supported (only IN) at z.zone:3:3")
        #expect(errorAfterHead("x 1h5x A 192.0.2.1\n") == "bad TTL '1h5x' at z.zone:3:3")
        #expect(errorAfterHead("x 2147483648 A 192.0.2.1\n") == "TTL 2147483648 is above 2147483647 (RFC 2181 §8) at z.zone:3:3")
        #expect(errorAfterHead("x 99999999999 A 192.0.2.1\n") == "bad TTL '99999999999' at z.zone:3:3")
        #expect(errorAfterHead("x 1 IN 2 A 192.0.2.1\n") == "second TTL '2' in one record at z.zone:3:8")
        #expect(errorAfterHead("x IN 5 in A 192.0.2.1\n") == "second class 'in' in one record at z.zone:3:8")
        #expect(errorAfterHead("x 300 IN\n") == "record type missing at z.zone:3:9")
        #expect(errorAfterHead("\tA 1.2.3\n") == "bad IPv4 address '1.2.3' at z.zone:3:4")
    }

    @Test func ttlDefaults() {
        #expect(zoneError("www A 192.0.2.1\n@ SOA ns1 h 1 2 3 4 5\n")?.description
                == "no TTL for this record: give one, or a $TTL before it at z.zone:1:5")
        #expect(zoneError("@ SOA ns1 h 1 2 3 4 4294967295\n")?.description
                == "SOA MINIMUM 4294967295 used as TTL is above 2147483647 at z.zone:1:3")
        #expect(errorAfterHead("$TTL 3000000000\n") == "TTL 3000000000 is above 2147483647 (RFC 2181 §8) at z.zone:3:6")
        #expect(errorAfterHead("$TTL 1y\n") == "bad TTL '1y' at z.zone:3:6")
    }

    @Test func lexicalErrors() {
        #expect(zoneError(" A 192.0.2.1\n")?.description
                == "no owner name, and no earlier record in this file to take it from at z.zone:1:2")
        #expect(errorAfterHead("x TXT \"abc\n") == "quoted string not closed on its line at z.zone:3:7")
        #expect(errorAfterHead("x TXT \"abc\\\n\"") == "quoted string not closed on its line at z.zone:3:7")
        #expect(errorAfterHead("x TXT ( ( \"a\" ) )\n") == "nested '(' (the one open since line 3 is not closed) at z.zone:3:9")
        #expect(errorAfterHead("x A 192.0.2.1 )\n") == "')' without '(' at z.zone:3:15")
        #expect(errorAfterHead("x TXT ( \"a\"\n\n; comment\n") == "'(' not closed before the end of the file at z.zone:3:7")
        #expect(errorAfterHead("x TXT a\\\n") == "'\\' at the end of a line at z.zone:3:8")
        #expect(errorAfterHead("x TXT a\\") == "'\\' at the end of a line at z.zone:3:8")
    }

    @Test func directiveErrors() {
        #expect(errorAfterHead("$FOO bar\n") == "unknown directive '$FOO' at z.zone:3:1")
        #expect(errorAfterHead("$GENERATE 1-9 h$ A 10.0.0.$\n") == "$GENERATE is not supported at z.zone:3:1")
        #expect(errorAfterHead("$ORIGIN\n") == "$ORIGIN needs an argument at z.zone:3:8")
        #expect(errorAfterHead("$ORIGIN a. b.\n") == "unexpected 'b.' after $ORIGIN at z.zone:3:12")
        #expect(errorAfterHead("$ORIGIN a..\n") == "bad name 'a..': empty label at z.zone:3:9")
        #expect(errorAfterHead("$TTL\n") == "$TTL needs an argument at z.zone:3:5")
        #expect(errorAfterHead("$INCLUDE a b c\n") == "unexpected 'c' after $INCLUDE at z.zone:3:14")
    }

    @Test func includeErrors() {
        #expect(errorAfterHead("$INCLUDE ../etc/passwd\n")
                == "$INCLUDE '../etc/passwd' is outside the zone directory '/zones' at z.zone:3:10")
        #expect(errorAfterHead("$INCLUDE /etc/passwd\n")
                == "$INCLUDE '/etc/passwd' is outside the zone directory '/zones' at z.zone:3:10")
        #expect(errorAfterHead("$INCLUDE /zones/../etc/passwd\n")
                == "$INCLUDE '/zones/../etc/passwd' is outside the zone directory '/zones' at z.zone:3:10")
        #expect(errorAfterHead("$INCLUDE /zones2/x.inc\n")
                == "$INCLUDE '/zones2/x.inc' is outside the zone directory '/zones' at z.zone:3:10")
        #expect(errorAfterHead("$INCLUDE nope.inc\n") == "cannot read '/zones/nope.inc' at z.zone:3:10")
        #expect(errorAfterHead("$INCLUDE a.inc\n", files: ["/zones/a.inc": "$INCLUDE ./a.inc\n"])
                == "$INCLUDE loop: '/zones/a.inc' is already being read at /zones/a.inc:1:10")
        // An error inside an included file names that file.
        #expect(errorAfterHead("$INCLUDE h.inc\n", files: ["/zones/h.inc": "ok A 10.0.0.1\nbad A 10.0.0\n"])
                == "bad IPv4 address '10.0.0' at /zones/h.inc:2:7")
        // The included file starts without a previous owner.
        #expect(errorAfterHead("$INCLUDE h.inc\n", files: ["/zones/h.inc": "  A 10.0.0.1\n"])
                == "no owner name, and no earlier record in this file to take it from at /zones/h.inc:1:3")
        var deep: [String: String] = [:]
        for k in 0..<12 { deep["/zones/\(k).inc"] = "$INCLUDE \(k + 1).inc\n" }
        #expect(errorAfterHead("$INCLUDE 0.inc\n", files: deep)
                == "$INCLUDE nested more than 8 deep at /zones/7.inc:1:10")
    }

    @Test func zoneRuleErrors() {
        #expect(errorAfterHead("www.example.net. A 192.0.2.1\n")
                == "'www.example.net.' is out of zone (not at or below 'example.com.') at z.zone:3:1")
        #expect(errorAfterHead("$ORIGIN example.net.\nwww A 192.0.2.1\n")
                == "'www.example.net.' is out of zone (not at or below 'example.com.') at z.zone:4:1")
        #expect(errorAfterHead("xexample.com. A 192.0.2.1\n")
                == "'xexample.com.' is out of zone (not at or below 'example.com.') at z.zone:3:1")
        #expect(errorAfterHead("sub SOA ns1 h 1 2 3 4 5\n")
                == "SOA at 'sub.example.com.', not at the zone apex 'example.com.' at z.zone:3:1")
        #expect(errorAfterHead("@ SOA ns1 h 2 2 3 4 5\n") == "second SOA record (the first is at z.zone:1) at z.zone:3:1")
        #expect(zoneError("$TTL 60\nwww A 192.0.2.1\n")?.description == "no SOA record at the zone apex 'example.com.' at z.zone")
        #expect(errorAfterHead("www CNAME x\nwww A 192.0.2.1\n")
                == "CNAME and other data at 'www.example.com.' (CNAME at z.zone:3) at z.zone:4:1")
        #expect(errorAfterHead("www A 192.0.2.1\n  CNAME x\n")
                == "CNAME and other data at 'www.example.com.' (other data at z.zone:3) at z.zone:4:3")
        #expect(errorAfterHead("www CNAME x\nWWW CNAME y\n")
                == "second CNAME at 'WWW.example.com.' (the first is at z.zone:3) at z.zone:4:1")
        #expect(errorAfterHead("@ CNAME x\n") == "CNAME and other data at 'example.com.' (other data at z.zone:1) at z.zone:3:1")
    }

    /// Nothing traps on input: every prefix of a fixture, and the fixture
    /// with each byte replaced by a character the grammar cares about,
    /// either loads or fails with a ZoneError.
    @Test func truncatedAndMutatedFixturesNeverTrap() throws {
        let text = try #require(Fixtures.read(Fixtures.directory + "/example.com.zone"))
        let origin = try DomainName("example.com.")
        var outcomes = (ok: 0, failed: 0)
        func attempt(_ bytes: [UInt8]) {
            do {
                _ = try Zone.parse(bytes, file: "m", origin: origin, directory: Fixtures.directory, readFile: Fixtures.read)
                outcomes.ok += 1
            } catch {
                #expect(error.line >= 0 && error.column >= 0)
                outcomes.failed += 1
            }
        }
        for n in 0...text.count { attempt(Array(text[0..<n])) }
        for k in stride(from: 0, to: text.count, by: 3) {
            for b: UInt8 in [0x28, 0x29, 0x22, 0x5C, 0x3B, 0x0A, 0x24, 0x40, 0x20, 0xFF] {
                var m = text
                m[k] = b
                attempt(m)
            }
        }
        #expect(outcomes.ok > 0 && outcomes.failed > 0)
    }
}
