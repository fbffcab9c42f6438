import Core

/// DNS names as written in the config and the API: lowercase ASCII, no final dot; service labels
/// are `[a-z0-9-]`, 1–63 characters, not starting or ending with `-`,
/// and a whole name is at most 253 characters (dynresolve's rules).
public enum Names {
    /// Lowercased, without a final dot.
    public static func normalize(_ s: String) -> String {
        lowercase(s.utf8.count > 1 && s.hasSuffix(".") ? String(s.dropLast()) : s)
    }

    public static func lowercase(_ s: String) -> String { Text.lowercased(s) }

    public static func upper(_ s: String) -> String { Text.uppercased(s) }

    /// Nil when `name` (lowercased) is a valid host name; else the reason.
    public static func hostNameProblem(_ name: String, allowUnderscore: Bool = false, allowWildcard: Bool = false) -> String? {
        let u = Array(name.utf8)
        if u.isEmpty { return "name is empty" }
        if u.count > 253 { return "name is longer than 253 characters" }
        for (i, label) in u.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).enumerated() {
            if label.isEmpty { return "name has an empty label" }
            if label.count > 63 { return "label longer than 63 characters" }
            if allowWildcard && i == 0 && label.count == 1 && label.first == UInt8(ascii: "*") { continue }
            for c in label {
                let ok = (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || (allowUnderscore && c == 0x5F)
                if !ok { return "label '\(String(decoding: label, as: UTF8.self))' may contain only a-z, 0-9 and '-'" }
            }
            if label.first == 0x2D || label.last == 0x2D {
                return "label '\(String(decoding: label, as: UTF8.self))' must not start or end with '-'"
            }
        }
        return nil
    }

    /// `name` is `zone` or below it.
    public static func isWithin(_ name: String, _ zone: String) -> Bool {
        name == zone || name.hasSuffix("." + zone)
    }

    /// The part of `name` before `.zone` (`@` for the apex).
    public static func relative(_ name: String, to zone: String) -> String {
        if name == zone { return "@" }
        return String(decoding: Array(name.utf8).dropLast(zone.utf8.count + 1), as: UTF8.self)
    }

    /// A `config record` owner (relative, `@`, or absolute with a final
    /// dot) relative to `zone`, lowercased.
    public static func owner(_ raw: String, in zone: String) -> String {
        if raw.isEmpty || raw == "@" { return "@" }
        let n = normalize(raw)
        guard raw.hasSuffix(".") else { return n }
        if n == zone { return "@" }
        return isWithin(n, zone) ? relative(n, to: zone) : n + "."
    }

    public static func absolute(_ owner: String, in zone: String) -> String {
        owner == "@" || owner.isEmpty ? zone : owner + "." + zone
    }
}
