import Config

/// A zone the API may write services into (`config zone` with `option dynamic '1'`).
public struct DynamicZone {
    /// Lowercased, without the final dot.
    public var name: String
    /// TTL of services that give none (`option service_ttl`, default 5).
    public var serviceTTL: Int
    /// `option fallback`: addresses answered for names with no data.
    public var fallback: [String]
}

/// What the API applet reads from the config. Built on every reload.
public struct APISettings {
    public var listen: String = ""
    /// nil: not configured (the server refuses to start; CGI answers 500).
    public var token: String?
    public var allow: [CIDR] = []
    /// Write requests per second; 0 = unlimited.
    public var rateLimit = 0
    public var audit = true
    public var maxConnections = 1
    public var timeoutMs = 0
    public var dynamicZones: [DynamicZone] = []
    /// Zones declared in the config (lowercased, no final dot), with their TTL.
    public var configZones: [(name: String, ttl: Int, dynamic: Bool)] = []
    /// Owners used by `config record` sections, per zone: `zone|owner`.
    public var configOwners: Set<String> = []
    /// Problems found (each names the option); the server refuses to start with any.
    public var problems: [String] = []

    public init() {}

    public init(_ c: Config) {
        let api = c.api
        listen = api.listen
        if let t = api.token {
            if t.isEmpty {
                problems.append("api: option 'token' is empty")
            } else if t.hasPrefix("$") || t.hasPrefix("{env.") {
                problems.append("api: option 'token' names an environment variable that is not set (\(t))")
            } else {
                token = t
            }
        } else {
            problems.append("api: option 'token' is required")
        }
        for a in api.allow {
            if let cidr = CIDR(addressOrPrefix: a) {
                allow.append(cidr)
            } else {
                problems.append("api: allow '\(a)' is not an address or prefix")
            }
        }
        rateLimit = api.rateLimit
        audit = api.audit
        maxConnections = api.maxConnections
        timeoutMs = api.timeoutMs
        for z in c.zones where z.name != nil {
            configZones.append((z.key, z.ttl, z.dynamic))
            if z.dynamic { dynamicZones.append(DynamicZone(name: z.key, serviceTTL: z.serviceTTL, fallback: z.fallback)) }
        }
        for r in c.records { configOwners.insert(r.zoneKey + "|" + r.ownerKey) }
    }

    /// True when `peer` (an address text) may talk to the API.
    public func allows(_ peer: String) -> Bool {
        if allow.isEmpty { return true }
        guard let ip = IPAddress(peer) else { return false }
        for c in allow where c.contains(ip) { return true }
        // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
        if ip.bytes.count == 16, ip.bytes[0..<10].allSatisfy({ $0 == 0 }), ip.bytes[10] == 0xff, ip.bytes[11] == 0xff,
           let v4 = IPAddress(bytes: Array(ip.bytes[12..<16])) {
            for c in allow where c.contains(v4) { return true }
        }
        return false
    }

    public func isConfigZone(_ name: String) -> Bool { configZones.contains { $0.name == name } }
}
