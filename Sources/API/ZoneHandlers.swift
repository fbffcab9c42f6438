import Config
import DNS
import HTTP
import Store
import Sys
import Zone

/// The MicroDNS-shaped zone and record endpoints under `/api/v1/zones`.
/// Zones of the config file are listed but read-only (409).
extension API {
    static let soaRefresh = 3600, soaRetry = 600, soaExpire = 1_209_600

    func storeZoneJSON(_ z: StoredZone) -> JSON {
        let ttl = z.ttl ?? 3600
        let soa: JSON = .object([("mname", .string(z.mname ?? "ns1." + z.name)), ("rname", .string(z.rname ?? "hostmaster." + z.name)),
                                 ("serial", JSON(z.serial ?? 0)), ("refresh", JSON(API.soaRefresh)), ("retry", JSON(API.soaRetry)),
                                 ("expire", JSON(API.soaExpire)), ("minimum", JSON(min(ttl, 3600)))])
        return .object([("id", .string(z.name)), ("name", .string(z.name)), ("source", .string("api")), ("dynamic", .bool(false)),
                        ("default_ttl", JSON(ttl)), ("records", JSON(z.recordCount)), ("soa", soa)])
    }

    func configZoneJSON(_ z: (name: String, ttl: Int, dynamic: Bool)) -> JSON {
        .object([("id", .string(z.name)), ("name", .string(z.name)), ("source", .string("config")),
                 ("dynamic", .bool(z.dynamic)), ("default_ttl", JSON(z.ttl))])
    }

    func listZones(_ req: HTTPRequest, _ db: Database) throws(StoreError) -> HTTPResponse {
        let (offset, limit): (Int, Int)
        switch API.page(req) {
        case .success(let p): (offset, limit) = p
        case .failure(let e): return e.response
        }
        var all: [(String, JSON)] = []
        for z in settings.configZones { all.append((z.name, configZoneJSON(z))) }
        for z in try Zones.list(db).zones where !settings.isConfigZone(z.name) { all.append((z.name, storeZoneJSON(z))) }
        let now = API.wallSeconds()
        for z in try Secondaries.list(db) where z.api && !settings.isConfigZone(z.name) {
            all.append((z.name, secondaryJSON(z, now: now)))
        }
        all.sort { $0.0 < $1.0 }
        let pageItems = offset < all.count ? Array(all[offset..<min(all.count, offset + limit)]).map { $0.1 } : []
        return .json(200, .object([("zones", .array(pageItems)), ("total", JSON(all.count)), ("offset", JSON(offset)), ("limit", JSON(limit))]))
    }

    func getZone(_ id: String, _ db: Database) throws(StoreError) -> HTTPResponse {
        let n = Names.normalize(id)
        if let c = settings.configZones.first(where: { $0.name == n }) { return .json(200, configZoneJSON(c)) }
        if let z = try Zones.get(db, n) { return .json(200, storeZoneJSON(z)) }
        guard let s = try Secondaries.get(db, n, withData: true), s.api else { return .error(404, "no zone \(n)") }
        return .json(200, secondaryJSON(s, now: API.wallSeconds()))
    }

