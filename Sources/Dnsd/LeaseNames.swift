import Config
import Store

/// DHCP lease names in DNS: each bound, unexpired lease with a name on an
/// interface whose `dhcp` section has a `domain` becomes `NAME.DOMAIN A
/// ADDRESS` and the matching PTR. They are handed to the zone builder as
/// stored zones, so they join a configured zone of that name (or of the
/// reverse name's longest enclosing zone) or form one of their own: the
/// domain itself, and the /24 reverse zone `C.B.A.in-addr.arpa`.
///
/// Names never take over: a name that a `config record` or a stored (API)
/// record already has in that zone is not published for a lease; of two
/// leases with one name, the one that expires last (the newest) wins, as
/// dnsmasq does.
enum LeaseNames {
    static let ttl = 60

    /// `subnets`: each DHCP interface's IPv4 network and prefix (from
    /// netlink), whose reverse zones dnsd serves even before any lease, so a
    /// name that is gone answers NXDOMAIN, not REFUSED.
    static func zones(leases: [StoredLease], config c: Config, stored: [StoredZone], now: Int64,
                      subnets: [String: (UInt32, Int)] = [:]) -> [StoredZone] {
        var domains: [String: String] = [:]
        for s in c.dhcp where s.isServed {
            guard let i = s.interface, let d = s.domain else { continue }
            domains[i] = d
        }
        guard !domains.isEmpty else { return [] }
        var out: [String: StoredZone] = [:]
        // The domains and the subnets' /24 reverse zones exist without leases.
        for (iface, d) in domains {
            let z = norm(d)
            out[z] = StoredZone(name: z, ttl: ttl)
            guard let (net, prefix) = subnets[iface], prefix >= 16 else { continue }
            let count = prefix >= 24 ? 1 : 1 << (24 - prefix)
            for k in 0..<count {
                let base = (net & 0xFFFF_FF00) &+ UInt32(k) << 8
                let r = "\((base >> 8) & 0xFF).\((base >> 16) & 0xFF).\(base >> 24).in-addr.arpa"
                out[r] = StoredZone(name: r, ttl: ttl)
            }
        }
        // Zones that exist (config or store), lowercased, and the owners they already use.
        var known: Set<String> = []
        var taken: [String: Set<String>] = [:]
        for z in c.zones where z.name != nil { known.insert(z.key) }
        for r in c.records { taken[r.zoneKey, default: []].insert(norm(r.name)) }
        for s in stored {
            known.insert(norm(s.name))
            for r in s.records { taken[norm(s.name), default: []].insert(norm(r.name)) }
        }
        // The newest lease per (domain, name).
        var best: [String: StoredLease] = [:]
        for l in leases where l.state == 2 && (l.expires < 0 || l.expires > now) {
            guard let name = l.name, !name.isEmpty, let d = domains[l.interface] else { continue }
            let key = norm(d) + "/" + norm(name)
            if let cur = best[key], !(expiry(l) > expiry(cur)) { continue }
            best[key] = l
        }
        for z in out.keys { known.insert(z) }
        @discardableResult
        func add(_ zone: String, _ owner: String, _ type: String, _ value: String) -> Bool {
            let z = norm(zone)
            if taken[z]?.contains(norm(owner)) == true { return false }
            out[z, default: StoredZone(name: z, ttl: ttl)].records.append(
                StoredRecord(name: owner, type: type, ttl: ttl, value: value))
            return true
        }
        for key in best.keys.sorted() {
            // A name that is not published gets no PTR either.
            guard let l = best[key], let name = l.name, let d = domains[l.interface],
                  add(d, name, "A", l.address) else { continue }
            let o = l.address.split(separator: ".")
            guard o.count == 4 else { continue }
            let full = "\(o[3]).\(o[2]).\(o[1]).\(o[0]).in-addr.arpa"
            // The longest zone that encloses the reverse name, else the /24.
            var zone = "\(o[2]).\(o[1]).\(o[0]).in-addr.arpa"
            var labels = full.split(separator: ".").map(String.init)
            while labels.count > 2 {
                labels.removeFirst()
                let candidate = labels.joined(separator: ".")
                if known.contains(candidate) { zone = candidate; break }
            }
            let owner = full == zone ? "@" : String(full.dropLast(zone.count + 1))
            add(zone, owner, "PTR", "\(name).\(d).")
        }
        return out.keys.sorted().compactMap { out[$0] }
    }

    static func expiry(_ l: StoredLease) -> Int64 { l.expires < 0 ? Int64.max : l.expires }

    static func norm(_ s: String) -> String {
        var t = s.hasSuffix(".") ? String(s.dropLast()) : s
        t = String(decoding: t.utf8.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }, as: UTF8.self)
        return t
    }
}
