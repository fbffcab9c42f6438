import Sys

public enum LogLevel: Int, Comparable {
    case debug = 0, info = 1, warn = 2, error = 3

    public init?(name: String) {
        switch name {
        case "debug": self = .debug
        case "info": self = .info
        case "warn", "warning": self = .warn
        case "error": self = .error
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Structured log lines: text (`TS LEVEL applet[pid]: msg k=v`) or JSON, to
/// stderr (containers, procd) or syslog. One per process, set up by the applet.
public final class Logger {
    public enum Format { case text, json }
    public enum Target { case stderr, syslog }

    public var applet: String
    public var level: LogLevel
    public var format: Format
    public var target: Target
    /// Where lines go; tests capture them. Default writes to fd 2 or syslog.
    public var sink: ((LogLevel, String) -> Void)?

    public init(applet: String, level: LogLevel = .info, format: Format = .text, target: Target = .stderr) {
        self.applet = applet
        self.level = level
        self.format = format
        self.target = target
    }

    public static var shared = Logger(applet: "dnsbox")

    public func configure(applet: String? = nil, level: LogLevel? = nil, format: Format? = nil, target: Target? = nil) {
        if let applet { self.applet = applet }
        if let level { self.level = level }
        if let format { self.format = format }
        if let target {
            self.target = target
            if target == .syslog { Syslog.open(ident: self.applet) }
        }
    }

    public func debug(_ msg: String, _ fields: [(String, String)] = []) { log(.debug, msg, fields) }
    public func info(_ msg: String, _ fields: [(String, String)] = []) { log(.info, msg, fields) }
    public func warn(_ msg: String, _ fields: [(String, String)] = []) { log(.warn, msg, fields) }
    public func error(_ msg: String, _ fields: [(String, String)] = []) { log(.error, msg, fields) }

    public func log(_ lvl: LogLevel, _ msg: String, _ fields: [(String, String)] = []) {
        guard lvl >= level else { return }
        let line = render(lvl, msg, fields, timestamp: target == .syslog ? nil : Logger.timestamp(Sys.realtimeNanos()))
        if let sink { sink(lvl, line); return }
        switch target {
        case .stderr: Console.err(line + "\n")
        case .syslog:
            let prio: Syslog.Priority = lvl == .error ? .error : lvl == .warn ? .warning : lvl == .info ? .info : .debug
            Syslog.log(prio, line)
        }
    }

    /// One line without the trailing newline; syslog lines carry no timestamp.
    public func render(_ lvl: LogLevel, _ msg: String, _ fields: [(String, String)], timestamp: String?) -> String {
        switch format {
        case .text:
            var s = ""
            if let timestamp { s += timestamp + " " }
            s += lvl.name + " " + applet + "[\(Sys.pid)]: " + msg
            for (k, v) in fields { s += " " + k + "=" + Logger.quoteIfNeeded(v) }
            return s
        case .json:
            var s = "{"
            if let timestamp { s += "\"ts\":" + JSON.quote(timestamp) + "," }
            s += "\"level\":" + JSON.quote(lvl.name) + ",\"applet\":" + JSON.quote(applet)
            s += ",\"pid\":\(Sys.pid),\"msg\":" + JSON.quote(msg)
            for (k, v) in fields { s += "," + JSON.quote(k) + ":" + JSON.quote(v) }
            return s + "}"
        }
    }

    static func quoteIfNeeded(_ v: String) -> String {
        var plain = !v.isEmpty
        for b in v.utf8 where b <= 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "=") || b >= 0x7f { plain = false }
        return plain ? v : JSON.quote(v)
    }

    /// RFC 3339 UTC with milliseconds: 2026-11-22T10:00:00.123Z.
    public static func timestamp(_ nanos: Int64) -> String {
        let ms = nanos / 1_000_000
        var secs = ms / 1000
        let milli = Int(ms % 1000)
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        secs -= days * 86400
        let (y, m, d) = civil(days: Int(days))
        func pad(_ v: Int, _ w: Int) -> String {
            var s = String(v)
            while s.count < w { s = "0" + s }
            return s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(Int(secs / 3600), 2)):\(pad(Int(secs % 3600 / 60), 2)):\(pad(Int(secs % 60), 2)).\(pad(milli, 3))Z"
    }

    /// Days since 1970-01-01 → proleptic Gregorian (year, month, day).
    static func civil(days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

/// The process-wide logger.
public var log: Logger { Logger.shared }

public enum JSON {
    /// A JSON string literal with RFC 8259 escaping.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
                    out += "\\u00"
                    out.append(hex[Int(u.value >> 4)])
                    out.append(hex[Int(u.value & 0xf)])
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