    func createZone(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        let b = j.body
        guard b.members != nil else { return .error(400, "body must be a JSON object", field: "body") }
        guard let raw = b["name"]?.string else { return .error(400, "name is required", field: "name") }
        let name = Names.normalize(raw)
        if let p = Names.hostNameProblem(name, allowUnderscore: true) { return .error(400, "invalid zone name: \(p)", field: "name") }
        if settings.isConfigZone(name) { return .error(409, "zone \(name) is defined in the config file", field: "name") }
        if name == "transfer" { return .error(400, "a zone named 'transfer' would shadow /api/v1/zones/transfer", field: "name") }
        // dnsd names the SOA's RNAME hostmaster.ZONE: that must fit too.
        if (try? DomainName("hostmaster." + name + ".")) == nil { return .error(400, "zone name too long", field: "name") }
        var ttl = 3600
        if let t = b["default_ttl"], !t.isNull {
            guard let v = t.int, v >= 0, v <= 2_147_483_647 else { return .error(400, "default_ttl must be an integer from 0 to 2147483647", field: "default_ttl") }
            ttl = v
        }
        var z = StoredZone(name: name, ttl: ttl, serial: Int64(Sys.realtimeNanos() / 1_000_000_000) & 0xFFFF_FFFF)
        if let soa = b["soa"], !soa.isNull {
            guard soa.members != nil else { return .error(400, "soa must be an object", field: "soa") }
            for (key, field) in [("mname", "soa.mname"), ("rname", "soa.rname")] {
                guard let v = soa[key], !v.isNull else { continue }
                guard let s = v.string else { return .error(400, "\(field) must be a domain name", field: field) }
                let n = Names.normalize(s)
                if let p = Names.hostNameProblem(n, allowUnderscore: true) { return .error(400, "\(field): \(p)", field: field) }
                if key == "mname" { z.mname = n } else { z.rname = n }
            }
        }
        if let s = try Secondaries.get(db, name), s.api {
            return .error(409, "zone \(name) is a secondary zone (POST /api/v1/zones/transfer); delete it first", field: "name")
        }
        guard try Zones.create(db, z) else { return .error(409, "zone \(name) exists", field: "name") }
        return .json(201, storeZoneJSON(z))
    }

    func deleteZone(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        let n = Names.normalize(j.params[0])
        if settings.isConfigZone(n) { return .error(409, "zone \(n) is defined in the config file and is read-only here") }
        let deleted = try Zones.delete(db, n) ? true : try Secondaries.delete(db, n)
        guard deleted else { return .error(404, "no zone \(n)") }
        return HTTPResponse(status: 204)
    }

    /// The store zone a record request is about; config zones → 409.
    func recordZone(_ id: String, _ db: Database, writing: Bool) throws(StoreError) -> Result<StoredZone, HTTPError> {
        let n = Names.normalize(id)
        if settings.isConfigZone(n) {
            return .failure(writing ? HTTPError(409, "zone \(n) is defined in the config file and is read-only here")
                                    : HTTPError(404, "zone \(n) is defined in the config file; its records are not served by the API"))
        }
        guard let z = try Zones.get(db, n) else {
            if try Secondaries.get(db, n) != nil {
                return .failure(HTTPError(writing ? 409 : 404, "zone \(n) is a secondary zone: its records come from its primaries"))
            }
            return .failure(HTTPError(404, "no zone \(n)"))
        }
        return .success(z)
    }

    func recordJSON(_ r: StoredRecord, _ z: StoredZone) -> JSON {
        let origin = (try? DomainName(z.name + ".")) ?? DomainName.root
        return .object([("id", JSON(r.id)), ("zone", .string(z.name)), ("name", .string(r.name)),
                        ("fqdn", .string(Names.absolute(r.name, in: z.name))), ("type", .string(r.type)),
                        ("ttl", JSON(r.ttl ?? (z.ttl ?? 3600))), ("data", RecordData.json(type: r.type, text: r.value, origin: origin))])
    }

    func listRecords(_ req: HTTPRequest, _ id: String, _ db: Database) throws(StoreError) -> HTTPResponse {
        let z: StoredZone
        switch try recordZone(id, db, writing: false) {
        case .success(let v): z = v
        case .failure(let e): return e.response
        }
        let (offset, limit): (Int, Int)
        switch API.page(req) {
        case .success(let p): (offset, limit) = p
        case .failure(let e): return e.response
        }
        let owner = req.queryValue("name").map { ownerName(Names.normalize($0), z.name) }
        let type = req.queryValue("type").map { Names.upper($0) }
        let (list, total) = try Zones.records(db, zone: z.name, name: owner, type: type, offset: offset, limit: limit)
        return .json(200, .object([("records", .array(list.map { recordJSON($0, z) })), ("total", JSON(total)),
                                   ("offset", JSON(offset)), ("limit", JSON(limit))]))
    }

    func getRecord(_ zid: String, _ rid: String, _ db: Database) throws(StoreError) -> HTTPResponse {
        let z: StoredZone
        switch try recordZone(zid, db, writing: false) {
        case .success(let v): z = v
        case .failure(let e): return e.response
        }
        guard let id = Int64(rid), let r = try Zones.record(db, zone: z.name, id: id) else { return .error(404, "no record \(rid) in \(z.name)") }
        return .json(200, recordJSON(r, z))
    }

