// IP addresses and prefixes in their text forms, shared by every module that
// reads addresses from config, the API or the command line.

/// An IPv4 or IPv6 address.
///
/// Accepted text (RFC 4291 section 2.2 for IPv6):
/// - IPv4 dotted quad `a.b.c.d`, each part 0–255 in decimal without leading
///   zeros (`01.2.3.4` is refused: it reads as octal to some tools).
/// - IPv6 as eight groups of 1–4 hex digits, one `::` for one or more zero
///   groups, and an optional dotted-quad tail for the last 32 bits
///   (`::ffff:192.0.2.1`). Zone indices (`%eth0`) are refused.
///
/// `description` is the canonical form: dotted quad for IPv4, RFC 5952
/// for IPv6 (lower case, no leading zeros, the longest run of two or more
/// zero groups — the first one on a tie — shown as `::`, IPv4-mapped
/// addresses as `::ffff:a.b.c.d`).
public struct IPAddress: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Network byte order; 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8]

    public var isV4: Bool { bytes.count == 4 }

    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        if let v4 = IPAddress.parseV4(utf8[...]) {
            bytes = v4
        } else if let v6 = IPAddress.parseV6(utf8[...]) {
            bytes = v6
        } else {
            return nil
        }
    }

    /// From raw bytes; nil unless there are exactly 4 or 16.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Width in bits: 32 or 128.
    public var bitWidth: Int { bytes.count * 8 }

    /// Canonical text; `bytes` of another length than 4 or 16 (only
    /// possible by assigning `bytes` directly) print as dotted decimal.
    public var description: String {
        if bytes.count == 16 { return IPAddress.formatV6(bytes) }
        return IPAddress.dotted(bytes[...])
    }

    // MARK: Parsing

    /// A dotted quad, or nil.
    static func parseV4(_ s: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var partStart = s.startIndex
        var i = s.startIndex
        while true {
            if i == s.endIndex || s[i] == 0x2E {  // '.'
                let part = s[partStart..<i]
                guard !part.isEmpty, part.count <= 3 else { return nil }
                if part.count > 1, part.first == 0x30 { return nil }  // leading zero
                guard let v = ASCII.parseDecimal(part, limit: 255) else { return nil }
                out.append(UInt8(v))
                if i == s.endIndex { break }
                partStart = i + 1
            }
            i += 1
        }
        return out.count == 4 ? out : nil
    }

    /// An RFC 4291 text address, or nil.
    static func parseV6(_ s: ArraySlice<UInt8>) -> [UInt8]? {
        let colon: UInt8 = 0x3A
        guard s.count >= 2 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var compressed = false
        var i = s.startIndex
        if s[i] == colon {
            guard s[i + 1] == colon else { return nil }
            compressed = true
            i += 2
        }
        while i < s.endIndex {
            // Scan one group: hex digits, or a dotted-quad tail.
            var j = i
            var sawDot = false
            while j < s.endIndex, ASCII.isHexDigit(s[j]) || s[j] == 0x2E {
                if s[j] == 0x2E { sawDot = true }
                j += 1
            }
            if sawDot {
                guard j == s.endIndex, let v4 = parseV4(s[i..<j]) else { return nil }
                let hi = UInt16(v4[0]) << 8 | UInt16(v4[1])
                let lo = UInt16(v4[2]) << 8 | UInt16(v4[3])
                if compressed { tail += [hi, lo] } else { head += [hi, lo] }
                i = j
                break
            }
            let digits = j - i
            guard digits >= 1, digits <= 4 else { return nil }
            var group: UInt16 = 0
            for k in i..<j { group = group << 4 | UInt16(ASCII.hexValue(s[k])) }
            if compressed { tail.append(group) } else { head.append(group) }
            if j == s.endIndex {
                i = j
                break
            }
            guard s[j] == colon else { return nil }
            if j + 1 < s.endIndex, s[j + 1] == colon {
                guard !compressed else { return nil }
                compressed = true
                i = j + 2
            } else {
                i = j + 1
                guard i < s.endIndex else { return nil }  // trailing single ':'
            }
        }
        let groups = head.count + tail.count
        if compressed {
            guard groups <= 7 else { return nil }
        } else {
            guard groups == 8 else { return nil }
        }
        let all = head + [UInt16](repeating: 0, count: 8 - groups) + tail
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for g in all {
            out.append(UInt8(g >> 8))
            out.append(UInt8(g & 0xFF))
        }
        return out
    }

    // MARK: Formatting

    static func dotted(_ b: ArraySlice<UInt8>) -> String {
        var text = ""
        for (n, byte) in b.enumerated() {
            if n > 0 { text += "." }
            text += "\(Int(byte))"
        }
        return text
    }

    /// RFC 5952 section 4 and 5. `b` has 16 bytes.
    static func formatV6(_ b: [UInt8]) -> String {
        var groups: [Int] = []
        for k in 0..<8 { groups.append(Int(b[2 * k]) << 8 | Int(b[2 * k + 1])) }

        // IPv4-mapped (RFC 5952 section 5): ::ffff:a.b.c.d
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xFFFF {
            return "::ffff:" + dotted(b[12..<16])
        }

        // Longest run of >= 2 zero groups; the first wins a tie.
        var bestStart = -1
        var bestLength = 1
        var k = 0
        while k < 8 {
            if groups[k] == 0 {
                var end = k
                while end < 8, groups[end] == 0 { end += 1 }
                if end - k > bestLength {
                    bestStart = k
                    bestLength = end - k
                }
                k = end
            } else {
                k += 1
            }
        }

        var text = ""
        k = 0
        while k < 8 {
            if k == bestStart {
                text += "::"
                k += bestLength
                continue
            }
            if k > 0, !(bestStart >= 0 && k == bestStart + bestLength) { text += ":" }
            text += ASCII.hex(groups[k])
            k += 1
        }
        return text
    }
}

