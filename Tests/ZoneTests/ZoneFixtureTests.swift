// The fixture zones under Fixtures/: what they load to, that the writer's
// output parses back to the same records, and that BIND's named-checkzone
// and Knot's kzonecheck accept the writer's output.

import DNS
import Foundation
import Testing
@testable import Zone

/// Records from one-line text ("owner ttl IN TYPE rdata"), absolute names.
func records(_ lines: [String]) throws -> [ResourceRecord] {
    try lines.map { line throws -> ResourceRecord in try ResourceRecord(line) }
}

@Suite struct ZoneFixtureTests {
    @Test func exampleComLoadsEveryConstructInFileOrder() throws {
        let z = try Fixtures.load("example.com")
        let want = try records([
            "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2024060101 7200 3600 1209600 300",
            "example.com. 3600 IN NS ns1.example.com.",
            "example.com. 3600 IN NS ns2.example.net.",
            "example.com. 3600 IN MX 10 mail.example.com.",
            "example.com. 3600 IN MX 20 mail2.example.net.",
            "example.com. 3600 IN TXT \"v=spf1 mx -all\"",
            "example.com. 3600 IN CAA 0 issue \"letsencrypt.org\"",
            "example.com. 3600 IN CAA 128 iodef \"mailto:security@example.com\"",
            "ns1.example.com. 3600 IN A 192.0.2.53",
            "ns1.example.com. 3600 IN AAAA 2001:db8::53",
            "mail.example.com. 300 IN A 192.0.2.25",
            "mail.example.com. 300 IN AAAA 2001:db8::25",
            "www.example.com. 3600 IN CNAME web.example.com.",
            "web.example.com. 129600 IN A 192.0.2.80",
            "web.example.com. 129600 IN A 192.0.2.81",
            "*.wild.example.com. 3600 IN A 192.0.2.99",
            "_sip._tcp.example.com. 3600 IN SRV 10 60 5060 sip.example.com.",
            "sip.example.com. 3600 IN A 192.0.2.60",
            "txt.example.com. 3600 IN TXT \"a \\\"quoted\\\" word\" \"semi;colon; not a comment\" \"back\\\\slash\"",
            "txt.example.com. 3600 IN TXT \"tab\\009and\\255byte\" \"plain\" \"unquoted words\"",
            "txt.example.com. 3600 IN TXT \"\"",
            "txt.example.com. 3600 IN TXT \"first line\" \"second line\"",
            "4.2.0.example.com. 3600 IN PTR ns1.example.com.",
            "odd\\.dot\\032name.example.com. 3600 IN TXT \"owner with an escaped dot and space\"",
            "unknown.example.com. 3600 IN TYPE65534 \\# 3 abcdef",
            "unknown.example.com. 3600 IN TYPE65280 \\# 0",
            "unknown.example.com. 3600 IN HINFO \\# 10 03414D44054C696E7578",
            "generic.example.com. 3600 IN A 192.0.2.1",
            "generic.example.com. 3600 IN A 192.0.2.2",
            "sub.example.com. 3600 IN NS ns.sub.example.com.",
            "ns.sub.example.com. 3600 IN A 192.0.2.153",
            "lan.example.com. 3600 IN A 10.0.0.1",
            "nas.lan.example.com. 3600 IN A 10.0.0.10",
            "nas.lan.example.com. 3600 IN AAAA fd00::10",
            "printer.lan.example.com. 120 IN A 10.0.0.20",
            "router.lan.example.com. 3600 IN A 10.0.0.254",
            "after.example.com. 3600 IN A 192.0.2.200",
            "short.example.com. 60 IN A 192.0.2.201",
        ])
        #expect(z.origin == (try DomainName("example.com.")))
        #expect(z.records.count == want.count)
        for (k, (got, expected)) in zip(z.records, want).enumerated() {
            #expect(got == expected, "record \(k): \(got) != \(expected)")
        }
        // The escaped owner keeps its dot inside the first label.
        #expect(z.records[23].owner.labelCount == 3)
        if case .txt(let s) = z.records[19].rdata {
            #expect(s[0] == Array("tab\tand".utf8) + [255, 0x62, 0x79, 0x74, 0x65])
        } else {
            Issue.record("record 19 is not TXT")
        }
        #expect(z.soa?.serial == 2024060101)
    }

    @Test func crlfFileWithoutTTLUsesTheSOAMinimumAsTTL() throws {
        let z = try Fixtures.load("example.org")
        let want = try records([
            "example.org. 900 IN SOA ns.example.org. admin.example.org. 1 3600 600 86400 900",
            "example.org. 900 IN NS ns.example.org.",
            "ns.example.org. 900 IN A 198.51.100.1",
            "www.example.org. 7200 IN A 198.51.100.2",
            "ftp.example.org. 900 IN A 198.51.100.3",
            "old.example.org. 3600 IN A 198.51.100.4",
        ])
        #expect(z.records == want)
    }