    /// `@` for the apex, the part before the zone for full names, else the name as given (relative).
    func ownerName(_ n: String, _ zone: String) -> String {
        if n.isEmpty || n == "@" || n == zone { return "@" }
        if n.hasSuffix("." + zone) { return Names.relative(n, to: zone) }
        return n
    }

    /// A record body checked against the zone.
    func recordFromBody(_ b: JSON, _ z: StoredZone) -> Result<(StoredRecord, Bool), HTTPError> {
        guard b.members != nil else { return .failure(HTTPError(400, "body must be a JSON object", "body")) }
        var owner = "@"
        if let v = b["name"], !v.isNull {
            guard let s = v.string else { return .failure(HTTPError(400, "name must be a string", "name")) }
            owner = ownerName(Names.normalize(s), z.name)
        }
        if owner != "@", let p = Names.hostNameProblem(owner + "." + z.name, allowUnderscore: true, allowWildcard: true) {
            return .failure(HTTPError(400, "invalid name: \(p)", "name"))
        }
        guard let t = b["type"]?.string else { return .failure(HTTPError(400, "type is required", "type")) }
        let type = Names.upper(t)
        guard RecordData.types.contains(type) else {
            return .failure(HTTPError(400, "type must be one of \(RecordData.types.joined(separator: ", "))", "type"))
        }
        var ttl: Int? = nil
        if let v = b["ttl"], !v.isNull {
            guard let n = v.int, n >= 0, n <= 2_147_483_647 else { return .failure(HTTPError(400, "ttl must be an integer from 0 to 2147483647", "ttl")) }
            ttl = n
        }
        let text: String
        do throws(RecordData.Problem) { text = try RecordData.presentation(type: type, data: b["data"]) } catch {
            return .failure(HTTPError(400, error.message, error.field))
        }
        var ptr = false
        if let p = b["ptr"], !p.isNull {
            guard let v = p.bool else { return .failure(HTTPError(400, "ptr must be true or false", "ptr")) }
            guard !v || type == "A" || type == "AAAA" else { return .failure(HTTPError(400, "ptr applies to A and AAAA records only", "ptr")) }
            ptr = v
        }
        return .success((StoredRecord(name: owner, type: type, ttl: ttl, value: text), ptr))
    }

    /// The record of `zone` equal to `r` (same owner, type and data), if any.
    func identical(_ db: Database, _ zone: StoredZone, _ r: StoredRecord) throws(StoreError) -> StoredRecord? {
        let origin = (try? DomainName(zone.name + ".")) ?? DomainName.root
        guard let t = RRType(mnemonic: r.type), let want = try? RData(type: t, text: r.value, origin: origin) else { return nil }
        for e in try Zones.records(db, zone: zone.name, name: r.name, type: r.type).records {
            if let have = try? RData(type: t, text: e.value, origin: origin), have == want { return e }
        }
        return nil
    }

    /// Checks the zone as dnsd will build it (one SOA, CNAME alone at its
    /// name, owners inside the zone); the reason when it would not load.
    func zoneProblem(_ db: Database, _ zone: StoredZone) throws(StoreError) -> String? {
        let origin: DomainName
        do throws(DNSError) { origin = try DomainName(zone.name + ".") } catch { return "bad zone name" }
        let ttl = UInt32(clamping: zone.ttl ?? 3600)
        var records: [ResourceRecord] = []
        var sources: [String] = []
        for r in try Zones.records(db, zone: zone.name).records {
            guard let t = RRType(mnemonic: r.type) else { return "record \(r.id): unknown type \(r.type)" }
            do throws(DNSError) {
                let owner = r.name == "@" ? origin : try DomainName(r.name, origin: origin)
                records.append(ResourceRecord(owner: owner, ttl: r.ttl.map { UInt32(clamping: $0) } ?? ttl,
                                              rdata: try RData(type: t, text: r.value, origin: origin)))
                sources.append("record \(r.id)")
            } catch {
                return "record \(r.id): \(error)"
            }
        }
        if !records.contains(where: { $0.type == .soa }) {
            do throws(DNSError) {
                let soa = SOA(mname: try DomainName("ns1", origin: origin), rname: try DomainName("hostmaster", origin: origin),
                              serial: 1, refresh: 3600, retry: 600, expire: 1_209_600, minimum: 300)
                records.insert(ResourceRecord(owner: origin, ttl: ttl, rdata: .soa(soa)), at: 0)
                sources.insert("SOA", at: 0)
                if !records.contains(where: { $0.type == .ns && $0.owner == origin }) {
                    records.insert(ResourceRecord(owner: origin, ttl: ttl, rdata: .ns(try DomainName("ns1", origin: origin))), at: 1)
                    sources.insert("NS", at: 1)
                }
            } catch {
                return "zone \(zone.name): \(error)"
            }
        }
        do throws(ZoneError) {
            _ = try Zone.check(origin: origin, records: records, sources: sources)
        } catch {
            return error.message
        }
        return nil
    }