/// An address with a prefix length: `192.0.2.0/24`, `2001:db8::/32`.
///
/// Host bits may be set (`192.168.1.1/24` names an interface address and
/// its network); `network` clears them. The prefix is decimal without
/// leading zeros, 0–32 for IPv4 and 0–128 for IPv6.
public struct CIDR: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefix: Int

    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard let slash = utf8.firstIndex(of: 0x2F) else { return nil }
        let digits = utf8[(slash + 1)...]
        if digits.count > 1, digits.first == 0x30 { return nil }
        guard let address = IPAddress(String(decoding: utf8[..<slash], as: UTF8.self)),
              let prefix = ASCII.parseDecimal(digits, limit: 128)
        else { return nil }
        self.init(address: address, prefix: prefix)
    }

    /// An `addressOrCIDR` option value: a prefix, or one address as a
    /// prefix of its full width.
    public init?(addressOrPrefix text: String) {
        if let c = CIDR(text) {
            self = c
        } else if let a = IPAddress(text) {
            self.init(address: a, prefix: a.bitWidth)
        } else {
            return nil
        }
    }

    /// nil when `prefix` is outside 0...address.bitWidth.
    public init?(address: IPAddress, prefix: Int) {
        guard prefix >= 0, prefix <= address.bitWidth else { return nil }
        self.address = address
        self.prefix = prefix
    }

    /// True when `a` is of the same family and its first `prefix` bits
    /// equal this prefix's.
    public func contains(_ a: IPAddress) -> Bool {
        guard a.bytes.count == address.bytes.count else { return false }
        var bits = prefix
        var k = 0
        while bits > 0, k < a.bytes.count {
            let mask: UInt8 = bits >= 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if a.bytes[k] & mask != address.bytes[k] & mask { return false }
            bits -= 8
            k += 1
        }
        return true
    }

    /// The same prefix with the host bits cleared.
    public var network: CIDR {
        var bytes = address.bytes
        var bits = prefix
        for k in bytes.indices {
            if bits >= 8 {
                bits -= 8
            } else {
                let mask: UInt8 = bits <= 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                bytes[k] &= mask
                bits = 0
            }
        }
        var copy = self
        copy.address.bytes = bytes
        return copy
    }

    public var description: String { address.description + "/" + "\(prefix)" }
}
