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

    public init(name: String, ttl: Int? = nil, records: [StoredRecord] = []) {
        self.name = name
        self.ttl = ttl
        self.records = records
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
            let z = try db.prepare("SELECT name, ttl FROM zones ORDER BY name")
            while try z.step() {
                let name = z.string(0) ?? ""
                index[name] = out.count
                out.append(StoredZone(name: name, ttl: z.isNull(1) ? nil : Int(z.int(1))))
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
