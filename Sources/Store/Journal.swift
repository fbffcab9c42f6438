/// One stored difference of a zone's journal (IXFR out): its serials and
/// its encoded form (the daemon's; opaque here).
public struct StoredJournalEntry: Equatable, Sendable {
    public var zone: String
    public var fromSerial: UInt32
    public var toSerial: UInt32
    public var diff: [UInt8]

    public init(zone: String, fromSerial: UInt32, toSerial: UInt32, diff: [UInt8]) {
        self.zone = zone
        self.fromSerial = fromSerial
        self.toSerial = toSerial
        self.diff = diff
    }
}

/// A change to the journals: for a zone, forget its `dropOldest` oldest
/// differences (Int.max: all of them), then append `append`.
public struct JournalChange: Sendable {
    public var zone: String
    public var dropOldest: Int
    public var append: StoredJournalEntry?

    public init(zone: String, dropOldest: Int, append: StoredJournalEntry?) {
        self.zone = zone
        self.dropOldest = dropOldest
        self.append = append
    }

    /// Forget the zone's whole journal.
    public static func forget(_ zone: String) -> JournalChange {
        JournalChange(zone: zone, dropOldest: Int.max, append: nil)
    }
}

extension Store {
    /// Every zone's journal, oldest difference first.
    public func journals() throws(StoreError) -> [String: [StoredJournalEntry]] {
        try db.readTransaction { () throws(StoreError) -> [String: [StoredJournalEntry]] in
            let s = try db.prepare("SELECT zone, from_serial, to_serial, diff FROM zone_journal ORDER BY zone, id")
            defer { s.reset() }
            var out: [String: [StoredJournalEntry]] = [:]
            while try s.step() {
                let z = s.string(0) ?? ""
                out[z, default: []].append(StoredJournalEntry(zone: z, fromSerial: UInt32(truncatingIfNeeded: s.int(1)),
                                                              toSerial: UInt32(truncatingIfNeeded: s.int(2)), diff: s.blob(3)))
            }
            return out
        }
    }

    /// Applies `changes` in one durable write that does not move the
    /// generation (dnsd is the writer and the only reader).
    public func updateJournals(_ changes: [JournalChange]) throws(StoreError) {
        guard !changes.isEmpty else { return }
        _ = try writeIfChanged { (db) throws(StoreError) -> Bool in
            for c in changes {
                if c.dropOldest == Int.max {
                    try db.prepare("DELETE FROM zone_journal WHERE zone = ?1").bind(1, c.zone).run()
                } else if c.dropOldest > 0 {
                    try db.prepare("DELETE FROM zone_journal WHERE id IN (SELECT id FROM zone_journal WHERE zone = ?1 ORDER BY id LIMIT ?2)")
                        .bind(1, c.zone).bind(2, c.dropOldest).run()
                }
                if let e = c.append {
                    try db.prepare("INSERT INTO zone_journal(zone, from_serial, to_serial, diff) VALUES(?1, ?2, ?3, ?4)")
                        .bind(1, e.zone).bind(2, Int64(e.fromSerial)).bind(3, Int64(e.toSerial)).bind(4, blob: e.diff).run()
                }
            }
            return false
        }
    }
}
