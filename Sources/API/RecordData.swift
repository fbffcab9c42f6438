import Config
import DNS
import HTTP

/// Record data between the API's JSON forms (MicroDNS's) and the
/// presentation text the store keeps:
/// - A, AAAA, CNAME, NS, PTR, TXT: a string (names absolute, final dot optional);
/// - MX `{"preference","exchange"}`; SRV `{"priority","weight","port","target"}`;
///   CAA `{"flags","tag","value"}`.
public enum RecordData {
    public static let types = ["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT", "CAA"]

    public struct Problem: Error {
        public var message: String
        public var field: String
    }

    static func name(_ j: JSON?, _ field: String) throws(Problem) -> String {
        guard let s = j?.string, !s.isEmpty else { throw Problem(message: "\(field) must be a domain name", field: field) }
        let n = Names.normalize(s)
        if n == "." { return "." }
        if let p = Names.hostNameProblem(n, allowUnderscore: true) { throw Problem(message: "\(field): \(p)", field: field) }
        return n + "."
    }

    static func number(_ j: JSON?, _ field: String, max: Int) throws(Problem) -> Int {
        guard let v = j?.int, v >= 0, v <= max else { throw Problem(message: "\(field) must be an integer from 0 to \(max)", field: field) }
        return v
    }

    /// `"…"` with `"` and `\` escaped and bytes outside printable ASCII as `\DDD`.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for b in s.utf8 {
            if b == 0x22 || b == 0x5C {
                out += "\\"
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else if b < 0x20 || b >= 0x7F {
                let d = Int(b)
                out += "\\" + String(d / 100) + String(d / 10 % 10) + String(d % 10)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return out + "\""
    }

    /// The presentation text for `type` and its JSON `data`, checked by the
    /// DNS parser.
    public static func presentation(type: String, data: JSON?) throws(Problem) -> String {
        let text: String
        switch type {
        case "A", "AAAA":
            guard let s = data?.string, let ip = IPAddress(s), ip.isV4 == (type == "A") else {
                throw Problem(message: "data must be an IPv\(type == "A" ? "4" : "6") address", field: "data")
            }
            text = ip.description
        case "CNAME", "NS", "PTR":
            text = try name(data, "data")
        case "TXT":
            guard let s = data?.string else { throw Problem(message: "data must be a string", field: "data") }
            guard s.utf8.count <= 4000 else { throw Problem(message: "data is longer than 4000 bytes", field: "data") }
            text = quoted(s)
        case "MX":
            guard let d = data, d.members != nil else { throw Problem(message: "data must be {\"preference\", \"exchange\"}", field: "data") }
            let pref = try number(d["preference"], "data.preference", max: 65535)
            let ex = try name(d["exchange"], "data.exchange")
            text = "\(pref) \(ex)"
        case "SRV":
            guard let d = data, d.members != nil else { throw Problem(message: "data must be {\"priority\", \"weight\", \"port\", \"target\"}", field: "data") }
            let p = try number(d["priority"], "data.priority", max: 65535)
            let w = try number(d["weight"], "data.weight", max: 65535)
            let port = try number(d["port"], "data.port", max: 65535)
            let target = try name(d["target"], "data.target")
            text = "\(p) \(w) \(port) \(target)"
        case "CAA":
            guard let d = data, d.members != nil else { throw Problem(message: "data must be {\"flags\", \"tag\", \"value\"}", field: "data") }
            let flags = try number(d["flags"] ?? JSON(0), "data.flags", max: 255)
            guard let tag = d["tag"]?.string, !tag.isEmpty, tag.utf8.count <= 255,
                  tag.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }) else {
                throw Problem(message: "data.tag must be letters and digits", field: "data.tag")
            }
            guard let value = d["value"]?.string, value.utf8.count <= 4000 else {
                throw Problem(message: "data.value must be a string of at most 4000 bytes", field: "data.value")
            }
            text = "\(flags) \(tag) \(quoted(value))"
        default:
            throw Problem(message: "type must be one of \(types.joined(separator: ", "))", field: "type")
        }
        guard let t = RRType(mnemonic: type) else { throw Problem(message: "unknown type", field: "type") }
        do throws(DNSError) {
            _ = try RData(type: t, text: text, origin: nil)
        } catch {
            throw Problem(message: "data: \(error)", field: "data")
        }
        return text
    }

    static func nameText(_ n: DomainName) -> String {
        let d = n.description
        return d.count > 1 && d.hasSuffix(".") ? String(d.dropLast()) : d
    }

    /// The JSON form of stored presentation text (relative names completed
    /// with `origin`); a string of the text itself when it does not parse.
    public static func json(type: String, text: String, origin: DomainName) -> JSON {
        guard let t = RRType(mnemonic: type), let rd = try? RData(type: t, text: text, origin: origin) else { return .string(text) }
        switch rd {
        case .a, .aaaa: return .string(text.split(separator: " ").first.map { IPAddress(String($0))?.description ?? String($0) } ?? text)
        case .ns(let n), .cname(let n), .ptr(let n): return .string(nameText(n))
        case .mx(let p, let x): return .object([("preference", JSON(Int(p))), ("exchange", .string(nameText(x)))])
        case .srv(let s):
            return .object([("priority", JSON(Int(s.priority))), ("weight", JSON(Int(s.weight))),
                            ("port", JSON(Int(s.port))), ("target", .string(nameText(s.target)))])
        case .txt(let strings):
            var all: [UInt8] = []
            for s in strings { all += s }
            return .string(String(decoding: all, as: UTF8.self))
        case .caa(let flags, let tag, let value):
            return .object([("flags", JSON(Int(flags))), ("tag", .string(String(decoding: tag, as: UTF8.self))),
                            ("value", .string(String(decoding: value, as: UTF8.self)))])
        default: return .string(text)
        }
    }

    /// The reverse-lookup name of an address (`4.3.2.1.in-addr.arpa`, nibbles under `ip6.arpa`).
    public static func reverseName(_ ip: IPAddress) -> String {
        var parts: [String] = []
        if ip.isV4 {
            for b in ip.bytes.reversed() { parts.append(String(b)) }
            return parts.joined(separator: ".") + ".in-addr.arpa"
        }
        let hex: [String] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        for b in ip.bytes.reversed() {
            parts.append(hex[Int(b & 0xF)])
            parts.append(hex[Int(b >> 4)])
        }
        return parts.joined(separator: ".") + ".ip6.arpa"
    }
}