    /// Adds the PTR of an A/AAAA record to the API zone holding its reverse name.
    func addPTR(_ db: Database, _ r: StoredRecord, _ zone: StoredZone) throws(StoreError) -> HTTPError? {
        guard let ip = IPAddress(r.value) else { return HTTPError(400, "ptr: not an address", "ptr") }
        let rev = RecordData.reverseName(ip)
        var best: StoredZone? = nil
        for z in try Zones.list(db).zones where Names.isWithin(rev, z.name) && !settings.isConfigZone(z.name) {
            if best == nil || z.name.utf8.count > best!.name.utf8.count { best = z }
        }
        guard let rz = best else { return HTTPError(400, "ptr: no API zone contains \(rev); create it first", "ptr") }
        let ptr = StoredRecord(name: Names.relative(rev, to: rz.name), type: "PTR", ttl: r.ttl,
                               value: Names.absolute(r.name, in: zone.name) + ".")
        if try identical(db, rz, ptr) == nil {
            _ = try Zones.addRecord(db, zone: rz.name, ptr)
            if let p = try zoneProblem(db, rz) { return HTTPError(400, "ptr: \(p)", "ptr") }
            try Zones.bumpSerial(db, rz.name)
        }
        return nil
    }

    func createRecord(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        try saveRecord(j, db, replacing: false)
    }

    func updateRecord(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        try saveRecord(j, db, replacing: true)
    }

    /// POST (a new record, or 200 with an identical one) or PUT (record
    /// `params[1]` replaced): checked against the zone, PTR added when
    /// asked, serial moved on.
    func saveRecord(_ j: Job, _ db: Database, replacing: Bool) throws(StoreError) -> HTTPResponse {
        let z: StoredZone
        switch try recordZone(j.params[0], db, writing: true) {
        case .success(let v): z = v
        case .failure(let e): return e.response
        }
        var id: Int64 = 0
        if replacing {
            guard let n = Int64(j.params[1]), try Zones.record(db, zone: z.name, id: n) != nil else {
                return .error(404, "no record \(j.params[1]) in \(z.name)")
            }
            id = n
        }
        var r: StoredRecord, ptr: Bool
        switch recordFromBody(j.body, z) {
        case .success(let (a, b)): (r, ptr) = (a, b)
        case .failure(let e): return e.response
        }
        if replacing {
            r.id = id
            _ = try Zones.updateRecord(db, zone: z.name, r)
        } else {
            if let same = try identical(db, z, r) { return .json(200, recordJSON(same, z)) }
            r.id = try Zones.addRecord(db, zone: z.name, r)
        }
        if let p = try zoneProblem(db, z) { return .error(400, p, field: "data") }
        if ptr, let e = try addPTR(db, r, z) { return e.response }
        try Zones.bumpSerial(db, z.name)
        return .json(replacing ? 200 : 201, recordJSON(r, z))
    }

    func deleteRecord(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        let z: StoredZone
        switch try recordZone(j.params[0], db, writing: true) {
        case .success(let v): z = v
        case .failure(let e): return e.response
        }
        guard let id = Int64(j.params[1]), try Zones.deleteRecord(db, zone: z.name, id: id) else {
            return .error(404, "no record \(j.params[1]) in \(z.name)")
        }
        try Zones.bumpSerial(db, z.name)
        return HTTPResponse(status: 204)
    }
}
