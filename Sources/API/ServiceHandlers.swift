import Config
import HTTP
import Store

/// The dynresolve-compatible endpoints: `/v1/services…` and `/v1/state`.
extension API {
    /// The dynamic zone a request is about: `?zone=`, the zone a full name
    /// ends in, or the only one.
    func serviceZone(_ req: HTTPRequest, name: String?) -> Result<(DynamicZone, String?), HTTPError> {
        let zones = settings.dynamicZones
        guard !zones.isEmpty else { return .failure(HTTPError(404, "no dynamic zone is configured (config zone … option dynamic '1')")) }
        var chosen: DynamicZone? = nil
        if let z = req.queryValue("zone") {
            let n = Names.normalize(z)
            guard let d = zones.first(where: { $0.name == n }) else {
                return .failure(HTTPError(400, "'\(z)' is not a dynamic zone", "zone"))
            }
            chosen = d
        }
        guard let raw = name else {
            if let c = chosen { return .success((c, nil)) }
            if zones.count == 1 { return .success((zones[0], nil)) }
            return .failure(HTTPError(400, "several dynamic zones are configured; say which with ?zone=", "zone"))
        }
        let n = Names.normalize(raw)
        var zone = chosen
        var relative = n
        if n.utf8.contains(UInt8(ascii: ".")) || zones.contains(where: { $0.name == n }) {
            // A full name: it must end in the chosen zone, or in one of them.
            let candidates = chosen.map { [$0] } ?? zones
            var best: DynamicZone? = nil
            for z in candidates where Names.isWithin(n, z.name) && n != z.name {
                if best == nil || z.name.utf8.count > best!.name.utf8.count { best = z }
            }
            guard let b = best else {
                return .failure(HTTPError(400, "'\(raw)' is not a name inside \(chosen.map { "zone " + $0.name } ?? "a dynamic zone")", "name"))
            }
            zone = b
            relative = Names.relative(n, to: b.name)
        } else if zone == nil {
            guard zones.count == 1 else {
                return .failure(HTTPError(400, "several dynamic zones are configured; use the full name or ?zone=", "zone"))
            }
            zone = zones[0]
        }
        if let p = Names.hostNameProblem(relative) { return .failure(HTTPError(400, "invalid service name '\(raw)': \(p)", "name")) }
        if (relative + "." + zone!.name).utf8.count > 253 { return .failure(HTTPError(400, "name longer than 253 characters", "name")) }
        return .success((zone!, relative))
    }

    func serviceJSON(_ s: StoredService, _ z: DynamicZone) -> JSON {
        .object([("name", .string(s.name)), ("fqdn", .string(s.name + "." + z.name)), ("zone", .string(z.name)),
                 ("type", .string(s.type)), ("records", .array(s.records.map { .string($0) })),
                 ("ttl", JSON(s.ttl == 0 ? z.serviceTTL : s.ttl))])
    }

    /// Addresses of a body's `records`: canonical, deduplicated, all of one family.
    static func addresses(_ j: JSON?, type: String?, allowEmpty: Bool = false) -> Result<(String, [String]), HTTPError> {
        guard let list = j?.array else { return .failure(HTTPError(400, "records must be an array of addresses", "records")) }
        var out: [String] = []
        var family = type
        for item in list {
            guard let s = item.string, let ip = IPAddress(s) else {
                return .failure(HTTPError(400, "invalid address \(item.serialized) in records", "records"))
            }
            let t = ip.isV4 ? "A" : "AAAA"
            if family == nil { family = t }
            guard family == t else {
                return .failure(HTTPError(400, "\(s) is not an \(family == "A" ? "IPv4" : "IPv6") address (type \(family!))", "records"))
            }
            let text = ip.description
            if !out.contains(text) { out.append(text) }
        }
        if out.isEmpty && !allowEmpty { return .failure(HTTPError(400, "records must not be empty", "records")) }
        if out.count > API.maxRecordsPerService {
            return .failure(HTTPError(400, "at most \(API.maxRecordsPerService) records per service", "records"))
        }
        return .success((family ?? "A", out))
    }

    static func ttl(_ j: JSON?) -> Result<Int, HTTPError> {
        guard let j, !j.isNull else { return .success(0) }
        guard let v = j.int, v >= 0, v <= 2_147_483_647 else { return .failure(HTTPError(400, "ttl must be an integer from 0 to 2147483647", "ttl")) }
        return .success(v)
    }

    /// A service body `{"type","records","ttl"}` for `zone`/`name`.
    func serviceFromBody(_ body: JSON, zone: DynamicZone, name: String) -> Result<StoredService, HTTPError> {
        guard body.members != nil else { return .failure(HTTPError(400, "body must be a JSON object", "body")) }
        var type: String? = nil
        if let t = body["type"], !t.isNull {
            guard let s = t.string, s == "A" || s == "AAAA" || s == "a" || s == "aaaa" else {
                return .failure(HTTPError(400, "type must be \"A\" or \"AAAA\"", "type"))
            }
            type = s == "a" || s == "A" ? "A" : "AAAA"
        }
        let (family, records): (String, [String])
        switch API.addresses(body["records"], type: type) {
        case .success(let v): (family, records) = v
        case .failure(let e): return .failure(e)
        }
        let t: Int
        switch API.ttl(body["ttl"]) {
        case .success(let v): t = v
        case .failure(let e): return .failure(e)
        }
        return .success(StoredService(zone: zone.name, name: name, type: family, ttl: t, records: records))
    }

