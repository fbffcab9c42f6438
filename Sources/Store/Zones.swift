import CShim
import Sys

/// Zones and records kept in the store (the API writes them; dnsd serves
/// them next to the zones of the config). Names and values are kept in
/// presentation form, exactly as a `config record` section would give them:
/// the owner relative to the zone (or absolute with a final dot, or `@`),
/// the type mnemonic, the RDATA text. Validation is the writer's job; dnsd
/// checks again when it builds a zone and keeps the zone's previous version
/// when something fails.
public struct StoredRecord: Equatable, Sendable {
    public var id: Int64
    public var name: String
    public var type: String
    public var ttl: Int?
    public var value: String

    public init(id: Int64 = 0, name: String, type: String, ttl: Int? = nil, value: String) {
        self.id = id
        self.name = name
        self.type = type
        self.ttl = ttl
        self.value = value
    }
}

public struct StoredZone: Equatable, Sendable {
    /// The zone's name without the final dot, e.g. `service.local`.
    public var name: String
    public var ttl: Int?
    public var records: [StoredRecord]
    /// The SOA's MNAME and RNAME (absolute, without the final dot); nil =
    /// `ns1.ZONE` and `hostmaster.ZONE`.
    public var mname: String?
    public var rname: String?
    /// The SOA serial the API keeps (bumped on every change of the zone);
    /// nil = dnsd derives one.
    public var serial: Int64?
    /// Records in the zone (list reads fill this in without the records).
    public var recordCount = 0

    public init(name: String, ttl: Int? = nil, records: [StoredRecord] = [], mname: String? = nil,
                rname: String? = nil, serial: Int64? = nil) {
        self.name = name
        self.ttl = ttl
        self.records = records
        self.mname = mname
        self.rname = rname
        self.serial = serial
    }
}

extension Store {
    /// Every stored zone with its records (zones by name, records in the
    /// order they were added) and the generation they belong to. One read
    /// transaction, so the result is a consistent picture of one generation.
    public func zones() throws(StoreError) -> (generation: Int64, zones: [StoredZone]) {
        try db.readTransaction { () throws(StoreError) -> (generation: Int64, zones: [StoredZone]) in
            let generation = try self.generation()
            var out: [StoredZone] = []
            var index: [String: Int] = [:]
            let z = try db.prepare("SELECT name, ttl, mname, rname, serial FROM zones ORDER BY name")
            while try z.step() {
                let name = z.string(0) ?? ""
                index[name] = out.count
                out.append(Zones.row(z))
            }
            let r = try db.prepare("SELECT id, zone, name, type, ttl, value FROM records ORDER BY id")
            while try r.step() {
                guard let i = index[r.string(1) ?? ""] else { continue }
                out[i].records.append(StoredRecord(id: r.int(0), name: r.string(2) ?? "@", type: r.string(3) ?? "",
                                                   ttl: r.isNull(4) ? nil : Int(r.int(4)), value: r.string(5) ?? ""))
            }
            return (generation, out)
        }
    }

    /// Creates a zone (or changes its TTL) in one durable write.
    public func putZone(_ name: String, ttl: Int? = nil) throws(StoreError) {
        try write { (db) throws(StoreError) in
            let s = try db.prepare("INSERT INTO zones(name, ttl, updated) VALUES(?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET ttl = excluded.ttl, updated = excluded.updated")
            s.bind(1, name).bind(3, Sys.realtimeNanos() / 1_000_000_000)
            if let t = ttl { s.bind(2, t) }
            try s.run()
        }
    }

    /// Deletes a zone and its records; false when there was no such zone.
    @discardableResult
    public func deleteZone(_ name: String) throws(StoreError) -> Bool {
        try write { (db) throws(StoreError) -> Bool in
            try db.prepare("DELETE FROM records WHERE zone = ?1").bind(1, name).run()
            try db.prepare("DELETE FROM zones WHERE name = ?1").bind(1, name).run()
            return db.changes > 0
        }
    }

