// Writing a zone back as a master file that BIND's named-checkzone and
// Knot's kzonecheck accept:
//
//     $ORIGIN example.com.
//     $TTL 3600
//     @	IN	SOA	ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
//     @	IN	NS	ns1.example.com.
//     www	300	IN	A	192.0.2.1
//
// One record per line, the owner on every line (relative to the origin,
// "@" for the apex), the TTL only where it differs from $TTL, the class
// always, RDATA as the DNS module prints it (absolute names, quoted
// strings, RFC 3597 `\#` for types without a typed codec). The SOA comes
// first, then the records in canonical order (below).

import DNS

extension Zone {
    /// The zone as master-file text (see the file comment). Parsing it back
    /// gives `canonicalRecords`.
    public func presentation() -> String {
        let sorted = canonicalRecords
        let defaultTTL = Zone.mostCommonTTL(sorted)
        var out = "$ORIGIN \(origin)\n$TTL \(defaultTTL)\n"
        for r in sorted {
            out += r.owner.relativeDescription(to: origin)
            out += "\t"
            if r.ttl != defaultTTL { out += "\(r.ttl)\t" }
            out += "\(r.rrClass)\t\(r.type)\t\(r.rdata.presentation)\n"
        }
        return out
    }

    /// The records in the writer's order: the apex SOA first, then by owner
    /// in canonical name order (RFC 4034 §6.1), then by type value, then by
    /// canonical RDATA (RFC 4034 §6.2–6.3: uncompressed wire form with the
    /// names of NS, CNAME, PTR, SOA, MX and SRV lowercased, compared as
    /// unsigned octet strings). Ties keep file order.
    public var canonicalRecords: [ResourceRecord] {
        var keys: [SortKey] = []
        keys.reserveCapacity(records.count)
        for (k, r) in records.enumerated() {
            let apexSOA = r.type == .soa && r.owner == origin
            keys.append(SortKey(index: k, apexSOA: apexSOA, rdata: Zone.canonicalRDATA(r.rdata)))
        }
        let recs = records
        keys.sort { (a: SortKey, b: SortKey) -> Bool in
            if a.apexSOA != b.apexSOA { return a.apexSOA }
            let ra = recs[a.index], rb = recs[b.index]
            let c = DomainName.canonicalCompare(ra.owner, rb.owner)
            if c != 0 { return c < 0 }
            if ra.type != rb.type { return ra.type < rb.type }
            let d = Zone.compareOctets(a.rdata, b.rdata)
            if d != 0 { return d < 0 }
            return a.index < b.index
        }
        var out: [ResourceRecord] = []
        out.reserveCapacity(records.count)
        for key in keys { out.append(recs[key.index]) }
        return out
    }

    private struct SortKey {
        var index: Int
        var apexSOA: Bool
        var rdata: [UInt8]
    }

    /// RDATA in canonical form (RFC 4034 §6.2) for the typed codecs.
    static func canonicalRDATA(_ r: RData) -> [UInt8] {
        switch r {
        case .ns(let n): return RData.ns(n.lowercased).wireBytes
        case .cname(let n): return RData.cname(n.lowercased).wireBytes
        case .ptr(let n): return RData.ptr(n.lowercased).wireBytes
        case .mx(let p, let x): return RData.mx(preference: p, exchange: x.lowercased).wireBytes
        case .soa(var s):
            s.mname = s.mname.lowercased
            s.rname = s.rname.lowercased
            return RData.soa(s).wireBytes
        case .srv(var s):
            s.target = s.target.lowercased
            return RData.srv(s).wireBytes
        default:
            return r.wireBytes
        }
    }

    /// -1, 0 or 1 comparing `a` and `b` as unsigned octet strings, a prefix
    /// sorting first.
    static func compareOctets(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let n = a.count < b.count ? a.count : b.count
        var k = 0
        while k < n {
            if a[k] != b[k] { return a[k] < b[k] ? -1 : 1 }
            k &+= 1
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// The TTL most records have (the smallest on a tie; 3600 when empty),
    /// written as $TTL so most lines need none.
    static func mostCommonTTL(_ records: [ResourceRecord]) -> UInt32 {
        var counts: [UInt32: Int] = [:]
        for r in records { counts[r.ttl, default: 0] &+= 1 }
        var best: UInt32 = 3600
        var bestCount = 0
        for (ttl, n) in counts where n > bestCount || (n == bestCount && ttl < best) {
            best = ttl
            bestCount = n
        }
        return best
    }
}
