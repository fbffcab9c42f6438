// Typed sections: every option read as required has a schema default (so
// no default is restated in code), and the typed values are what the file
// says, with the schema's defaults where it says nothing.

@testable import Config
import Testing

@Suite struct SectionTests {
    static let requiredReaders: [(String, (SectionReader) -> Void)] = [
        ("dnsbox", { _ = GlobalSection($0) }), ("dnsd", { _ = DnsdSection($0) }), ("forward", { _ = ForwardSection($0) }),
        ("zone", { _ = ZoneSection($0) }), ("record", { _ = RecordSection($0) }), ("api", { _ = APISection($0) }),
        ("dhcp", { _ = DHCPSection($0) }), ("host", { _ = HostSection($0) }),
    ]

    @Test func everyRequiredOptionHasASchemaDefault() {
        for (type, build) in Self.requiredReaders {
            let spec = Schema.dnsbox.section(type)
            #expect(spec != nil, "no schema section \(type)")
            var missing: [String] = []
            var r = SectionReader(UCISection(type: type, name: nil, location: SourceLocation(file: "t", line: 1, column: 1)), spec: spec)
            r.missingDefault = { missing.append($0) }
            build(r)
            #expect(missing.isEmpty, "\(type): read as required without a default: \(missing)")
        }
    }

    private func config(_ text: String) throws -> Config {
        try Config.validate(try UCIDocument.parse(text, file: "t"), schema: .dnsbox, env: { _ in nil })
    }

    @Test func valuesAreTheFilesWithSchemaDefaults() throws {
        let c = try config("""
            config dnsd 'main'
            \toption cache_size '50'
            \tlist forwarder '9.9.9.9'
            config zone
            \toption name 'Home.LAN.'
            \toption dynamic '1'
            config record
            \toption zone 'home.lan'
            \toption name 'NAS.home.lan.'
            \toption type 'A'
            \toption value '10.0.0.1'
            config dhcp 'lan'
            \toption interface 'br-lan'
            \toption domain 'lan.'
            config dhcp 'guest'
            \toption interface 'guest0'
            \toption ignore '1'
            config api
            \toption enabled '0'
            """)
        #expect(c.dnsd.cacheSize == 50)
        #expect(c.dnsd.listen == ["0.0.0.0:53", "[::]:53"])
        #expect(c.dnsd.workers == 0 && c.dnsd.tcpIdleTimeoutMs == 10_000 && c.dnsd.upstreamTimeoutMs == 1500)
        #expect(c.dnsd.serveStaleMs == 86_400_000 && c.dnsd.forwarders == ["9.9.9.9"])
        #expect(c.zones.count == 1 && c.zones[0].key == "home.lan" && c.zones[0].ttl == 3600 && c.zones[0].dynamic)
        #expect(c.zones[0].serviceTTL == 5)
        #expect(c.records[0].zoneKey == "home.lan" && c.records[0].ownerKey == "nas")
        #expect(c.dhcp[0].start == 100 && c.dhcp[0].limit == 150 && c.dhcp[0].leasetime == "12h")
        #expect(c.dhcp[0].domain == "lan" && c.dhcp[0].isServed && !c.dhcp[1].isServed)
        #expect(c.api.listen == "127.0.0.1:8080" && c.api.rateLimit == 10 && c.api.timeoutMs == 10_000)
        #expect(c.isEnabled("dnsd") && c.isEnabled("dhcp") && !c.isEnabled("api") && !c.isEnabled("rad"))
        #expect(c.global.rundir == "/run/dnsbox")
    }
}