    /// Adds a record to an existing zone and returns its id.
    @discardableResult
    public func addRecord(zone: String, _ r: StoredRecord) throws(StoreError) -> Int64 {
        try write { (db) throws(StoreError) -> Int64 in
            let s = try db.prepare("INSERT INTO records(zone, name, type, ttl, value, updated) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM zones WHERE name = ?1)")
            s.bind(1, zone).bind(2, r.name).bind(3, r.type).bind(5, r.value).bind(6, Sys.realtimeNanos() / 1_000_000_000)
            if let t = r.ttl { s.bind(4, t) }
            try s.run()
            guard db.changes > 0 else {
                throw StoreError("add record", code: SQLITE_CONSTRAINT, message: "no zone named '\(zone)'")
            }
            return db.lastInsertRowID
        }
    }

    /// Deletes one record by id; false when there was none.
    @discardableResult
    public func deleteRecord(id: Int64) throws(StoreError) -> Bool {
        try write { (db) throws(StoreError) -> Bool in
            try db.prepare("DELETE FROM records WHERE id = ?1").bind(1, id).run()
            return db.changes > 0
        }
    }
}

/// Zone and record reads and writes inside the caller's transaction (the
/// API commits a batch of requests in one).
public enum Zones {
    static func row(_ z: Statement) -> StoredZone {
        StoredZone(name: z.string(0) ?? "", ttl: z.isNull(1) ? nil : Int(z.int(1)),
                   mname: z.isNull(2) ? nil : z.string(2), rname: z.isNull(3) ? nil : z.string(3),
                   serial: z.isNull(4) ? nil : z.int(4))
    }

    static func recordRow(_ r: Statement) -> StoredRecord {
        StoredRecord(id: r.int(0), name: r.string(1) ?? "@", type: r.string(2) ?? "",
                     ttl: r.isNull(3) ? nil : Int(r.int(3)), value: r.string(4) ?? "")
    }

    /// Zones by name, `limit` from `offset`, with their record counts; and how many there are.
    public static func list(_ db: Database, offset: Int = 0, limit: Int = Int(Int32.max)) throws(StoreError) -> (zones: [StoredZone], total: Int) {
        let c = try db.prepare("SELECT COUNT(*) FROM zones")
        defer { c.reset() }
        let total = try c.step() ? Int(c.int(0)) : 0
        let s = try db.prepare("SELECT name, ttl, mname, rname, serial, (SELECT COUNT(*) FROM records r WHERE r.zone = z.name) FROM zones z ORDER BY name LIMIT ?1 OFFSET ?2")
        s.bind(1, limit).bind(2, offset)
        var out: [StoredZone] = []
        while try s.step() {
            var z = row(s)
            z.recordCount = Int(s.int(5))
            out.append(z)
        }
        return (out, total)
    }

    /// One zone without its records (but with their count).
    public static func get(_ db: Database, _ name: String) throws(StoreError) -> StoredZone? {
        let s = try db.prepare("SELECT name, ttl, mname, rname, serial, (SELECT COUNT(*) FROM records r WHERE r.zone = z.name) FROM zones z WHERE name = ?1")
        defer { s.reset() }
        s.bind(1, name)
        guard try s.step() else { return nil }
        var z = row(s)
        z.recordCount = Int(s.int(5))
        return z
    }

    /// Creates a zone; false when one of that name exists.
    public static func create(_ db: Database, _ z: StoredZone) throws(StoreError) -> Bool {
        let s = try db.prepare("INSERT INTO zones(name, ttl, mname, rname, serial, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO NOTHING")
        s.bind(1, z.name).bind(3, z.mname).bind(4, z.rname).bind(6, Sys.realtimeNanos() / 1_000_000_000)
        if let t = z.ttl { s.bind(2, t) }
        if let n = z.serial { s.bind(5, n) }
        try s.run()
        return db.changes > 0
    }

