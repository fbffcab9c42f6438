import HTTP

/// `GET /metrics`: Prometheus text format 0.0.4, gathered from the
/// applets' control-socket `status` answers (`key=value` fields) and the
/// API's own counters.
extension API {
    /// The `key=value` fields of a status answer.
    static func fields(_ status: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in status.split(separator: "\n") {
            for part in line.split(separator: " ") {
                guard let eq = part.firstIndex(of: "=") else { continue }
                out[String(part[part.startIndex..<eq])] = String(part[part.index(after: eq)...])
            }
        }
        return out
    }

    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// One-sample families read from a dnsd status field (`micro`: the
    /// field is in microseconds, the metric in seconds).
    static let dnsdGauges: [(name: String, type: String, help: String, key: String, micro: Bool)] = [
        ("dnsbox_cache_hits_total", "counter", "Answers from the forwarding cache.", "cache_hits", false),
        ("dnsbox_cache_misses_total", "counter", "Queries the forwarding cache could not answer.", "cache_misses", false),
        ("dnsbox_cache_entries", "gauge", "Entries in the forwarding cache.", "cache_entries", false),
        ("dnsbox_stale_answers_total", "counter", "Answers from expired cache entries while upstreams failed (RFC 8767).", "stale_answers", false),
        ("dnsbox_upstream_queries_total", "counter", "Queries sent to upstream servers.", "upstream_queries", false),
        ("dnsbox_upstream_failures_total", "counter", "Forwarded queries every upstream failed.", "upstream_failures", false),
        ("dnsbox_upstream_errors_total", "counter", "Upstream timeouts and error answers.", "upstream_errors", false),
        ("dnsbox_upstream_latency_seconds", "gauge", "Mean upstream answer time.", "upstream_latency_us", true),
        ("dnsbox_snapshot_generation", "gauge", "Store generation of the zones dnsd serves.", "store_generation", false),
        ("dnsbox_snapshot_builds_total", "counter", "Zone snapshots dnsd built.", "snapshot_builds", false),
        ("dnsbox_snapshot_build_seconds", "gauge", "Time dnsd took to build its last zone snapshot.", "snapshot_build_us", true),
        ("dnsbox_zones", "gauge", "Zones dnsd serves.", "zones", false),
    ]

    public func metrics() -> HTTPResponse {
        var text = ""
        func family(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.map { "\($0.0)=\"\(API.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " " + value + "\n"
        }
        let dnsdStatus = status("dnsd")
        let dnsd = dnsdStatus.map { API.fields($0) } ?? [:]
        func num(_ k: String) -> String { dnsd[k].flatMap { UInt64($0) }.map { String($0) } ?? "0" }

        family("dnsbox_dns_queries_total", "counter", "DNS responses sent by dnsd, by RCODE.")
        for r in ["noerror", "formerr", "servfail", "nxdomain", "notimp", "refused"] {
            sample("dnsbox_dns_queries_total", [("rcode", r)], num("rcode_" + r))
        }
        family("dnsbox_dns_queries_by_type_total", "counter", "DNS queries received by dnsd, by question type.")
        for (k, v) in dnsd.sorted(by: { $0.key < $1.key }) where k.hasPrefix("qtype_") {
            sample("dnsbox_dns_queries_by_type_total", [("type", Names.upper(String(k.dropFirst(6))))], v)
        }
        for m in API.dnsdGauges {
            family(m.name, m.type, m.help)
            let v = Int(dnsd[m.key] ?? "") ?? 0
            sample(m.name, [], m.micro ? API.decimal(v, scale: 6) : String(v))
        }

        family("dnsbox_api_writes_total", "counter", "API write requests answered, by route and status.")
        for (k, v) in writes.sorted(by: { $0.key < $1.key }) {
            let parts = k.split(separator: " ")
            sample("dnsbox_api_writes_total", [("route", String(parts[0])), ("status", parts.count > 1 ? String(parts[1]) : "")], String(v))
        }

        // Applets: under init, its status lists each child; else the applets that answer.
        family("dnsbox_applet_up", "gauge", "1 when the applet is running.")
        var restarts: [(String, String)] = []
        var up: [String: Bool] = [:]
        if let initStatus = status("init") {
            for line in initStatus.split(separator: "\n").dropFirst() {
                guard let name = line.split(separator: " ").first else { continue }
                let f = API.fields(String(line))
                up[String(name)] = (f["pid"] ?? "-") != "-"
                restarts.append((String(name), f["restarts"] ?? "0"))
            }
        }
        for a in ["dnsd", "dhcpd", "apictl"] where up[a] == nil {
            up[a] = a == "apictl" || (a == "dnsd" ? dnsdStatus != nil : status(a) != nil)
        }
        for (a, u) in up.sorted(by: { $0.key < $1.key }) { sample("dnsbox_applet_up", [("applet", a)], u ? "1" : "0") }
        family("dnsbox_applet_restarts_total", "counter", "Restarts of an applet by init.")
        for (a, r) in restarts.sorted(by: { $0.0 < $1.0 }) { sample("dnsbox_applet_restarts_total", [("applet", a)], r) }
        return .text(200, text, contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    /// `value / 10^scale` as decimal text.
    static func decimal(_ value: Int, scale: Int) -> String {
        var div = 1
        for _ in 0..<scale { div *= 10 }
        var frac = String(value % div)
        while frac.count < scale { frac = "0" + frac }
        return "\(value / div).\(frac)"
    }
}
