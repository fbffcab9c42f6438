import Config
import Store

/// The services of dynamic zones (`config zone … option dynamic '1'`),
/// written through the API, as stored zones for the zone builder: each
/// service is its A or AAAA RRset (TTL 0 → the zone's `service_ttl`), and
/// the zone's `fallback` addresses answer, as wildcard records, for names
/// that do not exist (dynresolve's fallback IP). Services of a zone that is
/// no longer dynamic are left out.
enum DynamicServices {
    static func zones(_ services: [StoredService], config c: Config) -> [StoredZone] {
        var out: [StoredZone] = []
        var index: [String: Int] = [:]
        var ttls: [String: Int] = [:]
        var owners: [String: Set<String>] = [:]
        for r in c.records { owners[r.zoneKey, default: []].insert(r.ownerKey) }
        for z in c.zones where z.dynamic && z.name != nil {
            index[z.key] = out.count
            ttls[z.key] = z.serviceTTL
            var zone = StoredZone(name: z.key)
            // A config record at `*` wins over the fallback.
            if owners[z.key]?.contains("*") != true {
                for f in z.fallback {
                    guard let ip = IPAddress(f) else { continue }
                    zone.records.append(StoredRecord(name: "*", type: ip.isV4 ? "A" : "AAAA", ttl: z.serviceTTL, value: ip.description))
                }
            }
            out.append(zone)
        }
        for s in services {
            guard let i = index[s.zone] else { continue }
            let ttl = s.ttl == 0 ? ttls[s.zone] ?? 5 : s.ttl
            for a in s.records { out[i].records.append(StoredRecord(name: s.name, type: s.type, ttl: ttl, value: a)) }
        }
        return out
    }
}