    @discardableResult
    public static func delete(_ db: Database, _ name: String) throws(StoreError) -> Bool {
        try db.prepare("DELETE FROM records WHERE zone = ?1").bind(1, name).run()
        try db.prepare("DELETE FROM zones WHERE name = ?1").bind(1, name).run()
        return db.changes > 0
    }

    /// Moves the zone's serial on: max(now, serial + 1) in RFC 1982 terms.
    public static func bumpSerial(_ db: Database, _ name: String) throws(StoreError) {
        let now = Sys.realtimeNanos() / 1_000_000_000
        let s = try db.prepare("UPDATE zones SET serial = CASE WHEN serial IS NULL OR ((?2 - serial) & 4294967295) BETWEEN 1 AND 2147483647 THEN ?2 & 4294967295 ELSE (serial + 1) & 4294967295 END, updated = ?2 WHERE name = ?1")
        s.bind(1, name).bind(2, now)
        try s.run()
    }

    /// Records of a zone by id, optionally only an owner and/or a type; and how many match.
    public static func records(_ db: Database, zone: String, name: String? = nil, type: String? = nil,
                               offset: Int = 0, limit: Int = Int(Int32.max)) throws(StoreError) -> (records: [StoredRecord], total: Int) {
        let filter = "zone = ?1 AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR type = ?3)"
        let c = try db.prepare("SELECT COUNT(*) FROM records WHERE " + filter)
        defer { c.reset() }
        c.bind(1, zone).bind(2, name).bind(3, type)
        let total = try c.step() ? Int(c.int(0)) : 0
        let s = try db.prepare("SELECT id, name, type, ttl, value FROM records WHERE " + filter + " ORDER BY id LIMIT ?4 OFFSET ?5")
        s.bind(1, zone).bind(2, name).bind(3, type).bind(4, limit).bind(5, offset)
        var out: [StoredRecord] = []
        while try s.step() { out.append(recordRow(s)) }
        return (out, total)
    }

    public static func record(_ db: Database, zone: String, id: Int64) throws(StoreError) -> StoredRecord? {
        let s = try db.prepare("SELECT id, name, type, ttl, value FROM records WHERE zone = ?1 AND id = ?2")
        defer { s.reset() }
        s.bind(1, zone).bind(2, id)
        return try s.step() ? recordRow(s) : nil
    }

    /// Adds a record to an existing zone; its id.
    public static func addRecord(_ db: Database, zone: String, _ r: StoredRecord) throws(StoreError) -> Int64 {
        let s = try db.prepare("INSERT INTO records(zone, name, type, ttl, value, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6)")
        s.bind(1, zone).bind(2, r.name).bind(3, r.type).bind(5, r.value).bind(6, Sys.realtimeNanos() / 1_000_000_000)
        if let t = r.ttl { s.bind(4, t) }
        try s.run()
        return db.lastInsertRowID
    }

    /// Replaces a record's fields; false when there is no such record.
    public static func updateRecord(_ db: Database, zone: String, _ r: StoredRecord) throws(StoreError) -> Bool {
        let s = try db.prepare("UPDATE records SET name = ?3, type = ?4, ttl = ?5, value = ?6, updated = ?7 WHERE zone = ?1 AND id = ?2")
        s.bind(1, zone).bind(2, r.id).bind(3, r.name).bind(4, r.type).bind(6, r.value).bind(7, Sys.realtimeNanos() / 1_000_000_000)
        if let t = r.ttl { s.bind(5, t) }
        try s.run()
        return db.changes > 0
    }

    public static func deleteRecord(_ db: Database, zone: String, id: Int64) throws(StoreError) -> Bool {
        try db.prepare("DELETE FROM records WHERE zone = ?1 AND id = ?2").bind(1, zone).bind(2, id).run()
        return db.changes > 0
    }
}
