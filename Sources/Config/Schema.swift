// The config schema: one declared table of sections and options
// (STYLE.md habit 6). Validation, `show-config -d` and `--help` all read
// this table; adding an option means adding a row here.

/// One option of a section.
public struct OptionSpec: Sendable {
    public var name: String
    public var kind: OptionKind
    /// Applied when the file does not set the option; must satisfy `kind`.
    public var defaultValue: String?
    /// True when the option may be given several times with `list`.
    /// A list option also accepts a single `option` line.
    public var isList: Bool
    /// One line for help output.
    public var summary: String
    /// The default of a list option with several values (`defaultValue`
    /// holds a single one).
    public var listDefault: [String]

    public init(name: String, kind: OptionKind, defaultValue: String? = nil, isList: Bool = false,
                listDefault: [String] = [], summary: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.isList = isList
        self.summary = summary
        self.listDefault = listDefault
    }

    /// What the option is when the file does not set it.
    public var defaults: [String] {
        if let d = defaultValue { return [d] }
        return listDefault
    }
}

/// One section type.
public struct SectionSpec: Sendable {
    public var type: String
    public var summary: String
    public var options: [OptionSpec]
    /// True when anonymous sections of this type are refused.
    public var nameRequired: Bool

    public init(type: String, summary: String, options: [OptionSpec], nameRequired: Bool = false) {
        self.type = type
        self.summary = summary
        self.options = options
        self.nameRequired = nameRequired
    }

    public func option(_ name: String) -> OptionSpec? {
        for spec in options where spec.name == name { return spec }
        return nil
    }

    /// Option names in table order (for suggestions and help).
    public var optionNames: [String] { options.map { $0.name } }
}

/// All known section types.
public struct Schema: Sendable {
    public var sections: [SectionSpec]

    public init(sections: [SectionSpec]) {
        self.sections = sections
    }

    public func section(_ type: String) -> SectionSpec? {
        for spec in sections where spec.type == type { return spec }
        return nil
    }

    /// Section types in table order.
    public var sectionTypes: [String] { sections.map { $0.type } }
}

// MARK: - The dnsbox schema

