@testable import Dnsd
import Config
import DNS
import Foundation
import Store
import Sys
import Testing
import Zone

@Suite struct ZoneSetTests {
    static func config(_ text: String) throws -> Config {
        try ConfigLoader.load(path: "test.conf", schema: Schema.dnsbox, readFile: { _ in Array(text.utf8) }, env: { _ in nil })
    }

    static let base = """
        config zone
        \toption name 'home.lan'
        \toption ttl '120'
        \tlist allow_transfer '192.0.2.0/24'
        \tlist allow_transfer '2001:db8::1'
        \tlist notify '127.0.0.1:5301'
        config record
        \toption zone 'home.lan'
        \toption name 'nas'
        \toption type 'A'
        \toption value '192.168.1.10'

        """

    func serial(_ set: ZoneSet, _ zone: String) throws -> UInt32 {
        let z = try #require(set.zones.first { $0.origin.description == zone })
        return try #require(z.soa).serial
    }

    @Test func synthesizedSerialStaysWhenNothingChangedAndGrowsOnEveryChange() throws {
        let c = try Self.config(Self.base)
        let first = ZoneSet.load(c, previous: [:], now: 1000)
        #expect(first.errors.isEmpty)
        #expect(try serial(first, "home.lan.") == 1000)
        // Same content a second later: same serial (no needless transfer).
        let same = ZoneSet.load(c, previous: first.asPrevious, now: 1001)
        #expect(try serial(same, "home.lan.") == 1000)
        // A change within the same second still gets a greater serial.
        let changed = try Self.config(Self.base.replacingOccurrences(of: "192.168.1.10", with: "192.168.1.11"))
        let second = ZoneSet.load(changed, previous: first.asPrevious, now: 1000)
        #expect(try serial(second, "home.lan.") == 1001)
        let later = ZoneSet.load(c, previous: second.asPrevious, now: 5000)
        #expect(try serial(later, "home.lan.") == 5000)
        // A clock behind the last serial never makes it go backwards.
        let behind = ZoneSet.load(changed, previous: later.asPrevious, now: 10)
        #expect(try serial(behind, "home.lan.") == 5001)
    }

    @Test func transferAndNotifyPolicyComesFromTheZoneSection() throws {
        let set = ZoneSet.load(try Self.config(Self.base), previous: [:], now: 1)
        let p = try #require(set.policies.first)
        #expect(p.allowTransfer.contains(SocketAddress(ip: "192.0.2.200", port: 4000)!))
        #expect(!p.allowTransfer.contains(SocketAddress(ip: "192.0.3.1", port: 4000)!))
        #expect(p.allowTransfer.contains(SocketAddress(ip: "2001:db8::1", port: 4000)!))
        #expect(!p.allowTransfer.contains(SocketAddress(ip: "2001:db8::2", port: 4000)!))
        #expect(p.notify == [SocketAddress(ip: "127.0.0.1", port: 5301)!])
    }

    @Test func storedZonesJoinTheConfigAndStandAlone() throws {
        let stored = [
            StoredZone(name: "home.lan", records: [StoredRecord(id: 1, name: "api", type: "AAAA", ttl: 30, value: "2001:db8::5")]),
            StoredZone(name: "service.local", ttl: 60, records: [
                StoredRecord(id: 2, name: "valkey", type: "A", value: "10.0.0.12"),
                StoredRecord(id: 3, name: "valkey", type: "A", value: "10.0.0.12"),   // duplicate: dropped
                StoredRecord(id: 4, name: "valkey.service.local.", type: "A", value: "10.0.0.13"),
            ]),
        ]
        let set = ZoneSet.load(try Self.config(Self.base), stored: stored, previous: [:], now: 1)
        #expect(set.errors.isEmpty)
        let home = try #require(set.zones.first { $0.origin.description == "home.lan." })
        #expect(home.records.map(\.description).contains("api.home.lan. 30 IN AAAA 2001:db8::5"))
        #expect(home.records.map(\.description).contains("nas.home.lan. 120 IN A 192.168.1.10"))
        let svc = try #require(set.zones.first { $0.origin.description == "service.local." })
        #expect(svc.records.filter { $0.type == .a }.map(\.description)
                == ["valkey.service.local. 60 IN A 10.0.0.12", "valkey.service.local. 60 IN A 10.0.0.13"])
        #expect(svc.soa != nil)
    }

    @Test func aBrokenStoredRecordKeepsThePreviousZoneAndNamesTheRecord() throws {
        let good = [StoredZone(name: "service.local", records: [StoredRecord(id: 7, name: "a", type: "A", value: "10.0.0.1")])]
        let first = ZoneSet.load(try Self.config(""), stored: good, previous: [:], now: 1)
        var bad = good
        bad[0].records.append(StoredRecord(id: 8, name: "b", type: "A", value: "10.0.0.300"))
        let second = ZoneSet.load(try Self.config(""), stored: bad, previous: first.asPrevious, now: 2)
        let svc = try DomainName("service.local.")
        #expect(second.zones.isEmpty && second.kept == [svc])
        #expect(second.errors.count == 1)
        #expect(second.errors[0].contains("stored record 8 of zone service.local"))
        #expect(second.errors[0].contains("keeping the previous version"))
    }

    @Test func configRecordsObeyTheZoneRules() throws {
        let text = Self.base + """
            config record
            \toption zone 'home.lan'
            \toption name 'nas'
            \toption type 'CNAME'
            \toption value 'other'

            """
        let set = ZoneSet.load(try Self.config(text), previous: [:], now: 1)
        #expect(set.zones.isEmpty)
        #expect(set.errors.count == 1 && set.errors[0].contains("CNAME and other data at 'nas.home.lan.'"))
        #expect(set.errors[0].contains("test.conf:"))
    }
}

