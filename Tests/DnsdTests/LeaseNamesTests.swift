// Lease names as zones for dnsd: which leases publish, where their records go.

@testable import Dnsd
import Config
import Store
import Testing

@Suite struct LeaseNamesTests {
    static func lease(_ a: String, _ name: String?, expires: Int64 = 2000, state: Int = 2, iface: String = "br-lan") -> StoredLease {
        StoredLease(address: a, interface: iface, client: [1], mac: "aa:bb:cc:00:00:01", expires: expires, state: state, name: name)
    }

    @Test func boundNamedLeasesBecomeAAndPTRInTheDomainAndTheSubnetZones() throws {
        let c = try ZoneSetTests.config("config dhcp 'lan'\n\toption interface 'br-lan'\n\toption domain 'lan'\n")
        let zones = LeaseNames.zones(leases: [Self.lease("192.168.1.100", "laptop"), Self.lease("192.168.1.101", nil),
                                              Self.lease("192.168.1.102", "old", expires: 500),
                                              Self.lease("192.168.1.103", "declined", state: 3)],
                                     config: c, stored: [], now: 1000, subnets: ["br-lan": (0xC0A8_0100, 24)])
        #expect(zones.map(\.name) == ["1.168.192.in-addr.arpa", "lan"])
        #expect(zones[1].records.map { "\($0.name) \($0.type) \($0.value)" } == ["laptop A 192.168.1.100"])
        #expect(zones[0].records.map { "\($0.name) \($0.type) \($0.value)" } == ["100 PTR laptop.lan."])
    }

    @Test func configAndAPINamesAreNeverTakenOverAndTheNewestLeaseWins() throws {
        let c = try ZoneSetTests.config("""
            config dhcp 'lan'
            \toption interface 'br-lan'
            \toption domain 'lan'
            config zone
            \toption name 'lan'
            config zone
            \toption name '168.192.in-addr.arpa'
            config record
            \toption zone 'lan'
            \toption name 'nas'
            \toption type 'A'
            \toption value '192.168.1.10'
            """)
        let api = StoredZone(name: "lan", records: [StoredRecord(name: "printer", type: "A", value: "192.168.1.20")])
        let zones = LeaseNames.zones(leases: [Self.lease("192.168.1.100", "nas"), Self.lease("192.168.1.101", "printer"),
                                              Self.lease("192.168.1.102", "pc", expires: 3000),
                                              Self.lease("192.168.1.103", "pc", expires: 2500)],
                                     config: c, stored: [api], now: 1000)
        let lan = try #require(zones.first { $0.name == "lan" })
        #expect(lan.records.map { "\($0.name) \($0.value)" } == ["pc 192.168.1.102"])
        // The PTR goes into the configured enclosing reverse zone, owner relative to it.
        let rev = try #require(zones.first { $0.name == "168.192.in-addr.arpa" })
        #expect(rev.records.map { "\($0.name) \($0.value)" } == ["102.1 pc.lan."])
    }

    @Test func noDomainNoNames() throws {
        let c = try ZoneSetTests.config("config dhcp 'lan'\n\toption interface 'br-lan'\n")
        #expect(LeaseNames.zones(leases: [Self.lease("192.168.1.100", "laptop")], config: c, stored: [], now: 0).isEmpty)
    }
}
