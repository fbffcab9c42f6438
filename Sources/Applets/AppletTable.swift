import Sys

/// One entry of the multi-call binary. Declared in `Applets.table`; the
/// dispatcher, `--list`, `install`, init and the docs all read that table.
public struct Applet {
    public var name: String
    public var summary: String
    /// Usage text printed by `dnsbox APPLET --help` (after the summary).
    public var usage: String
    /// The config section type that enables this applet under init (nil: never started by init).
    public var section: String?
    /// false: the applet is declared but arrives in a later release; it says
    /// so and exits 69 (EX_UNAVAILABLE) instead of pretending to work.
    public var available: Bool
    /// Hidden from `--list` and `install` (diagnostic applets).
    public var hidden: Bool
    /// Capabilities kept after start-up when running as root (ServiceHost.dropPrivileges).
    public var capabilities: [Capability]
    public var run: (_ args: [String]) -> Int32
    /// Arguments init adds after `-c FILE` to run the applet as a service
    /// (`apictl` without a subcommand is the API's client).
    public var serviceArgs: [String] = []
}

public enum ExitCode {
    public static let ok: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 2
    /// EX_UNAVAILABLE from sysexits.h: the applet is not in this build yet.
    public static let unavailable: Int32 = 69
}

public enum Applets {
    public static let version = "0.1.0"

    public static let table: [Applet] = [
        Applet(name: "dnsd", summary: "DNS server: authoritative zones, AXFR/IXFR out, NOTIFY; caching forwarder",
               usage: """
               dnsd [-c FILE]
                 Serves the zones of `config zone` / `config record` sections
                 and of the store on every `list listen` address (default
                 0.0.0.0:53 and [::]:53), UDP (`option workers` threads, 0 =
                 one per CPU) and TCP. Zone transfers go to `allow_transfer`
                 clients; `notify` targets get a NOTIFY when a serial
                 changes. SIGHUP or `dnsbox ctl dnsd reload` reloads the
                 zones; a zone that breaks keeps its previous version.
                 `dnsbox ctl dnsd poke` re-reads the store's zones now.
                 Other names go to the `config forward` zone with the
                 longest suffix, else to `list forwarder`, through the
                 cache (`cache_size` RRsets, `serve_stale` window when every
                 upstream fails), for `allow_recursion` clients only
                 (default: loopback and the router's own subnets).
                 `fallback_local` forwards a local zone first and answers
                 from the local copy (AA=0) when its servers fail.
                 Control socket: RUNDIR/dnsd.sock.
               """, section: "dnsd", available: true, hidden: false,
               capabilities: [.netBindService], run: { args in DnsdApplet.main(args) }),
        Applet(name: "dhcpd", summary: "DHCPv4 server: pools, reservations, PXE, relays, leases in the store, lease names in DNS (DHCPv6 to come)",
               usage: """
               dhcpd [-c FILE]
                 Serves DHCPv4 on the interface of every `config dhcp`
                 section (its IPv4 subnet; `start`/`limit` as OpenWrt),
                 with `config host` reservations, PXE and iPXE boot files.
                 Leases are committed to the store before each ACK and
                 written to `leasefile` (dnsmasq format).
                 Control socket: RUNDIR/dhcpd.sock.
               """, section: "dhcp", available: true, hidden: false,
               capabilities: [.netBindService, .netRaw, .netAdmin], run: { args in DhcpdApplet.main(args) }),
        Applet(name: "rad", summary: "IPv6 router advertisements (SLAAC, RDNSS, DNSSL)",
               usage: "rad [-c FILE]", section: "rad", available: false, hidden: false,
               capabilities: [.netRaw], run: { _ in notYet("rad") }),
        Applet(name: "mdnsd", summary: "mDNS responder and browser: advertises this DNS server, finds peers",
               usage: "mdnsd [-c FILE]", section: "mdnsd", available: false, hidden: false,
               capabilities: [], run: { _ in notYet("mdnsd") }),
        Applet(name: "bgpd", summary: "BGP speaker announcing anycast DNS routes while DNS is healthy",
               usage: "bgpd [-c FILE]", section: "bgpd", available: false, hidden: false,
               capabilities: [.netBindService, .netAdmin], run: { _ in notYet("bgpd") }),
        Applet(name: "apictl", summary: "HTTP API server (serve), CGI handler, and its command-line client",
               usage: """
               apictl [-c FILE] serve | COMMAND ...
                 serve: the HTTP/1.1 API on `listen` (default 127.0.0.1:8080):
                 dynresolve-compatible /v1/services and /v1/state, zones and
                 records under /api/v1/zones, /api/v1/health, /api/v1/leases,
                 /metrics (Prometheus). Every request needs Authorization:
                 Bearer TOKEN. Writes are committed to the store before they
                 are answered and dnsd serves them by then.
                 Under a web server (GATEWAY_INTERFACE set) it answers one
                 request as a CGI program; the config comes from $DNSBOX_CONFIG.
                 Client: services [ZONE], set|add|remove NAME ADDRESS...,
                 delete NAME, zones, leases, health, metrics, get PATH,
                 put|post PATH JSON, delete-path PATH.
                 Control socket: RUNDIR/apictl.sock.
               """, section: "api", available: true, hidden: false,
               capabilities: [.netBindService], run: { args in ApictlApplet.main(args) }, serviceArgs: ["serve"]),
        Applet(name: "init", summary: "container entrypoint: starts enabled applets, restarts them, reaps, forwards signals",
               usage: """
               init [-c FILE]
                 Starts every applet whose config section is enabled, as a child
                 process, and restarts a crashed child with exponential backoff
                 (0.5 s doubling to 30 s; reset after 10 s of uptime).
                 SIGHUP: re-read the config, start/stop applets to match, and
                 reload every child. SIGTERM/SIGINT: stop all children (SIGKILL
                 after 10 s) and exit. Safe as PID 1: reaps every zombie.
                 Control socket: RUNDIR/init.sock (status, reload).
               """, section: nil, available: true, hidden: false,
               // init keeps its privileges: each child binds its sockets as
               // root and then drops to its own declared capabilities.
               capabilities: [],
               run: { args in InitApplet.main(args) }),
        Applet(name: "idle", summary: "diagnostic service on the shared runtime (control socket, reload, signals), no protocol",
               usage: """
               idle [-c FILE]
                 Runs the service runtime every applet shares — config, logging,
                 control socket RUNDIR/idle.sock (status, reload, ping), SIGHUP
                 reload, SIGTERM stop — without any protocol. Used to test init
                 and as the skeleton for new applets. Enabled by `config idle`.
               """, section: "idle", available: true, hidden: true,
               capabilities: [], run: { args in IdleApplet.main(args) }),
    ]

    public static func find(_ name: String) -> Applet? {
        for a in table where a.name == name { return a }
        return nil
    }

    static func notYet(_ name: String) -> Int32 {
        Console.err("dnsbox: applet '\(name)' is not yet available in this build (dnsbox \(version))\n")
        return ExitCode.unavailable
    }

    /// "host" or "firmware" plus the CPU architecture.
    public static var buildDescription: String {
        #if hasFeature(Embedded)
        let kind = "firmware (Embedded Swift, static musl)"
        #else
        let kind = "host"
        #endif
        #if arch(arm64)
        let arch = "aarch64"
        #elseif arch(x86_64)
        let arch = "x86_64"
        #else
        let arch = "unknown"
        #endif
        return "\(kind), \(arch)"
    }
}
