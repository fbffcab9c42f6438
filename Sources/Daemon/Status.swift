// Typed status: every key an applet reports through `ctl APPLET status` is
// declared here once, with the Prometheus metric it feeds (if any). The
// applets write their status through these keys and `/metrics` reads the
// same keys, so a metric cannot drift from its status field.
//
// Wire form (the control socket's answer): `ok key=value key=value ...`,
// then optionally one line per row (init's children): `NAME key=value ...`.

/// A Prometheus metric fed by a status key.
public struct Metric {
    public enum Kind { case counter, gauge }
    public let name: String
    public let kind: Kind
    public let help: String
    /// The status value is 10^scale times the metric's unit (µs → s: 6).
    public let scale: Int
    /// A label of this sample within its family (rcode="noerror").
    public let label: (name: String, value: String)?

    public init(_ name: String, _ kind: Kind, _ help: String, scale: Int = 0, label: (name: String, value: String)? = nil) {
        self.name = name
        self.kind = kind
        self.help = help
        self.scale = scale
        self.label = label
    }

    public var typeName: String { kind == .counter ? "counter" : "gauge" }
}

/// One status field: its key in `key=value`, and the metric it feeds.
public struct StatusKey {
    public let name: String
    public let metric: Metric?

    public init(_ name: String, _ metric: Metric? = nil) {
        self.name = name
        self.metric = metric
    }
}

/// A status answer being built (applets) or read back (`/metrics`, tests).
public struct Status {
    /// A row's name, printed bare before its fields (init's children).
    public var name: String?
    public private(set) var fields: [(key: String, value: String)] = []
    public var rows: [Status] = []

    public init(name: String? = nil) { self.name = name }

    public mutating func set(_ key: StatusKey, _ value: UInt64) { fields.append((key.name, String(value))) }
    public mutating func set(_ key: StatusKey, _ value: Int) { fields.append((key.name, String(value))) }
    public mutating func set(_ key: StatusKey, _ value: Int64) { fields.append((key.name, String(value))) }
    /// Text values are written as they are, or double-quoted when they hold a space.
    public mutating func set(_ key: StatusKey, text: String) {
        fields.append((key.name, text.utf8.contains(0x20) ? "\"" + text + "\"" : text))
    }

    /// The value of `key`, if set.
    public subscript(_ key: StatusKey) -> String? { self[key.name] }

    public subscript(_ name: String) -> String? {
        for f in fields where f.key == name { return f.value }
        return nil
    }

    /// The value of `key` as a number (0 when absent or not a number).
    public func number(_ key: StatusKey) -> Int64 { self[key].flatMap { Int64($0) } ?? 0 }

    /// The wire form after `ok`.
    public var text: String {
        var s = "ok"
        append(to: &s)
        for r in rows {
            s += "\n" + (r.name ?? "-")
            r.append(to: &s)
        }
        return s
    }

    private func append(to s: inout String) {
        for f in fields { s += " " + f.key + "=" + f.value }
    }

    /// Reads a status answer back (`ok k=v ...` and its rows); nil when it
    /// is not an `ok` answer.
    public static func parse(_ text: String) -> Status? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let head = lines.first, head == "ok" || head.hasPrefix("ok ") else { return nil }
        var out = Status()
        out.fields = pairs(head.dropFirst(2))
        lines.removeFirst()
        for line in lines {
            let words = line.split(separator: " ", maxSplits: 1)
            guard let first = words.first else { continue }
            var row = Status(name: String(first))
            if words.count > 1 { row.fields = pairs(words[1]) }
            out.rows.append(row)
        }
        return out
    }

    /// `k=v` words; a value may be double-quoted with spaces inside.
    static func pairs(_ s: Substring) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            while i < b.count && b[i] == 0x20 { i += 1 }
            let k0 = i
            while i < b.count && b[i] != 0x3D && b[i] != 0x20 { i += 1 }
            guard i < b.count, b[i] == 0x3D else { continue }
            let key = String(decoding: b[k0..<i], as: UTF8.self)
            i += 1
            let v0 = i
            if i < b.count && b[i] == 0x22 {
                i += 1
                while i < b.count && b[i] != 0x22 { i += 1 }
                if i < b.count { i += 1 }
            } else {
                while i < b.count && b[i] != 0x20 { i += 1 }
            }
            out.append((key, String(decoding: b[v0..<i], as: UTF8.self)))
        }
        return out
    }
}

/// Every status key, by applet.
public enum StatusKeys {
    // What the service host reports for every applet.
    public static let applet = StatusKey("applet")
    public static let pid = StatusKey("pid")
    public static let uptime = StatusKey("uptime_s")
    public static let reloads = StatusKey("reloads")
    public static let config = StatusKey("config")

