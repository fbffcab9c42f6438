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
    /// The schema of `/etc/config/dnsbox`, read from `dnsboxTable`.
    public static let dnsbox = Schema(table: dnsboxTable)

    /// The schema as a table (STYLE.md habit 6), one line per section
    /// (`[TYPE] summary`) and per option (`name|kind|default|L|summary`;
    /// `L` marks a list, whose default may be several values separated by
    /// commas). Kinds: string, path, bool, duration, address, cidr,
    /// addressOrCIDR, int:MIN:MAX, hostPort:DEFAULTPORT (or `hostPort:`
    /// for none), oneOf:A,B,C. Kept as text: a literal table of structs
    /// would be built by code at start-up, 14 KB of it in the firmware.
    static let dnsboxTable = """
[dnsbox] global settings
database|path|/var/lib/dnsbox/dnsbox.db||path of the SQLite state database
rundir|path|/run/dnsbox||directory for control sockets and pid files
log_level|oneOf:debug,info,warn,error|info||lowest level that is logged
log_format|oneOf:text,json|text||log line format
log_target|oneOf:stderr,syslog|stderr||where log lines go
user|string|||user to run the applets as after binding their sockets
[dnsd] DNS server: authoritative zones, forwarding and caching
enabled|bool|1||start this applet under init
listen|hostPort:53|0.0.0.0:53,[::]:53|L|UDP and TCP addresses to serve
workers|int:0:64|0||UDP worker threads; 0 = one per CPU the process may use
nsid|string|||NSID (RFC 5001) and hostname.bind / id.server answer
version|string|dnsbox||version.bind answer
tcp_idle_timeout|duration|10s||close a TCP connection idle this long
tcp_max_connections|int:1:65535|1000||concurrent TCP connections; when full, the one idle longest is closed for a new one
tcp_max_per_client|int:0:65535|0||TCP connections one client address may hold; 0 = a tenth of tcp_max_connections (at least 1)
tcp_io_timeout|duration|2s||a query must arrive whole within this of its first byte (RFC 7766 §6.2.3)
journal_max_depth|int:0:10000|20||IXFR out: differences kept per transferable zone (0: none; IXFR then gets the whole zone)
journal_max_usage|int:0:1073741824|1048576||IXFR out: bytes of differences kept per zone; the oldest go first
forwarder|hostPort:53||L|upstream servers for names outside the local zones (none: no forwarding)
allow_recursion|addressOrCIDR||L|clients that may use forwarding and the cache (default: loopback + the router's subnets)
cache_size|int:1:10000000|10000||cached RRsets and negative answers at most; the least used are evicted
serve_stale|duration|1d||answer from expired cache entries this long when every upstream fails (RFC 8767); 0 disables
upstream_timeout|duration|1500ms||wait this long for an upstream before trying the next one
[forward] a conditional forwarder: names in a zone go to its servers
zone|string||L|the zone, e.g. g10.lo; a list adds its reverse zones, e.g. 10.168.192.in-addr.arpa
server|hostPort:53||L|servers for the zone, host or host:port
fallback_local|bool|0||forward a zone also served locally first; answer from the local copy (AA=0) when its servers fail
[zone] an authoritative zone
name|string|||the zone's origin, e.g. home.lan
file|path|||RFC 1035 zone file ($INCLUDE only inside its directory)
ttl|int:0:2147483647|3600||TTL of records that give none
allow_transfer|addressOrCIDR||L|clients allowed to AXFR/IXFR the zone over TCP (none by default)
notify|hostPort:53||L|secondaries sent a NOTIFY when the zone's serial changes
primary|hostPort:53||L|a secondary zone: transferred (IXFR, else AXFR) from these primaries, kept in the store, refreshed on their SOA timers and on NOTIFY
allow_notify|addressOrCIDR||L|secondary zone: who may NOTIFY it (default: its primaries)
tsig_key|string|||name of a tsig_key section: transfers out must be signed with it; transfers in, NOTIFY in and out are signed with it and checked
dynamic|bool|0||the API may write services (/v1/services) into this zone
fallback|address||L|dynamic zone: answer for names without data (IPv4 for A, IPv6 for AAAA queries)
service_ttl|int:0:2147483647|5||dynamic zone: TTL of services written with ttl 0
[tsig_key] a TSIG key (RFC 8945) for zone transfers and NOTIFY
name|string|||the key's name, as its peers know it (e.g. xfr.example.com); default: the section's name
algorithm|oneOf:hmac-sha256|hmac-sha256||the MAC algorithm
secret|base64|||the shared secret, base64 (as tsig-keygen, keymgr -t or openssl rand -base64 32 print it)
[record] one record of a zone
zone|string|||the zone's name
name|string|@||owner: relative to the zone, absolute with a final dot, or @
type|string|||record type: A, AAAA, CNAME, MX, TXT, …
value|string|||the RDATA in presentation form
ttl|int:0:2147483647|||TTL (default: the zone's)
[api] HTTP API that apictl and other clients talk to
enabled|bool|1||start this applet under init
listen|hostPort:8080|127.0.0.1:8080||address and port of the API
token|string|||bearer token every request must send (required); plain, $VAR or {env.VAR}
allow|addressOrCIDR||L|clients allowed to connect (default: all); others get 403
rate_limit|int:0:1000000|10||write requests per second (token bucket, burst of one second); 0 = unlimited
audit|bool|1||log every write: client, method, path, status, values
max_connections|int:1:65535|64||concurrent connections; more get 503 and are closed
timeout|duration|10s||close a connection that has not sent a whole request (or stays idle) this long
[mdnsd] mDNS responder and service browser
enabled|bool|1||start this applet under init
[bgpd] BGP speaker announcing anycast routes
enabled|bool|1||start this applet under init
[rad] IPv6 router advertisements
enabled|bool|1||start this applet under init
[idle] diagnostic service applet: the shared runtime with no protocol; used to test supervision
enabled|bool|1||start this applet under init
[dhcp] DHCP service on one interface
interface|string|||interface to serve; its IPv4 address and prefix define the subnet
ignore|bool|0||do not serve DHCP on this interface
start|int:1:16777214|100||first pool address: offset into the subnet, as OpenWrt
limit|int:1:16777214|150||pool size
leasetime|string|12h||lease time: a duration (12h, 30m) or 'infinite'
domain|string|||domain of lease names (option 15)
dns|address||L|DNS servers (option 6); default: the interface address
router|address|||default gateway (option 3); default: the interface address
search|string||L|domain search list (option 119)
next_server|address|||PXE: TFTP server (siaddr, option 66)
boot_file|string|||PXE: boot file (file, option 67)
boot_file_efi|string|||PXE: boot file for UEFI clients (option 93 = 7, 9 or 11)
ipxe_boot_url|string|||boot file for iPXE clients (user class iPXE or option 175)
option|string||L|extra option 'CODE,VALUE' (addresses comma-separated, else text), as dnsmasq's dhcp-option
leasefile|string|/tmp/dhcp.leases||dnsmasq-format lease file for tools that read it ('' = none)
[host] a DHCP reservation
mac|string||L|hardware addresses sharing the reservation (aa:bb:cc:dd:ee:ff)
ip|address|||the reserved address
name|string|||host name (wins over the client's)
leasetime|string|||lease time for this host, or 'infinite'
"""

    /// Parses a table in the form of `dnsboxTable`. The table is ours, not
    /// input: a malformed line is skipped (and `SchemaTests` fails on it).
    init(table: String) {
        var sections: [SectionSpec] = []
        for line in table.split(separator: "\n") {
            if line.hasPrefix("[") {
                guard let close = line.firstIndex(of: "]") else { continue }
                let type = String(line[line.index(after: line.startIndex)..<close])
                let summary = String(line[line.index(after: close)...].drop(while: { $0 == " " }))
                sections.append(SectionSpec(type: type, summary: summary, options: []))
                continue
            }
            let f = line.split(separator: "|", maxSplits: 4, omittingEmptySubsequences: false)
            guard f.count == 5, !sections.isEmpty, let kind = OptionKind(tableText: f[1]) else { continue }
            let isList = f[3] == "L"
            let defaults = f[2].isEmpty ? [] : (isList ? f[2].split(separator: ",").map(String.init) : [String(f[2])])
            sections[sections.count - 1].options.append(
                OptionSpec(name: String(f[0]), kind: kind, defaultValue: isList ? nil : defaults.first, isList: isList,
                           listDefault: isList ? defaults : [], summary: String(f[4])))
        }
        self.init(sections: sections)
    }
}

extension OptionKind {
    /// A kind as the schema table writes it (see `Schema.dnsboxTable`).
    init?(tableText t: Substring) {
        let parts = t.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        switch parts[0] {
        case "string": self = .string
        case "path": self = .path
        case "bool": self = .bool
        case "duration": self = .duration
        case "address": self = .address
        case "cidr": self = .cidr
        case "addressOrCIDR": self = .addressOrCIDR
        case "base64": self = .base64
        case "int" where parts.count == 3:
            guard let lo = parseInt(String(parts[1])), let hi = parseInt(String(parts[2])) else { return nil }
            self = .int(min: lo, max: hi)
        case "hostPort" where parts.count == 2:
            self = .hostPort(defaultPort: parts[1].isEmpty ? nil : parseInt(String(parts[1])))
        case "oneOf" where parts.count == 2:
            self = .oneOf(parts[1].split(separator: ",").map(String.init))
        default: return nil
        }
    }
}