@Suite struct DynamicServicesTests {
    @Test func servicesAndTheFallbackBecomeRecordsOfTheDynamicZone() throws {
        let c = try ZoneSetTests.config("""
        config zone
        \toption name 'Service.Local'
        \toption dynamic '1'
        \tlist fallback '10.0.0.1'
        \tlist fallback '2001:db8::1'
        \toption service_ttl '7'
        config zone
        \toption name 'plain.lan'
        """)
        let zones = DynamicServices.zones([
            StoredService(zone: "service.local", name: "valkey", type: "A", ttl: 0, records: ["10.0.0.12", "10.0.0.13"]),
            StoredService(zone: "service.local", name: "web", type: "AAAA", ttl: 30, records: ["2001:db8::20"]),
            StoredService(zone: "gone.local", name: "x", type: "A", ttl: 0, records: ["10.0.0.9"]),
        ], config: c)
        #expect(zones.map(\.name) == ["service.local"])
        let r = zones[0].records.map { "\($0.name) \($0.type) \($0.ttl ?? -1) \($0.value)" }
        #expect(r == ["* A 7 10.0.0.1", "* AAAA 7 2001:db8::1", "valkey A 7 10.0.0.12", "valkey A 7 10.0.0.13", "web AAAA 30 2001:db8::20"])
        let set = ZoneSet.load(c, stored: zones, previous: [:], now: 1000)
        #expect(set.errors.isEmpty)
        #expect(set.zones.count == 2)
    }
}

@Suite struct StoredSerialTests {
    @Test func theAPISerialWinsUnlessLeasesChangedTheZoneSinceItWasServed() throws {
        let c = try ZoneSetTests.config("")
        var z = StoredZone(name: "example.com", ttl: 300, records: [StoredRecord(name: "www", type: "A", value: "192.0.2.1")],
                           mname: "ns.example.com", rname: "admin.example.com", serial: 1000)
        let first = ZoneSet.load(c, stored: [z], previous: [:], now: 5000)
        let soa = try #require(first.zones.first?.soa)
        #expect(soa.serial == 1000 && soa.mname.description == "ns.example.com." && soa.rname.description == "admin.example.com.")
        // A lease record added, the API serial unchanged: one more.
        z.records.append(StoredRecord(name: "laptop", type: "A", value: "192.0.2.7"))
        let second = ZoneSet.load(c, stored: [z], previous: first.asPrevious, now: 5001)
        #expect(second.zones.first?.soa?.serial == 1001)
        // Nothing changed: the served serial stays.
        let third = ZoneSet.load(c, stored: [z], previous: second.asPrevious, now: 5002)
        #expect(third.zones.first?.soa?.serial == 1001)
        // The API moved its serial on: it wins again.
        z.serial = 2000
        let fourth = ZoneSet.load(c, stored: [z], previous: third.asPrevious, now: 5003)
        #expect(fourth.zones.first?.soa?.serial == 2000)
    }
}

@Suite struct ZoneReuseTests {
    @Test func aStoreChangeRebuildsOnlyTheZonesItTouched() throws {
        let c = try ZoneSetTests.config("""
        config zone
        \toption name 'home.lan'
        config record
        \toption zone 'home.lan'
        \toption name 'nas'
        \toption type 'A'
        \toption value '192.168.1.10'
        """)
        var api = StoredZone(name: "example.com", ttl: 300, records: [StoredRecord(name: "www", type: "A", value: "192.0.2.1")], serial: 7)
        let first = ZoneSet.load(c, stored: [api], previous: [:], now: 1000)
        #expect(first.zones.count == 2 && first.inputHashes.count == 2)
        // Nothing changed: both kept.
        let same = ZoneSet.load(c, stored: [api], previous: first.asPrevious, now: 1001, reusable: first.inputHashes)
        #expect(same.zones.isEmpty && Set(same.kept.map { $0.description }) == ["home.lan.", "example.com."])
        #expect(same.inputHashes == first.inputHashes)
        // An API write: only its zone is built again.
        api.records.append(StoredRecord(name: "mail", type: "A", value: "192.0.2.2"))
        api.serial = 8
        let write = ZoneSet.load(c, stored: [api], previous: first.asPrevious, now: 1002, reusable: first.inputHashes)
        #expect(write.zones.map { $0.origin.description } == ["example.com."])
        #expect(write.kept.map { $0.description } == ["home.lan."])
        // Without reusable hashes (a reload) everything is built.
        let reload = ZoneSet.load(c, stored: [api], previous: first.asPrevious, now: 1003)
        #expect(reload.zones.count == 2 && reload.kept.isEmpty)
    }
}