    public enum Dnsd {
        public static let zones = StatusKey("zones", Metric("dnsbox_zones", .gauge, "Zones dnsd serves."))
        public static let zoneBytes = StatusKey("zone_bytes")
        public static let workers = StatusKey("workers")
        public static let udpQueries = StatusKey("udp_queries")
        public static let tcpQueries = StatusKey("tcp_queries")
        public static let tcpConnections = StatusKey("tcp_connections")
        public static let transfers = StatusKey("transfers")
        public static let storeGeneration = StatusKey("store_generation",
            Metric("dnsbox_snapshot_generation", .gauge, "Store generation of the zones dnsd serves."))
        public static let snapshotBuilds = StatusKey("snapshot_builds",
            Metric("dnsbox_snapshot_builds_total", .counter, "Zone snapshots dnsd built."))
        public static let snapshotBuildMicros = StatusKey("snapshot_build_us",
            Metric("dnsbox_snapshot_build_seconds", .gauge, "Time dnsd took to build its last zone snapshot.", scale: 6))
        public static let layeredChanges = StatusKey("layered_changes",
            Metric("dnsbox_layered_changes_total", .counter, "Service writes dnsd applied through a zone layer, without compiling the zone."))
        public static let layerMicros = StatusKey("layer_update_us")
        public static let cacheEntries = StatusKey("cache_entries",
            Metric("dnsbox_cache_entries", .gauge, "Entries in the forwarding cache."))
        public static let cacheHits = StatusKey("cache_hits",
            Metric("dnsbox_cache_hits_total", .counter, "Answers from the forwarding cache."))
        public static let cacheMisses = StatusKey("cache_misses",
            Metric("dnsbox_cache_misses_total", .counter, "Queries the forwarding cache could not answer."))
        public static let staleAnswers = StatusKey("stale_answers",
            Metric("dnsbox_stale_answers_total", .counter, "Answers from expired cache entries while upstreams failed (RFC 8767)."))
        public static let recursionRefused = StatusKey("recursion_refused")
        public static let fallbackAnswers = StatusKey("fallback_answers")
        public static let upstreamQueries = StatusKey("upstream_queries",
            Metric("dnsbox_upstream_queries_total", .counter, "Queries sent to upstream servers."))
        public static let upstreamErrors = StatusKey("upstream_errors",
            Metric("dnsbox_upstream_errors_total", .counter, "Upstream timeouts and error answers."))
        public static let upstreamFailures = StatusKey("upstream_failures",
            Metric("dnsbox_upstream_failures_total", .counter, "Forwarded queries every upstream failed."))
        public static let upstreamTCP = StatusKey("upstream_tcp")
        public static let coalesced = StatusKey("coalesced")
        public static let upstreamLatencyMicros = StatusKey("upstream_latency_us",
            Metric("dnsbox_upstream_latency_seconds", .gauge, "Mean upstream answer time.", scale: 6))

        /// Responses by RCODE, in RCODE order (0…5).
        public static let rcodeNames = ["noerror", "formerr", "servfail", "nxdomain", "notimp", "refused"]
        public static let rcodes: [StatusKey] = rcodeNames.map {
            StatusKey("rcode_" + $0, Metric("dnsbox_dns_queries_total", .counter, "DNS responses sent by dnsd, by RCODE.",
                                            label: ("rcode", $0)))
        }

        /// Queries by question type (`ResolverLocal.typeNames`); only types seen are reported.
        public static func qtype(_ name: String, upper: String) -> StatusKey {
            StatusKey("qtype_" + name, Metric("dnsbox_dns_queries_by_type_total", .counter,
                                              "DNS queries received by dnsd, by question type.", label: ("type", upper)))
        }

        /// The single-sample metrics, in the order `/metrics` prints them.
        public static let gauges: [StatusKey] = [
            cacheHits, cacheMisses, cacheEntries, staleAnswers, upstreamQueries, upstreamFailures, upstreamErrors,
            upstreamLatencyMicros, storeGeneration, snapshotBuilds, snapshotBuildMicros, layeredChanges, zones,
        ]
    }

    public enum Dhcpd {
        public static let interfaces = StatusKey("interfaces")
        public static let leases = StatusKey("leases")
        public static let offers = StatusKey("offers")
        public static let acks = StatusKey("acks")
        public static let naks = StatusKey("naks")
        public static let dropped = StatusKey("dropped")
        public static let commits = StatusKey("commits")
        public static let commitFailures = StatusKey("commit_failures")
    }

    public enum Apictl {
        public static let connections = StatusKey("connections")
        public static let writes = StatusKey("writes")
    }

    public enum Init {
        public static let children = StatusKey("children")
        /// Per child row.
        public static let restarts = StatusKey("restarts",
            Metric("dnsbox_applet_restarts_total", .counter, "Restarts of an applet by init."))
        public static let lastExit = StatusKey("last_exit")
    }
}