extension Schema {
    /// The schema of `/etc/config/dnsbox`.
    public static let dnsbox = Schema(sections: [
        SectionSpec(type: "dnsbox", summary: "global settings", options: [
            OptionSpec(name: "database", kind: .path, defaultValue: "/var/lib/dnsbox/dnsbox.db",
                       summary: "path of the SQLite state database"),
            OptionSpec(name: "rundir", kind: .path, defaultValue: "/run/dnsbox",
                       summary: "directory for control sockets and pid files"),
            OptionSpec(name: "log_level", kind: .oneOf(["debug", "info", "warn", "error"]), defaultValue: "info",
                       summary: "lowest level that is logged"),
            OptionSpec(name: "log_format", kind: .oneOf(["text", "json"]), defaultValue: "text",
                       summary: "log line format"),
            OptionSpec(name: "log_target", kind: .oneOf(["stderr", "syslog"]), defaultValue: "stderr",
                       summary: "where log lines go"),
            OptionSpec(name: "user", kind: .string,
                       summary: "user to run the applets as after binding their sockets"),
        ]),
        SectionSpec(type: "dnsd", summary: "DNS server: authoritative zones, forwarding and caching", options: [
            OptionSpec(name: "enabled", kind: .bool, defaultValue: "1",
                       summary: "start this applet under init"),
            OptionSpec(name: "listen", kind: .hostPort(defaultPort: 53), isList: true, listDefault: ["0.0.0.0:53", "[::]:53"],
                       summary: "UDP and TCP addresses to serve"),
            OptionSpec(name: "workers", kind: .int(min: 0, max: 64), defaultValue: "0",
                       summary: "UDP worker threads; 0 = one per CPU the process may use"),
            OptionSpec(name: "nsid", kind: .string,
                       summary: "NSID (RFC 5001) and hostname.bind / id.server answer"),
            OptionSpec(name: "version", kind: .string, defaultValue: "dnsbox",
                       summary: "version.bind answer"),
            OptionSpec(name: "tcp_idle_timeout", kind: .duration, defaultValue: "10s",
                       summary: "close a TCP connection idle this long"),
            OptionSpec(name: "tcp_max_connections", kind: .int(min: 1, max: 65535), defaultValue: "1000",
                       summary: "concurrent TCP connections; more are closed at once"),
            OptionSpec(name: "forwarder", kind: .hostPort(defaultPort: 53), isList: true,
                       summary: "upstream servers for names outside the local zones (none: no forwarding)"),
            OptionSpec(name: "allow_recursion", kind: .addressOrCIDR, isList: true,
                       summary: "clients that may use forwarding and the cache (default: loopback + the router's subnets)"),
            OptionSpec(name: "cache_size", kind: .int(min: 1, max: 10_000_000), defaultValue: "10000",
                       summary: "cached RRsets and negative answers at most; the least used are evicted"),
            OptionSpec(name: "serve_stale", kind: .duration, defaultValue: "1d",
                       summary: "answer from expired cache entries this long when every upstream fails (RFC 8767); 0 disables"),
            OptionSpec(name: "upstream_timeout", kind: .duration, defaultValue: "1500ms",
                       summary: "wait this long for an upstream before trying the next one"),
        ]),
        SectionSpec(type: "forward", summary: "a conditional forwarder: names in a zone go to its servers", options: [
            OptionSpec(name: "zone", kind: .string, isList: true,
                       summary: "the zone, e.g. g10.lo; a list adds its reverse zones, e.g. 10.168.192.in-addr.arpa"),
            OptionSpec(name: "server", kind: .hostPort(defaultPort: 53), isList: true,
                       summary: "servers for the zone, host or host:port"),
            OptionSpec(name: "fallback_local", kind: .bool, defaultValue: "0",
                       summary: "forward a zone also served locally first; answer from the local copy (AA=0) when its servers fail"),
        ]),
        SectionSpec(type: "zone", summary: "an authoritative zone", options: [
            OptionSpec(name: "name", kind: .string, summary: "the zone's origin, e.g. home.lan"),
            OptionSpec(name: "file", kind: .path, summary: "RFC 1035 zone file ($INCLUDE only inside its directory)"),
            OptionSpec(name: "ttl", kind: .int(min: 0, max: 2_147_483_647), defaultValue: "3600",
                       summary: "TTL of records that give none"),
            OptionSpec(name: "allow_transfer", kind: .addressOrCIDR, isList: true,
                       summary: "clients allowed to AXFR/IXFR the zone over TCP (none by default)"),
            OptionSpec(name: "notify", kind: .hostPort(defaultPort: 53), isList: true,
                       summary: "secondaries sent a NOTIFY when the zone's serial changes"),
            OptionSpec(name: "dynamic", kind: .bool, defaultValue: "0",
                       summary: "the API may write services (/v1/services) into this zone"),
            OptionSpec(name: "fallback", kind: .address, isList: true,
                       summary: "dynamic zone: answer for names without data (IPv4 for A, IPv6 for AAAA queries)"),
            OptionSpec(name: "service_ttl", kind: .int(min: 0, max: 2_147_483_647), defaultValue: "5",
                       summary: "dynamic zone: TTL of services written with ttl 0"),
        ]),
        SectionSpec(type: "record", summary: "one record of a zone", options: [
            OptionSpec(name: "zone", kind: .string, summary: "the zone's name"),
            OptionSpec(name: "name", kind: .string, defaultValue: "@",
                       summary: "owner: relative to the zone, absolute with a final dot, or @"),
            OptionSpec(name: "type", kind: .string, summary: "record type: A, AAAA, CNAME, MX, TXT, …"),
            OptionSpec(name: "value", kind: .string, summary: "the RDATA in presentation form"),
            OptionSpec(name: "ttl", kind: .int(min: 0, max: 2_147_483_647), summary: "TTL (default: the zone's)"),
        ]),
        SectionSpec(type: "api", summary: "HTTP API that apictl and other clients talk to", options: [
            OptionSpec(name: "enabled", kind: .bool, defaultValue: "1",
                       summary: "start this applet under init"),
            OptionSpec(name: "listen", kind: .hostPort(defaultPort: 8080), defaultValue: "127.0.0.1:8080",
                       summary: "address and port of the API"),
            OptionSpec(name: "token", kind: .string,
                       summary: "bearer token every request must send (required); plain, $VAR or {env.VAR}"),
            OptionSpec(name: "allow", kind: .addressOrCIDR, isList: true,
                       summary: "clients allowed to connect (default: all); others get 403"),
            OptionSpec(name: "rate_limit", kind: .int(min: 0, max: 1_000_000), defaultValue: "10",
                       summary: "write requests per second (token bucket, burst of one second); 0 = unlimited"),
            OptionSpec(name: "audit", kind: .bool, defaultValue: "1",
                       summary: "log every write: client, method, path, status, values"),
            OptionSpec(name: "max_connections", kind: .int(min: 1, max: 65535), defaultValue: "64",
                       summary: "concurrent connections; more get 503 and are closed"),
            OptionSpec(name: "timeout", kind: .duration, defaultValue: "10s",
                       summary: "close a connection that has not sent a whole request (or stays idle) this long"),
        ]),
        serviceSection("mdnsd", "mDNS responder and service browser"),
        serviceSection("bgpd", "BGP speaker announcing anycast routes"),
        serviceSection("rad", "IPv6 router advertisements"),
        serviceSection("idle", "diagnostic service applet: the shared runtime with no protocol; used to test supervision"),
        SectionSpec(type: "dhcp", summary: "DHCP service on one interface", options: [
            OptionSpec(name: "interface", kind: .string,
                       summary: "interface to serve; its IPv4 address and prefix define the subnet"),
            OptionSpec(name: "ignore", kind: .bool, defaultValue: "0",
                       summary: "do not serve DHCP on this interface"),
            OptionSpec(name: "start", kind: .int(min: 1, max: 16_777_214), defaultValue: "100",
                       summary: "first pool address: offset into the subnet, as OpenWrt"),
            OptionSpec(name: "limit", kind: .int(min: 1, max: 16_777_214), defaultValue: "150",
                       summary: "pool size"),
            OptionSpec(name: "leasetime", kind: .string, defaultValue: "12h",
                       summary: "lease time: a duration (12h, 30m) or 'infinite'"),
            OptionSpec(name: "domain", kind: .string, summary: "domain of lease names (option 15)"),
            OptionSpec(name: "dns", kind: .address, isList: true,
                       summary: "DNS servers (option 6); default: the interface address"),
            OptionSpec(name: "router", kind: .address, summary: "default gateway (option 3); default: the interface address"),
            OptionSpec(name: "search", kind: .string, isList: true, summary: "domain search list (option 119)"),
            OptionSpec(name: "next_server", kind: .address, summary: "PXE: TFTP server (siaddr, option 66)"),
            OptionSpec(name: "boot_file", kind: .string, summary: "PXE: boot file (file, option 67)"),
            OptionSpec(name: "boot_file_efi", kind: .string,
                       summary: "PXE: boot file for UEFI clients (option 93 = 7, 9 or 11)"),
            OptionSpec(name: "ipxe_boot_url", kind: .string,
                       summary: "boot file for iPXE clients (user class iPXE or option 175)"),
            OptionSpec(name: "option", kind: .string, isList: true,
                       summary: "extra option 'CODE,VALUE' (addresses comma-separated, else text), as dnsmasq's dhcp-option"),
            OptionSpec(name: "leasefile", kind: .string, defaultValue: "/tmp/dhcp.leases",
                       summary: "dnsmasq-format lease file for tools that read it ('' = none)"),
        ]),
        SectionSpec(type: "host", summary: "a DHCP reservation", options: [
            OptionSpec(name: "mac", kind: .string, isList: true,
                       summary: "hardware addresses sharing the reservation (aa:bb:cc:dd:ee:ff)"),
            OptionSpec(name: "ip", kind: .address, summary: "the reserved address"),
            OptionSpec(name: "name", kind: .string, summary: "host name (wins over the client's)"),
            OptionSpec(name: "leasetime", kind: .string, summary: "lease time for this host, or 'infinite'"),
        ]),
    ])

    /// A service applet's section: for now only `enabled`.
    private static func serviceSection(_ type: String, _ summary: String) -> SectionSpec {
        SectionSpec(type: type, summary: summary, options: [
            OptionSpec(name: "enabled", kind: .bool, defaultValue: "1",
                       summary: "start this applet under init"),
        ])
    }
}
