// Value kinds of the schema and the parsers behind them. The parsers are
// public: applets use the same functions to read the values the schema
// accepted, so "accepted" and "understood" cannot drift apart.

/// The type of an option's value.
public enum OptionKind: Equatable, Sendable {
    /// Any text.
    case string
    /// A file system path: non-empty, no NUL (relative paths are relative to
    /// the working directory).
    case path
    /// Decimal integer in `min...max` (a leading `-` only when `min < 0`).
    case int(min: Int, max: Int)
    /// See `parseBool`.
    case bool
    /// See `Duration.parseMilliseconds`.
    case duration
    /// See `IPAddress`.
    case address
    /// See `CIDR`.
    case cidr
    /// An address (one host) or an address/prefix.
    case addressOrCIDR
    /// See `HostPort`; with a default port the port may be left out.
    case hostPort(defaultPort: Int?)
    /// Exactly one of the listed words.
    case oneOf([String])
    /// Base64 (RFC 4648 §4, padded; whitespace between groups allowed), not empty.
    case base64

    /// True when `value` is valid for this kind.
    public func accepts(_ value: String) -> Bool {
        switch self {
        case .string: return true
        case .path: return !value.isEmpty && !value.utf8.contains(0)
        case .int(let min, let max):
            guard let n = parseInt(value) else { return false }
            return n >= min && n <= max
        case .bool: return parseBool(value) != nil
        case .duration: return Duration.parseMilliseconds(value) != nil
        case .address: return IPAddress(value) != nil
        case .cidr: return CIDR(value) != nil
        case .addressOrCIDR: return IPAddress(value) != nil || CIDR(value) != nil
        case .hostPort(let defaultPort): return HostPort(value, defaultPort: defaultPort) != nil
        case .oneOf(let words):
            for word in words where word == value { return true }
            return false
        case .base64: return isBase64(value)
        }
    }

    /// The shape of padded base64: digits in quanta of four, "=" only at
    /// the end (at most two); spaces and tabs are skipped.
    func isBase64(_ value: String) -> Bool {
        var n = 0, pad = 0
        for c in value.utf8 {
            switch c {
            case 0x20, 0x09: continue
            case 0x3D: pad += 1
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2B, 0x2F: if pad > 0 { return false }
            default: return false
            }
            n += 1
        }
        return n > 0 && n % 4 == 0 && pad <= 2
    }

    /// What a valid value looks like, for error messages and help:
    /// it completes "expected ...".
    public var expectation: String {
        switch self {
        case .string: return "a string"
        case .path: return "a non-empty path"
        case .int(let min, let max): return "an integer \(min)..\(max)"
        case .bool: return "a boolean: 1/0, yes/no, on/off, true/false or enabled/disabled"
        case .duration: return "a duration such as 30 (seconds), 500ms, 5m or 1h30m"
        case .address: return "an IPv4 or IPv6 address"
        case .cidr: return "an address/prefix such as 192.0.2.0/24 or 2001:db8::/32"
        case .addressOrCIDR: return "an address or an address/prefix such as 192.0.2.1 or 2001:db8::/32"
        case .hostPort(let defaultPort):
            if let defaultPort {
                return "host[:port] or [IPv6][:port], port 1..65535 (default \(defaultPort))"
            }
            return "host:port or [IPv6]:port, port 1..65535"
        case .oneOf(let words): return "one of " + words.joined(separator: ", ")
        case .base64: return "base64 such as gV9A0VfiHAQ9qP8ayZtbXDiEHNLweZnBRnxmvthwqoQ="
        }
    }
}

/// UCI booleans, as OpenWrt's `config_get_bool`: `1 yes on true enabled`
/// are true, `0 no off false disabled` are false, anything else (including
/// other capitalisations) is nil.
public func parseBool(_ s: String) -> Bool? {
    switch s {
    case "1", "yes", "on", "true", "enabled": return true
    case "0", "no", "off", "false", "disabled": return false
    default: return nil
    }
}

/// A decimal integer: optional `-`, then digits; nil on anything else or
/// when it does not fit in `Int`. No `+`, no spaces, no hex.
public func parseInt(_ s: String) -> Int? {
    var digits = Array(s.utf8)[...]
    var negative = false
    if digits.first == 0x2D {  // '-'
        negative = true
        digits = digits.dropFirst()
    }
    guard let magnitude = ASCII.parseDecimal(digits, limit: Int.max) else { return nil }
    return negative ? -magnitude : magnitude
}

/// Config durations.
public enum Duration {
    /// Milliseconds for a duration text, or nil.
    ///
    /// Accepted: a bare decimal number of seconds (`30`), or one or more
    /// `NUMBER UNIT` pieces (`500ms`, `5m`, `1h30m`, `1d12h`) with units
    /// `ms s m h d w` (`ms` is milliseconds, `m` minutes). Each unit at most
    /// once, largest first. No sign, no fractions, no spaces; nil when the
    /// total does not fit in `Int`. The result is never negative.
    public static func parseMilliseconds(_ s: String) -> Int? {
        let utf8 = Array(s.utf8)
        guard !utf8.isEmpty else { return nil }
        // A bare number is seconds.
        var allDigits = true
        for c in utf8 where !ASCII.isDigit(c) { allDigits = false }
        if allDigits {
            guard let seconds = ASCII.parseDecimal(utf8, limit: Int.max) else { return nil }
            let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            return overflow ? nil : ms
        }

        var total = 0
        var i = 0
        var lastRank = Int.max  // units must appear largest first, each once
        while i < utf8.count {
            let start = i
            while i < utf8.count, ASCII.isDigit(utf8[i]) { i += 1 }
            guard let number = ASCII.parseDecimal(utf8[start..<i], limit: Int.max) else { return nil }
            guard i < utf8.count else { return nil }  // number without a unit
            let unit: (rank: Int, ms: Int)
            switch utf8[i] {
            case 0x77: unit = (5, 604_800_000); i += 1  // w
            case 0x64: unit = (4, 86_400_000); i += 1  // d
            case 0x68: unit = (3, 3_600_000); i += 1  // h
            case 0x6D:  // m or ms
                if i + 1 < utf8.count, utf8[i + 1] == 0x73 {
                    unit = (0, 1)
                    i += 2
                } else {
                    unit = (2, 60_000)
                    i += 1
                }
            case 0x73: unit = (1, 1_000); i += 1  // s
            default: return nil
            }
            guard unit.rank < lastRank else { return nil }
            lastRank = unit.rank
            let (part, o1) = number.multipliedReportingOverflow(by: unit.ms)
            let (sum, o2) = total.addingReportingOverflow(part)
            if o1 || o2 { return nil }
            total = sum
        }
        return total
    }
}
