// The config as typed sections: one struct per section type, built once per
// load (in `Config.init`), with every default taken from the schema table.
// Every applet reads these instead of looking options up by name, so an
// option is spelled, defaulted and parsed in exactly one place.

/// Reads one section's options with the schema's defaults: what the file
/// set, else the option's default, else nothing. Values already passed
/// validation, so the kind parsers cannot fail on them.
public struct SectionReader {
    public let section: UCISection?
    let spec: SectionSpec?
    /// Tests: called with each option read as required (`number`, `flag`,
    /// `text`, `duration`) that has no value and no schema default.
    var missingDefault: ((String) -> Void)?

    public init(_ section: UCISection?, spec: SectionSpec?) {
        self.section = section
        self.spec = spec
    }

    /// All values of `option` (a single option as one element).
    public func list(_ option: String) -> [String] {
        if let v = section?.option(option) { return v.values }
        return spec?.option(option)?.defaults ?? []
    }

    /// The (last) value, or nil when neither the file nor the schema gives one.
    public func string(_ option: String) -> String? { list(option).last }

    public func int(_ option: String) -> Int? { string(option).flatMap { parseInt($0) } }

    public func bool(_ option: String) -> Bool? { string(option).flatMap { parseBool($0) } }

    public func milliseconds(_ option: String) -> Int? { string(option).flatMap { Duration.parseMilliseconds($0) } }

    // Options with a schema default. `SectionTests` checks that each name
    // read through these has one, so the fallbacks never apply.
    public func number(_ option: String) -> Int { int(option) ?? missing(option, 0) }
    public func flag(_ option: String) -> Bool { bool(option) ?? missing(option, false) }
    public func text(_ option: String) -> String { string(option) ?? missing(option, "") }
    public func duration(_ option: String) -> Int { milliseconds(option) ?? missing(option, 0) }

    private func missing<T>(_ option: String, _ fallback: T) -> T {
        missingDefault?(option)
        return fallback
    }

    /// The value, or "" when the file does not set it (options a later check
    /// requires, such as a record's type: "" is reported there).
    public func given(_ option: String) -> String { string(option) ?? "" }

    /// A non-empty value, or nil.
    public func nonEmpty(_ option: String) -> String? {
        guard let s = string(option), !s.isEmpty else { return nil }
        return s
    }

    /// Where the section starts (for messages).
    public var location: SourceLocation { section?.location ?? SourceLocation(file: "", line: 0, column: 0) }
}

/// `config dnsbox`: global settings.
public struct GlobalSection: Sendable {
    public var database: String
    public var rundir: String
    public var logLevel: String
    public var logFormat: String
    public var logTarget: String
    public var user: String?

    public init(_ r: SectionReader) {
        database = r.text("database")
        rundir = r.text("rundir")
        logLevel = r.text("log_level")
        logFormat = r.text("log_format")
        logTarget = r.text("log_target")
        user = r.nonEmpty("user")
    }

    /// The control socket of `applet`.
    public func controlSocket(_ applet: String) -> String { rundir + "/" + applet + ".sock" }
}

/// `config dnsd`: the DNS server.
public struct DnsdSection: Sendable {
    public var listen: [String]
    public var workers: Int
    public var nsid: String?
    public var version: String
    public var tcpIdleTimeoutMs: Int
    public var tcpMaxConnections: Int
    public var tcpMaxPerClient: Int
    public var tcpIOTimeoutMs: Int
    public var forwarders: [String]
    /// Empty: loopback and the router's own subnets.
    public var allowRecursion: [String]
    public var cacheSize: Int
    public var serveStaleMs: Int
    public var upstreamTimeoutMs: Int
    /// IXFR out: differences kept per zone, and their bytes.
    public var journalMaxDepth: Int
    public var journalMaxUsage: Int

