import CShim

/// Versioned schema changes, applied in order on open. The version lives in
/// `PRAGMA user_version`; each step runs in its own transaction, so a crash
/// mid-migration leaves the previous version intact. Append only: never edit
/// a released step.
public enum Migrations {
    public struct Step {
        public var version: Int
        public var summary: String
        public var sql: String
    }

    public static let steps: [Step] = [
        Step(version: 1, summary: "meta (generation) and key/value state", sql: """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            INSERT INTO meta(key, value) VALUES ('generation', '0');
            CREATE TABLE kv (
                ns TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                updated INTEGER NOT NULL,
                PRIMARY KEY (ns, key)
            ) WITHOUT ROWID;
            """),
        Step(version: 2, summary: "zones and records (written by the API, served by dnsd)", sql: """
            CREATE TABLE zones (
                name TEXT PRIMARY KEY,
                ttl INTEGER,
                updated INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE records (
                id INTEGER PRIMARY KEY,
                zone TEXT NOT NULL REFERENCES zones(name) ON DELETE CASCADE,
                name TEXT NOT NULL,
                type TEXT NOT NULL,
                ttl INTEGER,
                value TEXT NOT NULL,
                updated INTEGER NOT NULL
            );
            CREATE INDEX records_by_zone ON records(zone, name);
            """),
        Step(version: 3, summary: "DHCPv4 leases (written by dhcpd before each ACK)", sql: """
            CREATE TABLE leases (
                address TEXT PRIMARY KEY,
                interface TEXT NOT NULL,
                client BLOB NOT NULL,
                mac TEXT NOT NULL,
                expires INTEGER NOT NULL,
                state INTEGER NOT NULL,
                name TEXT,
                updated INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX leases_by_interface ON leases(interface);
            """),
        Step(version: 4, summary: "dynamic services (written by the API) and the SOA of API zones", sql: """
            CREATE TABLE services (
                zone TEXT NOT NULL,
                name TEXT NOT NULL,
                type TEXT NOT NULL,
                ttl INTEGER NOT NULL,
                records TEXT NOT NULL,
                updated INTEGER NOT NULL,
                PRIMARY KEY (zone, name)
            ) WITHOUT ROWID;
            ALTER TABLE zones ADD COLUMN mname TEXT;
            ALTER TABLE zones ADD COLUMN rname TEXT;
            ALTER TABLE zones ADD COLUMN serial INTEGER;
            """),
        Step(version: 5, summary: "secondary zones (transferred from a primary, kept across restarts)", sql: """
            CREATE TABLE secondary_zones (
                name TEXT PRIMARY KEY,
                primaries TEXT NOT NULL,
                api INTEGER NOT NULL,
                serial INTEGER,
                checked INTEGER,
                expires INTEGER,
                zone TEXT,
                updated INTEGER NOT NULL
            ) WITHOUT ROWID;
            """),
        Step(version: 6, summary: "zone journals (the differences IXFR out sends)", sql: """
            CREATE TABLE zone_journal (
                id INTEGER PRIMARY KEY,
                zone TEXT NOT NULL,
                from_serial INTEGER NOT NULL,
                to_serial INTEGER NOT NULL,
                diff BLOB NOT NULL
            );
            CREATE INDEX zone_journal_zone ON zone_journal(zone, id);
            """),
        Step(version: 7, summary: "a log of service changes and a counter of other zone inputs (dnsd applies API writes without a rebuild)", sql: """
            CREATE TABLE service_changes (gen INTEGER NOT NULL, zone TEXT NOT NULL, name TEXT NOT NULL);
            CREATE INDEX service_changes_by_gen ON service_changes(gen);
            INSERT INTO meta(key, value) VALUES ('zone_inputs', '0');
            CREATE TRIGGER services_insert_log AFTER INSERT ON services BEGIN INSERT INTO service_changes(gen, zone, name) VALUES((SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = 'generation'), NEW.zone, NEW.name); END;
            CREATE TRIGGER services_update_log AFTER UPDATE ON services BEGIN INSERT INTO service_changes(gen, zone, name) VALUES((SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = 'generation'), OLD.zone, OLD.name); INSERT INTO service_changes(gen, zone, name) VALUES((SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = 'generation'), NEW.zone, NEW.name); END;
            CREATE TRIGGER services_delete_log AFTER DELETE ON services BEGIN INSERT INTO service_changes(gen, zone, name) VALUES((SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = 'generation'), OLD.zone, OLD.name); END;
            CREATE TRIGGER zones_insert_inputs AFTER INSERT ON zones BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER zones_update_inputs AFTER UPDATE ON zones BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER zones_delete_inputs AFTER DELETE ON zones BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER records_insert_inputs AFTER INSERT ON records BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER records_update_inputs AFTER UPDATE ON records BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER records_delete_inputs AFTER DELETE ON records BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER leases_insert_inputs AFTER INSERT ON leases BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER leases_update_inputs AFTER UPDATE ON leases BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER leases_delete_inputs AFTER DELETE ON leases BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER secondary_zones_insert_inputs AFTER INSERT ON secondary_zones BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER secondary_zones_update_inputs AFTER UPDATE ON secondary_zones BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            CREATE TRIGGER secondary_zones_delete_inputs AFTER DELETE ON secondary_zones BEGIN UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'zone_inputs'; END;
            """),
    ]

    public static var latestVersion: Int { steps.last?.version ?? 0 }

    public static func currentVersion(_ db: Database) -> Int {
        guard let s = try? db.prepare("PRAGMA user_version") else { return 0 }
        defer { s.reset() }
        guard (try? s.step()) == true else { return 0 }
        return Int(s.int(0))
    }

    public static func apply(to db: Database) throws(StoreError) {
        let current = currentVersion(db)
        if current > latestVersion {
            throw StoreError("open \(db.path)", code: SQLITE_ERROR,
                             message: "database schema version \(current) is newer than this dnsbox supports (\(latestVersion)); refusing to downgrade")
        }
        for step in steps where step.version > current {
            try db.transaction { () throws(StoreError) in
                // Another process may have applied it since we looked: the
                // version read under BEGIN IMMEDIATE is the one that counts.
                guard currentVersion(db) < step.version else { return }
                try db.exec(step.sql)
                try db.exec("PRAGMA user_version = \(step.version)")
            }
        }
    }
}
