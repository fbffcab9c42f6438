import CShim
import Sys

/// dnsbox's state: one SQLite database in WAL mode shared by all applets.
///
/// Contract: every write goes through `write`, which runs in one
/// transaction and bumps the store generation; when `write` returns the
/// change is durable. Readers poll `generation()` to notice changes made by
/// any process (a lost control-socket poke only delays an update).
public final class Store {
    public let db: Database

    /// Opens the store, creating its directory (0750) and applying migrations.
    public init(path: String) throws(StoreError) {
        let dir = FileSystem.dirname(path)
        if FileSystem.kind(dir) != .directory {
            do throws(SysError) {
                try FileSystem.makeDirectories(dir, mode: 0o750)
            } catch {
                throw StoreError("create database directory \(dir)", code: SQLITE_CANTOPEN, message: error.message)
            }
        }
        db = try Database(path: path)
        try Migrations.apply(to: db)
    }

    public var path: String { db.path }

    public var schemaVersion: Int { Migrations.currentVersion(db) }

    /// The change counter: increases with every committed write.
    public func generation() throws(StoreError) -> Int64 {
        let s = try db.prepare("SELECT value FROM meta WHERE key = 'generation'")
        defer { s.reset() }
        guard try s.step() else { return 0 }
        return Int64(s.string(0) ?? "0") ?? 0
    }

    /// Runs `body` in one durable transaction and bumps the generation.
    /// Returns what `body` returned.
    public func write<T>(_ body: (Database) throws(StoreError) -> T) throws(StoreError) -> T {
        try db.transaction { () throws(StoreError) -> T in
            let v = try body(db)
            try db.prepare("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'").run()
            return v
        }
    }

    /// Like `write`, but the generation moves only when `body` says it
    /// changed something (a batch whose requests were all refused costs
    /// readers no rebuild, and SQLite no WAL write).
    @discardableResult
    public func writeIfChanged(_ body: (Database) throws(StoreError) -> Bool) throws(StoreError) -> Bool {
        try db.transaction { () throws(StoreError) -> Bool in
            let changed = try body(db)
            if changed {
                try db.prepare("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'").run()
            }
            return changed
        }
    }

    // MARK: key/value state (small settings and state that need no table of their own)

    public func get(_ ns: String, _ key: String) throws(StoreError) -> String? {
        let s = try db.prepare("SELECT value FROM kv WHERE ns = ?1 AND key = ?2")
        defer { s.reset() }
        s.bind(1, ns).bind(2, key)
        return try s.step() ? s.string(0) : nil
    }

    public func set(_ ns: String, _ key: String, _ value: String) throws(StoreError) {
        try write { (db) throws(StoreError) in
            let s = try db.prepare("INSERT INTO kv(ns, key, value, updated) VALUES(?1, ?2, ?3, ?4) ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value, updated = excluded.updated")
            s.bind(1, ns).bind(2, key).bind(3, value).bind(4, Sys.realtimeNanos() / 1_000_000_000)
            try s.run()
        }
    }

    @discardableResult
    public func delete(_ ns: String, _ key: String) throws(StoreError) -> Bool {
        try write { (db) throws(StoreError) -> Bool in
            let s = try db.prepare("DELETE FROM kv WHERE ns = ?1 AND key = ?2")
            s.bind(1, ns).bind(2, key)
            try s.run()
            return db.changes > 0
        }
    }

    /// All keys of a namespace in key order.
    public func list(_ ns: String) throws(StoreError) -> [(key: String, value: String)] {
        let s = try db.prepare("SELECT key, value FROM kv WHERE ns = ?1 ORDER BY key")
        s.bind(1, ns)
        var out: [(key: String, value: String)] = []
        while try s.step() { out.append((s.string(0) ?? "", s.string(1) ?? "")) }
        return out
    }

    public func count(_ ns: String) throws(StoreError) -> Int {
        let s = try db.prepare("SELECT COUNT(*) FROM kv WHERE ns = ?1")
        defer { s.reset() }
        s.bind(1, ns)
        return try s.step() ? Int(s.int(0)) : 0
    }
}