    public init(_ r: SectionReader) {
        listen = r.list("listen")
        workers = r.number("workers")
        nsid = r.nonEmpty("nsid")
        version = r.text("version")
        tcpIdleTimeoutMs = r.duration("tcp_idle_timeout")
        tcpMaxConnections = r.number("tcp_max_connections")
        tcpMaxPerClient = r.number("tcp_max_per_client")
        tcpIOTimeoutMs = r.duration("tcp_io_timeout")
        forwarders = r.list("forwarder")
        allowRecursion = r.list("allow_recursion")
        cacheSize = r.number("cache_size")
        serveStaleMs = r.duration("serve_stale")
        upstreamTimeoutMs = r.duration("upstream_timeout")
        journalMaxDepth = r.number("journal_max_depth")
        journalMaxUsage = r.number("journal_max_usage")
    }
}

/// `config forward`: a conditional forwarder.
public struct ForwardSection: Sendable {
    public var zones: [String]
    public var servers: [String]
    public var fallbackLocal: Bool
    public var location: SourceLocation

    public init(_ r: SectionReader) {
        zones = r.list("zone")
        servers = r.list("server")
        fallbackLocal = r.flag("fallback_local")
        location = r.location
    }
}

/// `config zone`: an authoritative zone.
public struct ZoneSection: Sendable {
    /// As written (nil or empty: the section is in error).
    public var name: String?
    /// Lowercased, without a final dot (`Names.normalize`).
    public var key: String
    public var file: String?
    public var ttl: Int
    public var allowTransfer: [String]
    public var notify: [String]
    /// A secondary zone's primaries (`ADDR[:PORT]`) and who may NOTIFY it.
    public var primary: [String]
    public var allowNotify: [String]
    /// The `tsig_key` section's name transfers and NOTIFY use.
    public var tsigKey: String?
    public var dynamic: Bool
    public var fallback: [String]
    public var serviceTTL: Int
    public var location: SourceLocation

    public init(_ r: SectionReader) {
        name = r.nonEmpty("name")
        key = Names.normalize(name ?? "")
        file = r.nonEmpty("file")
        ttl = r.number("ttl")
        allowTransfer = r.list("allow_transfer")
        notify = r.list("notify")
        primary = r.list("primary")
        allowNotify = r.list("allow_notify")
        tsigKey = r.nonEmpty("tsig_key")
        dynamic = r.flag("dynamic")
        fallback = r.list("fallback")
        serviceTTL = r.number("service_ttl")
        location = r.location
    }
}

/// `config tsig_key`: a TSIG key.
public struct TSIGKeySection: Sendable {
    /// The key's name (`option name`, else the section's name), as written.
    public var name: String
    public var algorithm: String
    public var secret: String
    /// The section's own name, if it has one.
    public var section: String?
    public var location: SourceLocation

    public init(_ r: SectionReader) {
        section = r.section?.name
        name = r.nonEmpty("name") ?? r.section?.name ?? ""
        algorithm = r.text("algorithm")
        secret = r.text("secret")
        location = r.location
    }
}

/// `config record`: one record of a zone.
public struct RecordSection: Sendable {
    /// The zone as written, and normalized.
    public var zone: String
    public var zoneKey: String
    /// The owner as written (`@`, relative, or absolute with a final dot),
    /// and relative to the zone, lowercased (`Names.owner`).
    public var name: String
    public var ownerKey: String
    public var type: String
    public var value: String
    public var ttl: Int?
    public var location: SourceLocation

    public init(_ r: SectionReader) {
        zone = r.given("zone")
        zoneKey = Names.normalize(zone)
        name = r.text("name")
        ownerKey = Names.owner(name, in: zoneKey)
        type = r.given("type")
        value = r.given("value")
        ttl = r.int("ttl")
        location = r.location
    }
}

/// `config api`: the HTTP API.
public struct APISection: Sendable {
    public var listen: String
    public var token: String?
    public var allow: [String]
    public var rateLimit: Int
    public var audit: Bool
    public var maxConnections: Int
    public var timeoutMs: Int

