import Testing
@testable import Config

// Each value kind, valid and invalid, and the public parsers behind them.

@Suite struct ValueKindTests {
    @Test func bools() {
        for t in ["1", "yes", "on", "true", "enabled"] { #expect(parseBool(t) == true) }
        for f in ["0", "no", "off", "false", "disabled"] { #expect(parseBool(f) == false) }
        for bad in ["", "2", "Yes", "TRUE", " 1", "y", "enable"] { #expect(parseBool(bad) == nil) }
        #expect(OptionKind.bool.accepts("on"))
        #expect(!OptionKind.bool.accepts("maybe"))
    }

    @Test func ints() {
        let kind = OptionKind.int(min: 0, max: 1024)
        for good in ["0", "1", "1024", "007"] { #expect(kind.accepts(good)) }
        for bad in ["", "-1", "1025", "+1", "1.0", "0x10", " 1", "1 ", "abc", "99999999999999999999999"] {
            #expect(!kind.accepts(bad))
        }
        let signed = OptionKind.int(min: -10, max: 10)
        #expect(signed.accepts("-10"))
        #expect(!signed.accepts("-11"))
        #expect(!signed.accepts("-"))
        #expect(parseInt("-42") == -42)
        #expect(parseInt("9223372036854775807") == Int.max)
        #expect(parseInt("9223372036854775808") == nil)
    }

    @Test func durations() {
        let cases: [(String, Int)] = [
            ("0", 0), ("30", 30_000), ("500ms", 500), ("1s", 1_000), ("5m", 300_000),
            ("1h30m", 5_400_000), ("2h", 7_200_000), ("1d", 86_400_000), ("1w", 604_800_000),
            ("1w2d3h4m5s6ms", 604_800_000 + 2 * 86_400_000 + 3 * 3_600_000 + 4 * 60_000 + 5_000 + 6),
            ("90s", 90_000), ("1m500ms", 60_500),
        ]
        for (text, ms) in cases { #expect(Duration.parseMilliseconds(text) == ms, "\(text)") }
        for bad in ["", "-1", "1.5s", "1x", "h", "1h30", "30m1h", "1s1s", "1 h", "ms", "1mss",
                    "infinite", "99999999999999999999", "9999999999999999w"] {
            #expect(Duration.parseMilliseconds(bad) == nil, "\(bad)")
        }
        #expect(OptionKind.duration.accepts("1h30m"))
        #expect(!OptionKind.duration.accepts("soon"))
    }

    @Test func ipv4Addresses() {
        let a = IPAddress("192.0.2.1")
        #expect(a?.bytes == [192, 0, 2, 1])
        #expect(a?.isV4 == true)
        #expect(a?.description == "192.0.2.1")
        #expect(IPAddress("0.0.0.0")?.bytes == [0, 0, 0, 0])
        #expect(IPAddress("255.255.255.255") != nil)
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4.", ".1.2.3.4",
                    "1.2.3.-4", "a.b.c.d", " 1.2.3.4", "1.2.3.4/24", "1.2.3.0004"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func ipv6AddressesAndCanonicalForm() {
        let cases: [(String, String)] = [
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"),  // first of equal runs
            ("2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"),  // longest run wins
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single 0 is not compressed
            ("fe80::1:2", "fe80::1:2"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"),
            ("::192.0.2.1", "::c000:201"),
            ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
            ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ]
        for (text, canonical) in cases {
            let a = IPAddress(text)
            #expect(a?.description == canonical, "\(text)")
            #expect(a?.bytes.count == 16)
            #expect(a?.isV4 == false)
        }
        #expect(IPAddress("::1")?.bytes == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        for bad in [":", ":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::",
                    "g::1", "fe80::1%eth0", ":1::", "1:2:3:4:5:6:7:8::", "::1:", "1:2:3:4:5:6:7:1.2.3.4",
                    "::1.2.3", "::1.2.3.4:5", "[::1]", "::ffff:1.2.3.256"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
        #expect(IPAddress("2001:db8::1") == IPAddress("2001:DB8:0::0:1"))
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(bytes: [10, 0, 0, 1])?.description == "10.0.0.1")
    }

    @Test func addressKind() {
        #expect(OptionKind.address.accepts("10.0.0.1"))
        #expect(OptionKind.address.accepts("fd00::1"))
        #expect(!OptionKind.address.accepts("fd00::1%br-lan"))
        #expect(!OptionKind.address.accepts("router.lan"))
    }

    @Test func cidrs() throws {
        let net = try #require(CIDR("192.168.1.0/24"))
        #expect(net.prefix == 24)
        #expect(net.contains(try #require(IPAddress("192.168.1.200"))))
        #expect(!net.contains(try #require(IPAddress("192.168.2.1"))))
        #expect(!net.contains(try #require(IPAddress("::ffff:192.168.1.1"))))
        #expect(CIDR("192.168.1.77/24")?.network.description == "192.168.1.0/24")
        #expect(CIDR("10.1.2.3/9")?.network.description == "10.0.0.0/9")
        #expect(CIDR("0.0.0.0/0")?.contains(try #require(IPAddress("8.8.8.8"))) == true)
        #expect(CIDR("1.2.3.4/32")?.contains(try #require(IPAddress("1.2.3.4"))) == true)
        #expect(CIDR("1.2.3.4/32")?.contains(try #require(IPAddress("1.2.3.5"))) == false)
        let v6 = try #require(CIDR("2001:DB8::/32"))
        #expect(v6.description == "2001:db8::/32")
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(CIDR("fe80::1/10")?.network.description == "fe80::/10")
        #expect(CIDR("::/128") != nil)
        for bad in ["192.168.1.0", "192.168.1.0/33", "::/129", "1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/024",
                    "1.2.3.4/2a", "/24", "host/24", "1.2.3.4/24/1"] {
            #expect(CIDR(bad) == nil, "\(bad)")
            #expect(!OptionKind.cidr.accepts(bad))
        }
        #expect(OptionKind.cidr.accepts("10.0.0.0/8"))
    }

    @Test func hostPorts() {
        func hp(_ s: String, _ d: Int? = nil) -> String? { HostPort(s, defaultPort: d)?.description }
        #expect(hp("192.0.2.1:53") == "192.0.2.1:53")
        #expect(hp("[2001:db8::1]:853") == "[2001:db8::1]:853")
        #expect(hp("[2001:DB8:0::1]:853") == "[2001:db8::1]:853")
        #expect(hp("dns.example.com:853") == "dns.example.com:853")
        #expect(hp("dns.example.com.:853") == "dns.example.com.:853")
        #expect(hp("localhost:8080") == "localhost:8080")
        #expect(hp("0.0.0.0:53") == "0.0.0.0:53")
        #expect(hp("[::]:53") == "[::]:53")
        // Default port.
        #expect(hp("192.0.2.1", 53) == "192.0.2.1:53")
        #expect(hp("[::1]", 53) == "[::1]:53")
        #expect(hp("::1", 53) == "[::1]:53")
        #expect(hp("::1:53", 53) == "[::1:53]:53")  // a bare v6 never carries a port
        #expect(hp("router.lan", 53) == "router.lan:53")
        #expect(HostPort("[::1]:5353", defaultPort: 53)?.port == 5353)
        #expect(HostPort("[::1]:5353", defaultPort: nil)?.host == "::1")
        #expect(HostPort("192.0.2.1:53", defaultPort: nil)?.address == IPAddress("192.0.2.1"))
        #expect(HostPort("example.com:53", defaultPort: nil)?.address == nil)
        // Invalid.
        for bad in ["192.0.2.1", "::1", "[::1]", "example.com"] {
            #expect(HostPort(bad, defaultPort: nil) == nil, "\(bad)")
        }
        for bad in ["", ":53", "host:", "host:0", "host:65536", "host:053", "host:+53", "host:5x",
                    "[::1]:", "[::1]x", "[::1", "[192.0.2.1]:53", "a..b:53", ".a:53", "a b:53",
                    "a_b:53", "1.2.3.999:53", "[fe80::1%eth0]:53", "1:2:3", "::1:53:x"] {
            #expect(HostPort(bad, defaultPort: 53) == nil, "\(bad)")
        }
        #expect(HostPort("a:65535", defaultPort: nil)?.port == 65535)
        #expect(OptionKind.hostPort(defaultPort: 53).accepts("9.9.9.9"))
        #expect(!OptionKind.hostPort(defaultPort: nil).accepts("9.9.9.9"))
    }

    @Test func oneOf() {
        let kind = OptionKind.oneOf(["debug", "info", "warn", "error"])
        #expect(kind.accepts("warn"))
        #expect(!kind.accepts("WARN"))
        #expect(!kind.accepts("warning"))
        #expect(!kind.accepts(""))
    }

    @Test func strings() {
        #expect(OptionKind.string.accepts(""))
        #expect(OptionKind.string.accepts("anything at all ' \" \n"))
    }

    @Test func parsersNeverTrapOnTruncationsAndJunk() {
        let samples = ["2001:db8::ffff:192.0.2.1", "[fe80::1]:5353", "192.168.100.200/24", "1w2d3h4m5s6ms",
                       "::ffff:1.2.3.4/96", "dns.example.com.:853", "-9223372036854775808"]
        let junk: [UInt8] = [0x3A, 0x2E, 0x5B, 0x5D, 0x2F, 0x25, 0x30, 0x39, 0x66, 0x6D, 0x73, 0x2D, 0xFF]
        for sample in samples {
            let bytes = Array(sample.utf8)
            var variants: [[UInt8]] = []
            for end in 0...bytes.count { variants.append(Array(bytes[0..<end])) }
            for c in junk {
                for at in 0...bytes.count {
                    var v = bytes
                    v.insert(c, at: at)
                    variants.append(v)
                }
            }
            for v in variants {
                let text = String(decoding: v, as: UTF8.self)
                _ = IPAddress(text)?.description
                _ = CIDR(text)?.network.description
                _ = HostPort(text, defaultPort: 53)?.description
                _ = HostPort(text, defaultPort: nil)
                _ = Duration.parseMilliseconds(text)
                _ = parseInt(text)
            }
        }
    }

    @Test func canonicalFormRoundTrips() {
        for text in ["::", "::1", "2001:db8::1:0:0:1", "fe80::1:2", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "10.0.0.1"] {
            #expect(IPAddress(text)?.description == text)
            #expect(IPAddress(IPAddress(text)?.description ?? "") == IPAddress(text))
        }
    }

    @Test func expectations() {
        #expect(OptionKind.int(min: 0, max: 1024).expectation == "an integer 0..1024")
        #expect(OptionKind.oneOf(["text", "json"]).expectation == "one of text, json")
        #expect(OptionKind.hostPort(defaultPort: 53).expectation.contains("default 53"))
        #expect(OptionKind.bool.expectation.hasPrefix("a boolean"))
    }
}
