import Config
import Daemon
import HTTP

/// `GET /metrics`: Prometheus text format 0.0.4, gathered from the
/// applets' control-socket `status` answers (`key=value` fields) and the
/// API's own counters.
extension API {
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

    public func metrics() -> HTTPResponse {
        var text = ""
        func family(_ m: Metric) {
            text += "# HELP \(m.name) \(m.help)\n# TYPE \(m.name) \(m.typeName)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.map { "\($0.0)=\"\(API.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " " + value + "\n"
        }
        /// One labelled sample of a declared key, its value read from `status`.
        func sample(_ key: StatusKey, _ status: Status?) {
            guard let m = key.metric else { return }
            let v = status?.number(key) ?? 0
            let value = m.scale > 0 ? API.decimal(Int(v), scale: m.scale) : String(v)
            sample(m.name, m.label.map { [($0.name, $0.value)] } ?? [], value)
        }
        typealias D = StatusKeys.Dnsd
        let dnsd = status("dnsd").flatMap { Status.parse($0) }

        if let m = D.rcodes.first?.metric { family(m) }
        for k in D.rcodes { sample(k, dnsd) }
        if let m = D.qtype("a", upper: "A").metric { family(m) }
        for (name, _) in (dnsd?.fields ?? []).sorted(by: { $0.key < $1.key }) where name.hasPrefix("qtype_") {
            let t = String(name.dropFirst(6))
            sample(D.qtype(t, upper: Names.upper(t)), dnsd)
        }
        for k in D.gauges {
            guard let m = k.metric else { continue }
            family(m)
            sample(k, dnsd)
        }

        family(API.writesMetric)
        for (k, v) in writes.sorted(by: { $0.key < $1.key }) {
            let parts = k.split(separator: " ")
            sample(API.writesMetric.name, [("route", String(parts[0])), ("status", parts.count > 1 ? String(parts[1]) : "")], String(v))
        }

        // Applets: under init, its status lists each child; else the applets that answer.
        family(API.upMetric)
        var restarts: [(String, Status)] = []
        var up: [String: Bool] = [:]
        if let initStatus = status("init").flatMap({ Status.parse($0) }) {
            for row in initStatus.rows {
                guard let name = row.name else { continue }
                up[name] = (row[StatusKeys.pid] ?? "-") != "-"
                restarts.append((name, row))
            }
        }
        for a in ["dnsd", "dhcpd", "apictl"] where up[a] == nil {
            up[a] = a == "apictl" || (a == "dnsd" ? dnsd != nil : status(a) != nil)
        }
        for (a, u) in up.sorted(by: { $0.key < $1.key }) { sample(API.upMetric.name, [("applet", a)], u ? "1" : "0") }
        if let m = StatusKeys.Init.restarts.metric {
            family(m)
            for (a, row) in restarts.sorted(by: { $0.0 < $1.0 }) {
                sample(m.name, [("applet", a)], String(row.number(StatusKeys.Init.restarts)))
            }
        }
        return .text(200, text, contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    static let writesMetric = Metric("dnsbox_api_writes_total", .counter, "API write requests answered, by route and status.")
    static let upMetric = Metric("dnsbox_applet_up", .gauge, "1 when the applet is running.")

    /// `value / 10^scale` as decimal text.
    static func decimal(_ value: Int, scale: Int) -> String {
        var div = 1
        for _ in 0..<scale { div *= 10 }
        var frac = String(value % div)
        while frac.count < scale { frac = "0" + frac }
        return "\(value / div).\(frac)"
    }
}