    @Test func reverseZoneWithClasslessDelegation() throws {
        let z = try Fixtures.load("2.0.192.in-addr.arpa")
        #expect(z.records.count == 9)
        #expect(z.records.last == (try ResourceRecord("65.2.0.192.in-addr.arpa. 86400 IN CNAME 65.64/26.2.0.192.in-addr.arpa.")))
    }

    @Test func providerExportLoads() throws {
        let z = try Fixtures.load("realworld.net")
        #expect(z.records.count == 28)
        let dkim = z.records.first { $0.owner == (try? DomainName("google._domainkey.realworld.net.")) }
        if case .txt(let strings)? = dkim?.rdata {
            #expect(strings.count == 3)
            #expect(strings.map(\.count).reduce(0, +) == 288)
        } else {
            Issue.record("no DKIM TXT")
        }
        #expect(z.records.contains((try ResourceRecord("_autodiscover._tcp.realworld.net. 3600 IN SRV 0 0 0 ."))))
    }

    @Test(arguments: Fixtures.zoneNames)
    func writerOutputParsesBackToTheSameRecords(name: String) throws {
        let z = try Fixtures.load(name)
        let text = z.presentation()
        let again = try Zone.parse(Array(text.utf8), file: "written", origin: z.origin)
        #expect(again.records == z.canonicalRecords)
        #expect(again.presentation() == text)
        #expect(z.canonicalRecords.count == z.records.count)
    }

    @Test func writerFormat() throws {
        let z = try parseZone("""
            $TTL 300
            @ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
              NS ns1
            b 60 A 192.0.2.2
            a A 192.0.2.1
            A.b AAAA ::1
            a MX 5 B
            ns1 A 192.0.2.53
            """)
        #expect(z.presentation() == """
            $ORIGIN example.com.
            $TTL 300
            @\tIN\tSOA\tns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
            @\tIN\tNS\tns1.example.com.
            a\tIN\tA\t192.0.2.1
            a\tIN\tMX\t5 B.example.com.
            b\t60\tIN\tA\t192.0.2.2
            A.b\tIN\tAAAA\t::1
            ns1\tIN\tA\t192.0.2.53

            """)
    }

    @Test(.enabled(if: Checker.namedCheckzone != nil, "named-checkzone not installed (apt-get install bind9-utils): skipped"),
          arguments: Fixtures.zoneNames)
    func namedCheckzoneAcceptsTheWriterOutput(name: String) throws {
        let z = try Fixtures.load(name)
        let (status, out) = try Checker.run(Checker.namedCheckzone ?? "", origin: name + ".", text: z.presentation())
        #expect(status == 0, "named-checkzone: \(out)")
        #expect(out.contains("OK"))
    }

    @Test(.enabled(if: Checker.kzonecheck != nil, "kzonecheck not installed (apt-get install knot-dnssecutils): skipped"),
          arguments: Fixtures.zoneNames)
    func kzonecheckAcceptsTheWriterOutput(name: String) throws {
        let z = try Fixtures.load(name)
        let (status, out) = try Checker.run(Checker.kzonecheck ?? "", origin: name + ".", text: z.presentation())
        #expect(status == 0, "kzonecheck: \(out)")
    }

    @Test(.enabled(if: Checker.namedCheckzone != nil && Checker.kzonecheck != nil,
                   "named-checkzone or kzonecheck not installed: skipped"))
    func checkersRejectABrokenZone() throws {
        // The harness really runs the tools: CNAME and other data fails both.
        let text = "$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nns1 CNAME x\n"
        for tool in [Checker.namedCheckzone, Checker.kzonecheck].compactMap({ $0 }) {
            let (status, _) = try Checker.run(tool, origin: "example.com.", text: text)
            #expect(status != 0, "\(tool) accepted a CNAME beside an A record")
        }
    }

    /// BIND reads each original fixture (from Fixtures, for $INCLUDE) and
    /// dumps it with absolute names and explicit TTLs; those records must
    /// be ours. BIND prints known types without a typed codec here (HINFO)
    /// in their own syntax, which the DNS module cannot parse: those are
    /// only counted.
    @Test(.enabled(if: Checker.namedCheckzone != nil, "named-checkzone not installed: skipped"),
          arguments: Fixtures.zoneNames)
    func bindReadsTheFixturesAsWeDo(name: String) throws {
        let z = try Fixtures.load(name)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Checker.namedCheckzone ?? "")
        p.arguments = ["-D", "-o", "-", name + ".", name + ".zone"]
        p.currentDirectoryURL = URL(fileURLWithPath: Fixtures.directory)
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        var bind: [ResourceRecord] = []
        var untyped = 0
        for line in out.split(separator: "\n") where !line.hasPrefix(";") {
            do { bind.append(try ResourceRecord(String(line))) } catch { untyped += 1 }
        }
        let ours = z.canonicalRecords
        let oursTyped = ours.filter { RData.isTyped($0.type) || $0.type.rawValue >= 65280 }
        #expect(untyped == ours.count - oursTyped.count)
        let sortedBind = Zone(origin: z.origin, records: bind).canonicalRecords
        #expect(sortedBind == oursTyped, "BIND: \(sortedBind.map { $0.description })")
    }
}
