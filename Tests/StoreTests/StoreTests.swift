import Foundation
import Testing
@testable import Store
import Sys

/// A database path three directories deep in a fresh temporary directory,
/// removed when the test's `TempDir` goes out of scope.
private final class TempDir {
    let root: String
    init(_ tag: String) { root = "/tmp/dnsbox-store-test-\(Sys.pid)-\(tag)-\(Sys.random64() % 1_000_000)" }
    var db: String { root + "/sub/dir/dnsbox.db" }
    deinit { try? FileManager.default.removeItem(atPath: root) }
}

@Suite struct StoreTests {
    /// The log dnsd reads instead of every service: what changed since a
    /// generation, deletions included; any other zone input moves a counter.
    @Test func serviceChangesAreLoggedAndOtherInputsCounted() throws {
        let tmp = TempDir("delta")
        defer { withExtendedLifetime(tmp) {} }
        let store = try Store(path: tmp.db)
        let svc = StoredService(zone: "dyn.local", name: "web", type: "A", ttl: 0, records: ["10.0.0.1"])
        try store.write { (db) throws(StoreError) in try Services.put(db, svc) }
        let g1 = try store.generation()
        let inputs = try store.zoneInputs()
        try store.write { (db) throws(StoreError) in
            try Services.put(db, StoredService(zone: "dyn.local", name: "web", type: "A", ttl: 0, records: ["10.0.0.2"]))
            try Services.put(db, StoredService(zone: "dyn.local", name: "db", type: "AAAA", ttl: 5, records: ["2001:db8::1"]))
        }
        try store.write { (db) throws(StoreError) in _ = try Services.delete(db, zone: "dyn.local", name: "db") }
        var d = try store.delta(since: g1)
        #expect(d.generation == g1 + 2 && d.zoneInputs == inputs)
        let byName = Dictionary(d.services.map { ($0.name, $0.service) }, uniquingKeysWith: { a, _ in a })
        #expect(byName.count == 2 && d.services.count == 2)
        #expect(byName["web"]??.records == ["10.0.0.2"])
        #expect(byName["db"].map { $0 == nil } == true)   // deleted
        #expect(try store.delta(since: d.generation).services.isEmpty)
        // Any other input moves the counter: a zone, a record, a lease.
        try store.putZone("api.local", ttl: 60)
        #expect(try store.zoneInputs() > inputs)
        let afterZone = try store.zoneInputs()
        try store.commitLeases([StoredLease(address: "192.168.1.9", interface: "lan", client: [1], mac: "aa:bb:cc:00:00:09",
                                            expires: -1, state: 2, name: "x")], removing: [])
        #expect(try store.zoneInputs() > afterZone)
        // Forgotten changes are gone; later ones stay.
        try store.write { (db) throws(StoreError) in try Services.put(db, svc) }
        let last = try store.generation()
        #expect(try store.forgetServiceChanges(through: last - 1, limit: 1) == false)   // one of several
        try store.forgetServiceChanges(through: last - 1)
        d = try store.delta(since: 0)
        #expect(d.services.map { $0.name } == ["web"] && d.services.first?.service?.records == ["10.0.0.1"])
    }

