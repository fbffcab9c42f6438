import CShim
import Sys

/// A DHCPv4 lease as the store keeps it. dhcpd writes a lease before it
/// sends the ACK (several in one transaction when packets arrive together:
/// group commit); dnsd reads the bound ones to publish their names.
public struct StoredLease: Equatable, Sendable {
    /// Dotted IPv4 address: the key.
    public var address: String
    /// The `dhcp` section's interface the lease belongs to.
    public var interface: String
    /// Client identity (option 61, or hardware type + address).
    public var client: [UInt8]
    /// Hardware address as aa:bb:cc:dd:ee:ff.
    public var mac: String
    /// Unix seconds; -1 = infinite.
    public var expires: Int64
    /// 2 = bound, 3 = declined (offers are not stored).
    public var state: Int
    public var name: String?

    public init(address: String, interface: String, client: [UInt8], mac: String, expires: Int64, state: Int,
                name: String? = nil) {
        self.address = address
        self.interface = interface
        self.client = client
        self.mac = mac
        self.expires = expires
        self.state = state
        self.name = name
    }
}

extension Store {
    /// Every lease (optionally of one interface), by address.
    public func leases(interface: String? = nil) throws(StoreError) -> [StoredLease] {
        try db.readTransaction { () throws(StoreError) -> [StoredLease] in
            let s = try db.prepare(interface == nil
                ? "SELECT address, interface, client, mac, expires, state, name FROM leases ORDER BY address"
                : "SELECT address, interface, client, mac, expires, state, name FROM leases WHERE interface = ?1 ORDER BY address")
            if let i = interface { s.bind(1, i) }
            var out: [StoredLease] = []
            while try s.step() {
                out.append(StoredLease(address: s.string(0) ?? "", interface: s.string(1) ?? "", client: s.blob(2),
                                       mac: s.string(3) ?? "", expires: s.int(4), state: Int(s.int(5)),
                                       name: s.isNull(6) ? nil : s.string(6)))
            }
            return out
        }
    }

    /// Writes and deletes leases in one durable transaction (one fsync for
    /// the whole batch). Returns when they are on disk.
    public func commitLeases(_ upserts: [StoredLease], removing: [String]) throws(StoreError) {
        guard !upserts.isEmpty || !removing.isEmpty else { return }
        try write { (db) throws(StoreError) in
            let now = Sys.realtimeNanos() / 1_000_000_000
            if !upserts.isEmpty {
                let s = try db.prepare("INSERT INTO leases(address, interface, client, mac, expires, state, name, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(address) DO UPDATE SET interface = excluded.interface, client = excluded.client, mac = excluded.mac, expires = excluded.expires, state = excluded.state, name = excluded.name, updated = excluded.updated")
                for l in upserts {
                    s.reset()
                    s.bind(1, l.address).bind(2, l.interface).bind(3, blob: l.client).bind(4, l.mac)
                        .bind(5, l.expires).bind(6, l.state).bind(7, l.name).bind(8, now)
                    try s.run()
                }
            }
            if !removing.isEmpty {
                let d = try db.prepare("DELETE FROM leases WHERE address = ?1")
                for a in removing {
                    d.reset()
                    d.bind(1, a)
                    try d.run()
                }
            }
        }
    }
}

extension Store {
    /// Commits several groups of lease changes in one transaction, each
    /// group's upserts then its removals, in order (a later group sees the
    /// earlier ones). dhcpd's commit thread folds every group queued while
    /// the previous commit was syncing into one.
    public func commitLeaseGroups(_ groups: [(upserts: [StoredLease], removing: [String])]) throws(StoreError) {
        guard groups.contains(where: { !$0.upserts.isEmpty || !$0.removing.isEmpty }) else { return }
        try write { (db) throws(StoreError) in
            let now = Sys.realtimeNanos() / 1_000_000_000
            let s = try db.prepare("INSERT INTO leases(address, interface, client, mac, expires, state, name, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(address) DO UPDATE SET interface = excluded.interface, client = excluded.client, mac = excluded.mac, expires = excluded.expires, state = excluded.state, name = excluded.name, updated = excluded.updated")
            let d = try db.prepare("DELETE FROM leases WHERE address = ?1")
            for g in groups {
                for l in g.upserts {
                    s.reset()
                    s.bind(1, l.address).bind(2, l.interface).bind(3, blob: l.client).bind(4, l.mac)
                        .bind(5, l.expires).bind(6, l.state).bind(7, l.name).bind(8, now)
                    try s.run()
                }
                for a in g.removing {
                    d.reset()
                    d.bind(1, a)
                    try d.run()
                }
            }
        }
    }
}