    func conflictsWithConfig(_ zone: DynamicZone, _ name: String) -> HTTPError? {
        settings.configOwners.contains(zone.name + "|" + name)
            ? HTTPError(409, "\(name).\(zone.name) is defined by a config record section and cannot be a service", "name") : nil
    }

    func listServices(_ req: HTTPRequest, _ db: Database) throws(StoreError) -> HTTPResponse {
        let zone: DynamicZone
        switch serviceZone(req, name: nil) {
        case .success(let (z, _)): zone = z
        case .failure(let e): return e.response
        }
        var m: [(key: String, value: JSON)] = []
        for s in try Services.list(db, zone: zone.name) {
            m.append((s.name, .object([("type", .string(s.type)), ("records", .array(s.records.map { .string($0) })),
                                       ("ttl", JSON(s.ttl == 0 ? zone.serviceTTL : s.ttl))])))
        }
        return .json(200, .object([("zone", .string(zone.name)), ("services", .object(m))]))
    }

    func getService(_ req: HTTPRequest, _ name: String, _ db: Database) throws(StoreError) -> HTTPResponse {
        switch serviceZone(req, name: name) {
        case .failure(let e): return e.response
        case .success(let (z, n)):
            guard let s = try Services.get(db, zone: z.name, name: n!) else { return .error(404, "no service \(n!).\(z.name)") }
            return .json(200, serviceJSON(s, z))
        }
    }

    func putService(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        let z: DynamicZone, n: String
        switch serviceZone(j.request, name: j.params[0]) {
        case .success(let (a, b)): (z, n) = (a, b!)
        case .failure(let e): return e.response
        }
        if let e = conflictsWithConfig(z, n) { return e.response }
        switch serviceFromBody(j.body, zone: z, name: n) {
        case .failure(let e): return e.response
        case .success(let s):
            try Services.put(db, s)
            return .json(200, serviceJSON(s, z))
        }
    }

    func deleteService(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        switch serviceZone(j.request, name: j.params[0]) {
        case .failure(let e): return e.response
        case .success(let (z, n)):
            guard try Services.delete(db, zone: z.name, name: n!) else { return .error(404, "no service \(n!).\(z.name)") }
            return HTTPResponse(status: 204)
        }
    }

    func serviceRecords(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        let z: DynamicZone, n: String
        switch serviceZone(j.request, name: j.params[0]) {
        case .success(let (a, b)): (z, n) = (a, b!)
        case .failure(let e): return e.response
        }
        guard j.body.members != nil else { return .error(400, "body must be a JSON object", field: "body") }
        let existing = try Services.get(db, zone: z.name, name: n)
        let adding = j.request.method == "POST"
        let (family, given): (String, [String])
        switch API.addresses(j.body["records"], type: existing?.type) {
        case .success(let v): (family, given) = v
        case .failure(let e): return e.response
        }
        if adding {
            if existing == nil, let e = conflictsWithConfig(z, n) { return e.response }
            var s = existing ?? StoredService(zone: z.name, name: n, type: family, ttl: 0, records: [])
            for a in given where !s.records.contains(a) { s.records.append(a) }
            if s.records.count > API.maxRecordsPerService {
                return .error(400, "at most \(API.maxRecordsPerService) records per service", field: "records")
            }
            switch API.ttl(j.body["ttl"]) {
            case .success(let t): if t != 0 { s.ttl = t }
            case .failure(let e): return e.response
            }
            try Services.put(db, s)
            return .json(200, serviceJSON(s, z))
        }
        guard var s = existing else { return .error(404, "no service \(n).\(z.name)") }
        s.records.removeAll { given.contains($0) }
        if s.records.isEmpty {
            try Services.delete(db, zone: z.name, name: n)
            return HTTPResponse(status: 204)
        }
        try Services.put(db, s)
        return .json(200, serviceJSON(s, z))
    }

    func putState(_ j: Job, _ db: Database) throws(StoreError) -> HTTPResponse {
        let zone: DynamicZone
        switch serviceZone(j.request, name: nil) {
        case .success(let (z, _)): zone = z
        case .failure(let e): return e.response
        }
        guard let members = j.body["services"]?.members else {
            return .error(400, "body must be {\"services\": {NAME: {\"type\", \"records\", \"ttl\"}, …}}", field: "services")
        }
        var req = j.request
        req.query = [("zone", zone.name)]
        var out: [StoredService] = []
        var seen = Set<String>()
        for (name, value) in members {
            let n: String
            switch serviceZone(req, name: name) {
            case .success(let (_, b)): n = b!
            case .failure(let e): return e.response
            }
            guard !seen.contains(n) else { return .error(400, "service \(n) is given twice", field: "services") }
            seen.insert(n)
            if let e = conflictsWithConfig(zone, n) { return e.response }
            switch serviceFromBody(value, zone: zone, name: n) {
            case .success(let s): out.append(s)
            case .failure(let e):
                var r = e.response
                // Say which service is at fault.
                if case .object(var m)? = try? JSON.parse(r.body) {
                    m.append(("service", .string(n)))
                    r = .json(r.status, .object(m))
                }
                return r
            }
        }
        try Services.replaceAll(db, zone: zone.name, out)
        return .json(200, .object([("zone", .string(zone.name)), ("count", JSON(out.count))]))
    }
}