    @Test func zonesAndRecordsRoundTripWithTheGeneration() throws {
        let tmp = TempDir("zones")
        defer { withExtendedLifetime(tmp) {} } // ARC may not end it earlier
        let store = try Store(path: tmp.db)
        try store.putZone("service.local", ttl: 60)
        let a = try store.addRecord(zone: "service.local", StoredRecord(name: "valkey", type: "A", value: "10.0.0.12"))
        try store.addRecord(zone: "service.local", StoredRecord(name: "valkey", type: "AAAA", ttl: 30, value: "2001:db8::12"))
        #expect(throws: StoreError.self) {
            try store.addRecord(zone: "nope.local", StoredRecord(name: "x", type: "A", value: "10.0.0.1"))
        }
        var (g, zones) = try store.zones()
        let current = try store.generation()
        #expect(g == 3 && g == current)
        #expect(zones == [StoredZone(name: "service.local", ttl: 60, records: [
            StoredRecord(id: a, name: "valkey", type: "A", value: "10.0.0.12"),
            StoredRecord(id: a + 1, name: "valkey", type: "AAAA", ttl: 30, value: "2001:db8::12"),
        ])])
        let deleted = try store.deleteRecord(id: a)
        let again = try store.deleteRecord(id: a)
        #expect(deleted && !again)
        (_, zones) = try store.zones()
        #expect(zones.first?.records.map(\.type) == ["AAAA"])
        let zoneDeleted = try store.deleteZone("service.local")
        #expect(zoneDeleted)
        (g, zones) = try store.zones()
        #expect(zones.isEmpty && g == 6)   // every committed write counts, the refused one did not
    }

    @Test func leasesCommitInOneTransactionAndSurviveReopen() throws {
        let tmp = TempDir("leases")
        defer { withExtendedLifetime(tmp) {} }
        let a = StoredLease(address: "192.168.1.100", interface: "br-lan", client: [1, 0xAA, 0xBB, 0xCC, 0, 0, 1],
                            mac: "aa:bb:cc:00:00:01", expires: 1_800_000_000, state: 2, name: "laptop")
        var b = a
        b.address = "192.168.1.101"
        b.name = nil
        b.expires = -1
        do {
            let store = try Store(path: tmp.db)
            let g0 = try store.generation()
            try store.commitLeases([a, b], removing: [])
            #expect(try store.generation() == g0 + 1)   // one write for the batch
            var moved = a
            moved.expires = 1_800_003_600
            try store.commitLeases([moved], removing: ["192.168.1.101"])
        }
        let store = try Store(path: tmp.db)
        var expected = a
        expected.expires = 1_800_003_600
        #expect(try store.leases() == [expected])
        #expect(try store.leases(interface: "other").isEmpty)
    }

    @Test func openCreatesMissingDirectoriesAndAppliesMigrations() throws {
        let tmp = TempDir("open")
        defer { withExtendedLifetime(tmp) {} } // ARC may not end it earlier
        let path = tmp.db
        let store = try Store(path: path)
        #expect(FileSystem.kind(FileSystem.dirname(path)) == .directory)
        #expect(store.schemaVersion == Migrations.latestVersion)
        #expect(try store.generation() == 0)
        let s = try store.db.prepare("PRAGMA journal_mode")
        defer { s.reset() }
        #expect(try s.step())
        #expect(s.string(0) == "wal")
    }

    @Test func writesBumpTheGenerationAndPersistAcrossReopen() throws {
        let tmp = TempDir("persist")
        defer { withExtendedLifetime(tmp) {} } // ARC may not end it earlier
        let path = tmp.db
        do {
            let store = try Store(path: path)
            try store.set("peers", "b", "2")
            try store.set("peers", "a", "1")
            try store.set("peers", "a", "one")
            #expect(try store.generation() == 3)
            #expect(try store.delete("peers", "missing") == false)
            #expect(try store.generation() == 4)
        }
        let again = try Store(path: path)
        #expect(try again.get("peers", "a") == "one")
        #expect(try again.get("peers", "zzz") == nil)
        #expect(try again.list("peers").map { "\($0.key)=\($0.value)" } == ["a=one", "b=2"])
        #expect(try again.count("peers") == 2)
        #expect(try again.delete("peers", "a"))
        #expect(try again.list("peers").count == 1)
        #expect(try again.generation() == 5)
    }

    @Test func anotherConnectionSeesTheGenerationChange() throws {
        let tmp = TempDir("gen")
        defer { withExtendedLifetime(tmp) {} } // ARC may not end it earlier
        let path = tmp.db
        let writer = try Store(path: path)
        let reader = try Store(path: path)
        let g0 = try reader.generation()
        try writer.set("x", "k", "v")
        #expect(try reader.generation() == g0 + 1)
        #expect(try reader.get("x", "k") == "v")
    }

    @Test func aFailedWriteRollsBackEverything() throws {
        let tmp = TempDir("rollback")
        defer { withExtendedLifetime(tmp) {} } // ARC may not end it earlier
        let store = try Store(path: tmp.db)
        #expect(throws: StoreError.self) {
            try store.write { (db) throws(StoreError) in
                let s = try db.prepare("INSERT INTO kv(ns, key, value, updated) VALUES('n', 'k', 'v', 0)")
                try s.run()
                try db.exec("INSERT INTO no_such_table VALUES(1)")
            }
        }
        #expect(try store.get("n", "k") == nil)
        #expect(try store.generation() == 0)
    }

    @Test func aNewerSchemaIsRefusedNotDowngraded() throws {
        let tmp = TempDir("newer")
        defer { withExtendedLifetime(tmp) {} } // ARC may not end it earlier
        let path = tmp.db
        do {
            let store = try Store(path: path)
            try store.db.exec("PRAGMA user_version = 999")
        }
        do {
            _ = try Store(path: path)
            Issue.record("opening a newer schema must fail")
        } catch {
            #expect(error.message.contains("newer than this dnsbox"))
        }
    }

    @Test func integrityCheckSaysOK() throws {
        let tmp = TempDir("check")
        defer { withExtendedLifetime(tmp) {} } // ARC may not end it earlier
        let store = try Store(path: tmp.db)
        #expect(try store.db.integrityCheck() == "ok")
    }

    @Test func anUnwritableLocationIsAClearError() {
        do {
            _ = try Store(path: "/proc/dnsbox-cannot-be-here/x.db")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("/proc/dnsbox-cannot-be-here"))
        }
    }
}
