import Sys

/// A zone dnsd transfers from a primary (a `config zone` with `primary`,
/// or one added through `POST /api/v1/zones/transfer`), and the last
/// version it received: kept so a restart serves it at once, without a
/// transfer, until it expires.
public struct StoredSecondary: Equatable, Sendable {
    /// Without the final dot.
    public var name: String
    /// `ADDR[:PORT]` each.
    public var primaries: [String]
    /// Added through the API (the config's are written by dnsd itself).
    public var api: Bool
    /// The version held, when one was received.
    public var serial: Int64?
    /// Wall-clock seconds of the last answer from a primary, and when the
    /// data held expires (SOA expire after that answer).
    public var checked: Int64?
    public var expires: Int64?
    /// The zone as master-file text (nil: never transferred).
    public var zone: String?

    public init(name: String, primaries: [String], api: Bool = false, serial: Int64? = nil, checked: Int64? = nil,
                expires: Int64? = nil, zone: String? = nil) {
        self.name = name
        self.primaries = primaries
        self.api = api
        self.serial = serial
        self.checked = checked
        self.expires = expires
        self.zone = zone
    }
}

extension Store {
    /// Every secondary zone; `withData` also reads the zone texts.
    public func secondaries(withData: Bool = false) throws(StoreError) -> [StoredSecondary] {
        try db.readTransaction { () throws(StoreError) -> [StoredSecondary] in try Secondaries.list(db, withData: withData) }
    }

    static func split(_ list: String) -> [String] {
        list.split(separator: " ").map { String($0) }
    }

    /// Keeps what a transfer brought (`zone` non-nil) or that the primary
    /// answered (`zone` nil: the times only), in one durable write that does
    /// not move the generation: dnsd itself is the writer and the reader.
    public func saveTransfer(_ name: String, primaries: [String], serial: Int64?, checked: Int64, expires: Int64,
                             zone: String?) throws(StoreError) {
        _ = try writeIfChanged { (db) throws(StoreError) -> Bool in
            let now = Sys.realtimeNanos() / 1_000_000_000
            let s = try db.prepare("INSERT INTO secondary_zones(name, primaries, api, serial, checked, expires, zone, updated) VALUES(?1, ?2, 0, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO UPDATE SET serial = coalesce(excluded.serial, serial), checked = excluded.checked, expires = excluded.expires, zone = coalesce(excluded.zone, zone), updated = excluded.updated")
            s.bind(1, name).bind(2, primaries.joined(separator: " ")).bind(4, checked).bind(5, expires).bind(6, zone).bind(7, now)
            if let serial { s.bind(3, serial) }
            try s.run()
            return false
        }
    }

    /// Forgets the config's secondary zones not in `keep` (a zone removed
    /// from the config); the API's stay.
    public func pruneSecondaries(keeping keep: [String]) throws(StoreError) {
        _ = try writeIfChanged { (db) throws(StoreError) -> Bool in
            let s = try db.prepare("SELECT name FROM secondary_zones WHERE api = 0")
            var gone: [String] = []
            while try s.step() {
                let n = s.string(0) ?? ""
                if !keep.contains(n) { gone.append(n) }
            }
            s.reset()
            for n in gone { try db.prepare("DELETE FROM secondary_zones WHERE name = ?1").bind(1, n).run() }
            return false
        }
    }
}

/// Secondary zone reads and writes inside the caller's transaction (the
/// API commits a batch of requests in one; the commit moves the generation
/// and dnsd starts transferring).
public enum Secondaries {
    static let columns = "name, primaries, api, serial, checked, expires, "

    static func row(_ s: Statement) -> StoredSecondary {
        StoredSecondary(name: s.string(0) ?? "", primaries: Store.split(s.string(1) ?? ""), api: s.int(2) != 0,
                        serial: s.isNull(3) ? nil : s.int(3), checked: s.isNull(4) ? nil : s.int(4),
                        expires: s.isNull(5) ? nil : s.int(5), zone: s.isNull(6) ? nil : s.string(6))
    }

    /// Every secondary zone; `withData` also reads the zone texts.
    public static func list(_ db: Database, withData: Bool = false) throws(StoreError) -> [StoredSecondary] {
        let s = try db.prepare("SELECT " + columns + (withData ? "zone" : "NULL") + " FROM secondary_zones ORDER BY name")
        defer { s.reset() }
        var out: [StoredSecondary] = []
        while try s.step() { out.append(row(s)) }
        return out
    }

    /// One secondary zone; `withData` also reads its zone text.
    public static func get(_ db: Database, _ name: String, withData: Bool = false) throws(StoreError) -> StoredSecondary? {
        let s = try db.prepare("SELECT " + columns + (withData ? "zone" : "NULL") + " FROM secondary_zones WHERE name = ?1")
        defer { s.reset() }
        s.bind(1, name)
        return try s.step() ? row(s) : nil
    }

    /// Adds a secondary zone from the API, or changes its primaries; false
    /// when a zone of that name is a secondary from the config.
    public static func put(_ db: Database, _ name: String, primaries: [String]) throws(StoreError) -> Bool {
        let s = try db.prepare("INSERT INTO secondary_zones(name, primaries, api, updated) VALUES(?1, ?2, 1, ?3) ON CONFLICT(name) DO UPDATE SET primaries = excluded.primaries, updated = excluded.updated WHERE api = 1")
        s.bind(1, name).bind(2, primaries.joined(separator: " ")).bind(3, Sys.realtimeNanos() / 1_000_000_000)
        try s.run()
        return db.changes > 0
    }

    /// Removes an API secondary zone and its data; false when there was none.
    @discardableResult
    public static func delete(_ db: Database, _ name: String) throws(StoreError) -> Bool {
        try db.prepare("DELETE FROM secondary_zones WHERE name = ?1 AND api = 1").bind(1, name).run()
        return db.changes > 0
    }
}
