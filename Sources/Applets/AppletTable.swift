import Apictl
import Daemon
import Dhcpd
import Dnsd
import Init
import Sys

/// One entry of the multi-call binary: its description and entry point.
/// The dispatcher, `--list`, `install`, init and the docs all read `Applets.table`.
public struct Applet {
    public var info: AppletInfo
    public var run: (_ args: [String]) -> Int32

    public var name: String { info.name }
    public var summary: String { info.summary }
    public var usage: String { info.usage }
    public var available: Bool { info.available }
    public var hidden: Bool { info.hidden }
}

public enum Applets {
    public static var version: String { Version.string }

    public static let table: [Applet] = [
        entry(name: "dnsd", summary: "DNS server: authoritative and secondary zones, AXFR/IXFR, NOTIFY; caching forwarder",
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
               """, section: "dnsd",
               capabilities: [.netBindService]) { info, args in Daemon.main(info, args) { DnsdService(host: $0) } },
        entry(name: "dhcpd", summary: "DHCPv4 server: pools, reservations, PXE, relays, leases in the store, lease names in DNS (DHCPv6 to come)",
               usage: """
               dhcpd [-c FILE]
                 Serves DHCPv4 on the interface of every `config dhcp`
                 section (its IPv4 subnet; `start`/`limit` as OpenWrt),
                 with `config host` reservations, PXE and iPXE boot files.
                 Leases are committed to the store before each ACK and
                 written to `leasefile` (dnsmasq format).
                 Control socket: RUNDIR/dhcpd.sock.
               """, section: "dhcp",
               capabilities: [.netBindService, .netRaw, .netAdmin]) { info, args in Daemon.main(info, args) { DhcpdService(host: $0) } },
        entry(name: "rad", summary: "IPv6 router advertisements (SLAAC, RDNSS, DNSSL)",
               usage: "rad [-c FILE]", section: "rad", available: false,
               capabilities: [.netRaw]) { _, _ in notYet("rad") },
        entry(name: "mdnsd", summary: "mDNS responder and browser: advertises this DNS server, finds peers",
               usage: "mdnsd [-c FILE]", section: "mdnsd", available: false) { _, _ in notYet("mdnsd") },
        entry(name: "bgpd", summary: "BGP speaker announcing anycast DNS routes while DNS is healthy",
               usage: "bgpd [-c FILE]", section: "bgpd", available: false,
               capabilities: [.netBindService, .netAdmin]) { _, _ in notYet("bgpd") },
        entry(name: "apictl", summary: "HTTP API server (serve), CGI handler, and its command-line client",
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
               """, section: "api",
               capabilities: [.netBindService], serviceArgs: ["serve"]) { info, args in ApictlApplet.main(info, args) },
        entry(name: "init", summary: "container entrypoint: starts enabled applets, restarts them, reaps, forwards signals",
               usage: """
               init [-c FILE]
                 Starts every applet whose config section is enabled, as a child
                 process, and restarts a crashed child with exponential backoff
                 (0.5 s doubling to 30 s; reset after 10 s of uptime).
                 SIGHUP: re-read the config, start/stop applets to match, and
                 reload every child. SIGTERM/SIGINT: stop all children (SIGKILL
                 after 10 s) and exit. Safe as PID 1: reaps every zombie.
                 Control socket: RUNDIR/init.sock (status, reload).
               """, section: nil,
               // init keeps its privileges: each child binds its sockets as
               // root and then drops to its own declared capabilities.
               keepsPrivileges: true) { info, args in
                   Daemon.main(info, args) { InitService(host: $0, applets: Applets.infos) }
               },
        entry(name: "idle", summary: "diagnostic service on the shared runtime (control socket, reload, signals), no protocol",
               usage: """
               idle [-c FILE]
                 Runs the service runtime every applet shares — config, logging,
                 control socket RUNDIR/idle.sock (status, reload, ping), SIGHUP
                 reload, SIGTERM stop — without any protocol. Used to test init
                 and as the skeleton for new applets. Enabled by `config idle`.
               """, section: "idle", hidden: true) { info, args in Daemon.main(info, args) { _ in IdleService() } },
    ]

    /// The descriptions alone (what init and `install` need).
    public static var infos: [AppletInfo] { table.map { $0.info } }

    /// A table entry: the description and the entry point, which gets it back.
    static func entry(name: String, summary: String, usage: String, section: String?, available: Bool = true,
                      hidden: Bool = false, capabilities: [Capability] = [], keepsPrivileges: Bool = false,
                      serviceArgs: [String] = [], run: @escaping (AppletInfo, [String]) -> Int32) -> Applet {
        let info = AppletInfo(name: name, summary: summary, usage: usage, section: section, available: available,
                              hidden: hidden, capabilities: capabilities, keepsPrivileges: keepsPrivileges,
                              serviceArgs: serviceArgs)
        return Applet(info: info, run: { args in run(info, args) })
    }

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