    public init(_ r: SectionReader) {
        listen = r.text("listen")
        token = r.string("token")
        allow = r.list("allow")
        rateLimit = r.number("rate_limit")
        audit = r.flag("audit")
        maxConnections = r.number("max_connections")
        timeoutMs = r.duration("timeout")
    }
}

/// `config dhcp`: DHCP on one interface.
public struct DHCPSection: Sendable {
    public var interface: String?
    public var ignore: Bool
    public var start: Int
    public var limit: Int
    public var leasetime: String
    /// Without a final dot.
    public var domain: String?
    public var dns: [String]
    public var router: String?
    public var search: [String]
    public var nextServer: String?
    public var bootFile: String?
    public var bootFileEFI: String?
    public var ipxeBootURL: String?
    public var options: [String]
    public var leasefile: String
    public var location: SourceLocation

    public init(_ r: SectionReader) {
        interface = r.nonEmpty("interface")
        ignore = r.flag("ignore")
        start = r.number("start")
        limit = r.number("limit")
        leasetime = r.text("leasetime")
        domain = r.nonEmpty("domain").map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
        dns = r.list("dns")
        router = r.nonEmpty("router")
        search = r.list("search")
        nextServer = r.nonEmpty("next_server")
        bootFile = r.nonEmpty("boot_file")
        bootFileEFI = r.nonEmpty("boot_file_efi")
        ipxeBootURL = r.nonEmpty("ipxe_boot_url")
        options = r.list("option")
        leasefile = r.text("leasefile")
        location = r.location
    }

    /// Served: not ignored and naming an interface.
    public var isServed: Bool { !ignore && interface != nil }
}

/// `config host`: a DHCP reservation.
public struct HostSection: Sendable {
    public var macs: [String]
    public var ip: String?
    public var name: String?
    public var leasetime: String?
    public var location: SourceLocation

    public init(_ r: SectionReader) {
        macs = r.list("mac")
        ip = r.nonEmpty("ip")
        name = r.nonEmpty("name")
        leasetime = r.nonEmpty("leasetime")
        location = r.location
    }
}

/// Every section of a config, typed.
public struct ConfigSections: Sendable {
    public var global: GlobalSection
    public var dnsd: DnsdSection
    public var forwards: [ForwardSection]
    public var zones: [ZoneSection]
    public var records: [RecordSection]
    public var tsigKeys: [TSIGKeySection]
    public var api: APISection
    public var dhcp: [DHCPSection]
    public var hosts: [HostSection]
    /// Section types with at least one section that is on: not `enabled
    /// '0'` and not `ignore '1'` (what init starts).
    public var enabledTypes: Set<String>

    public init(_ doc: UCIDocument, schema: Schema) {
        func first(_ type: String) -> SectionReader {
            SectionReader(doc.sections.first { $0.type == type }, spec: schema.section(type))
        }
        func all(_ type: String) -> [SectionReader] {
            let spec = schema.section(type)
            return doc.sections.filter { $0.type == type }.map { SectionReader($0, spec: spec) }
        }
        global = GlobalSection(first("dnsbox"))
        dnsd = DnsdSection(first("dnsd"))
        forwards = all("forward").map { ForwardSection($0) }
        zones = all("zone").map { ZoneSection($0) }
        records = all("record").map { RecordSection($0) }
        tsigKeys = all("tsig_key").map { TSIGKeySection($0) }
        api = APISection(first("api"))
        dhcp = all("dhcp").map { DHCPSection($0) }
        hosts = all("host").map { HostSection($0) }
        var on: Set<String> = []
        for s in doc.sections {
            let r = SectionReader(s, spec: schema.section(s.type))
            let enabled = s.option("enabled") == nil ? true : r.bool("enabled") ?? true
            let ignored = s.option("ignore") == nil ? false : r.bool("ignore") ?? false
            if enabled && !ignored { on.insert(s.type) }
        }
        enabledTypes = on
    }

    /// The zone section named `key` (normalized), if any.
    public func zone(_ key: String) -> ZoneSection? {
        for z in zones where z.key == key { return z }
        return nil
    }
}
