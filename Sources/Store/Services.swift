import CShim
import Sys

/// A dynamic service (the dynresolve model): one name in a dynamic zone
/// with one address type, its addresses and a TTL. The API writes them;
/// dnsd serves them as records of the zone.
public struct StoredService: Equatable, Sendable {
    /// The zone, lowercased, without the final dot.
    public var zone: String
    /// The owner relative to the zone, lowercased (`valkey`, `a.b`).
    public var name: String
    /// `A` or `AAAA`.
    public var type: String
    /// 0 = the zone's default.
    public var ttl: Int
    /// Addresses in presentation form, in the order they were added.
    public var records: [String]

    public init(zone: String, name: String, type: String, ttl: Int, records: [String]) {
        self.zone = zone
        self.name = name
        self.type = type
        self.ttl = ttl
        self.records = records
    }
}

/// Reads and writes of services on one connection. The `db` variants run
/// inside the caller's transaction (the API commits a batch of requests in
/// one); `Store.services()` is dnsd's consistent read.
public enum Services {
    static func row(_ s: Statement) -> StoredService {
        let text = s.string(4) ?? ""
        return StoredService(zone: s.string(0) ?? "", name: s.string(1) ?? "", type: s.string(2) ?? "A",
                             ttl: Int(s.int(3)), records: text.split(separator: " ").map { String($0) })
    }

    public static func list(_ db: Database, zone: String) throws(StoreError) -> [StoredService] {
        let s = try db.prepare("SELECT zone, name, type, ttl, records FROM services WHERE zone = ?1 ORDER BY name")
        s.bind(1, zone)
        var out: [StoredService] = []
        while try s.step() { out.append(row(s)) }
        return out
    }

    public static func get(_ db: Database, zone: String, name: String) throws(StoreError) -> StoredService? {
        let s = try db.prepare("SELECT zone, name, type, ttl, records FROM services WHERE zone = ?1 AND name = ?2")
        defer { s.reset() }
        s.bind(1, zone).bind(2, name)
        return try s.step() ? row(s) : nil
    }

    /// Creates or replaces a service.
    public static func put(_ db: Database, _ svc: StoredService) throws(StoreError) {
        let s = try db.prepare("INSERT INTO services(zone, name, type, ttl, records, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(zone, name) DO UPDATE SET type = excluded.type, ttl = excluded.ttl, records = excluded.records, updated = excluded.updated")
        s.bind(1, svc.zone).bind(2, svc.name).bind(3, svc.type).bind(4, svc.ttl)
            .bind(5, svc.records.joined(separator: " ")).bind(6, Sys.realtimeNanos() / 1_000_000_000)
        try s.run()
    }

    @discardableResult
    public static func delete(_ db: Database, zone: String, name: String) throws(StoreError) -> Bool {
        try db.prepare("DELETE FROM services WHERE zone = ?1 AND name = ?2").bind(1, zone).bind(2, name).run()
        return db.changes > 0
    }

    /// Replaces every service of `zone` with `services`.
    public static func replaceAll(_ db: Database, zone: String, _ services: [StoredService]) throws(StoreError) {
        try db.prepare("DELETE FROM services WHERE zone = ?1").bind(1, zone).run()
        for svc in services { try put(db, svc) }
    }
}

extension Store {
    /// Every service of every zone, by zone and name.
    public func services() throws(StoreError) -> [StoredService] {
        try db.readTransaction { () throws(StoreError) -> [StoredService] in
            let s = try db.prepare("SELECT zone, name, type, ttl, records FROM services ORDER BY zone, name")
            var out: [StoredService] = []
            while try s.step() { out.append(Services.row(s)) }
            return out
        }
    }
}

/// What changed in the store since a generation dnsd has applied: the
/// services written since (`service_changes`, kept by triggers), and the
/// counter of every other zone input (zones, records, leases, secondary
/// zones). An unchanged counter means the services are all that changed.
public struct StoreDelta: Sendable {
    public var generation: Int64
    public var zoneInputs: Int64
    /// The services written since, as they are now (nil: deleted), by
    /// (zone, name).
    public var services: [(zone: String, name: String, service: StoredService?)]
}

extension Store {
    /// The counter of zone inputs other than services.
    public func zoneInputs() throws(StoreError) -> Int64 {
        let s = try db.prepare("SELECT value FROM meta WHERE key = 'zone_inputs'")
        defer { s.reset() }
        guard try s.step() else { return 0 }
        return Int64(s.string(0) ?? "0") ?? 0
    }

    /// The changes after generation `since`, in one read transaction.
    public func delta(since: Int64) throws(StoreError) -> StoreDelta {
        try db.readTransaction { () throws(StoreError) -> StoreDelta in
            var d = StoreDelta(generation: try generation(), zoneInputs: try zoneInputs(), services: [])
            let s = try db.prepare("""
                SELECT c.zone, c.name, s.type, s.ttl, s.records FROM (SELECT DISTINCT zone, name FROM service_changes WHERE gen > ?1) c
                LEFT JOIN services s ON s.zone = c.zone AND s.name = c.name
                """)
            s.bind(1, since)
            while try s.step() {
                let zone = s.string(0) ?? "", name = s.string(1) ?? ""
                var svc: StoredService? = nil
                if let type = s.string(2) {
                    svc = StoredService(zone: zone, name: name, type: type, ttl: Int(s.int(3)),
                                        records: (s.string(4) ?? "").split(separator: " ").map { String($0) })
                }
                d.services.append((zone, name, svc))
            }
            return d
        }
    }

    /// Forgets up to `limit` of the service changes up to generation
    /// `through` (dnsd, once it has applied them), so one call holds the
    /// write lock briefly; true when none is left. The generation does not
    /// move.
    @discardableResult
    public func forgetServiceChanges(through: Int64, limit: Int = 20000) throws(StoreError) -> Bool {
        try db.transaction { () throws(StoreError) -> Bool in
            try db.prepare("DELETE FROM service_changes WHERE rowid IN (SELECT rowid FROM service_changes WHERE gen <= ?1 LIMIT ?2)")
                .bind(1, through).bind(2, limit).run()
            return db.changes < limit
        }
    }
}
