import Config
import DNS
import HTTP
import Store
import Sys

/// `POST /api/v1/zones/transfer` (MicroDNS's endpoint): adds a secondary
/// zone that dnsd transfers from its primaries and then keeps following
/// (SOA timers, NOTIFY, IXFR) — where MicroDNS copies the zone once.
/// The transfer itself runs in dnsd after the commit, so the answer is
/// 202 with the zone's state; `GET /api/v1/zones/transfer` and
/// `GET /api/v1/zones/{name}` show it once transferred.
extension API {
    func secondaryJSON(_ s: StoredSecondary, now: Int64) -> JSON {
        let state: String
        if s.serial == nil { state = "pending" } else if let x = s.expires, x < now { state = "expired" } else { state = "serving" }
        var members: [(key: String, value: JSON)] = [("id", .string(s.name)), ("name", .string(s.name)), ("zone_name", .string(s.name)),
                                         ("source", .string(s.api ? "transfer" : "config")),
                                         ("primaries", .array(s.primaries.map { .string($0) })),
                                         ("serial", s.serial.map { JSON(Int($0)) } ?? .null),
                                         ("last_check", s.checked.map { JSON(Int($0)) } ?? .null),
                                         ("expires", s.expires.map { JSON(Int($0)) } ?? .null), ("state", .string(state))]
        if let text = s.zone {
            // One record a line after $ORIGIN and $TTL (Zone.presentation).
            var lines = 0
            for b in text.utf8 where b == UInt8(ascii: "\n") { lines &+= 1 }
            members.append(("records_imported", JSON(max(0, lines - 2))))
        }
        return .object(members)
    }

    static func wallSeconds() -> Int64 { Int64(Sys.realtimeNanos() / 1_000_000_000) }

    func listSecondaries(_ db: Database) throws(StoreError) -> HTTPResponse {
        let now = API.wallSeconds()
        let items = try Secondaries.list(db).map { secondaryJSON($0, now: now) }
        return .json(200, .object([("zones", .array(items)), ("total", JSON(items.count))]))
    }

    func addSecondary(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        let b = j.body
        guard b.members != nil else { return .error(400, "body must be a JSON object", field: "body") }
        guard let raw = (b["zone"] ?? b["name"])?.string else { return .error(400, "zone is required", field: "zone") }
        let name = Names.normalize(raw)
        if let p = Names.hostNameProblem(name, allowUnderscore: true) { return .error(400, "invalid zone name: \(p)", field: "zone") }
        if (try? DomainName(name + ".")) == nil { return .error(400, "zone name too long", field: "zone") }
        if name == "transfer" { return .error(400, "a zone named 'transfer' would shadow this endpoint", field: "zone") }
        var given: [JSON] = []
        if let p = b["primary"], !p.isNull { given.append(p) }
        if let ps = b["primaries"], !ps.isNull {
            guard let list = ps.array else { return .error(400, "primaries must be a list of ADDR[:PORT]", field: "primaries") }
            given += list
        }
        if given.isEmpty { return .error(400, "primary is required (ADDR[:PORT], port 53 by default)", field: "primary") }
        if given.count > 16 { return .error(400, "at most 16 primaries", field: "primaries") }
        var primaries: [String] = []
        for p in given {
            guard let s = p.string, !s.contains(" "), SocketAddress(hostPort: s, defaultPort: 53) != nil else {
                return .error(400, "primary must be an IP address with an optional port (192.0.2.1:53, [2001:db8::1]:53)", field: "primary")
            }
            if !primaries.contains(s) { primaries.append(s) }
        }
        if settings.isConfigZone(name) { return .error(409, "zone \(name) is defined in the config file", field: "zone") }
        if try Zones.get(db, name) != nil { return .error(409, "zone \(name) is a zone of the API; delete it first", field: "zone") }
        let existed = try Secondaries.get(db, name) != nil
        guard try Secondaries.put(db, name, primaries: primaries) else {
            return .error(409, "zone \(name) is a secondary zone of the config file", field: "zone")
        }
        guard let s = try Secondaries.get(db, name) else { return .error(500, "internal error") }
        return .json(existed ? 200 : 202, secondaryJSON(s, now: API.wallSeconds()))
    }
}
