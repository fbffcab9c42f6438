// Shared pieces of the presentation (master file) format, RFC 1035 §5.1:
// fields, character-strings with escapes, numbers, addresses, hex, base64
// and base32hex (RFC 4648 §4, §7).
// Everything here allocates and is meant for zone loading, logs and the API,
// never for the query path.

/// Public entry points to the presentation helpers, kept in one namespace
/// so that importing DNS adds no free functions.
public enum Presentation {
    /// Splits RDATA text into fields (see `presentationFields`).
    @_optimize(size) public static func fields(_ text: String) throws(DNSError) -> [PresentationField] { try presentationFields(text) }
    /// A TTL in seconds or BIND units ("1h30m"); nil when malformed.
    @_optimize(size) public static func ttl(_ text: String) -> UInt32? { parseTTL(Array(text.utf8)) }
    /// Dotted-quad IPv4 → big-endian value.
    @_optimize(size) public static func ipv4(_ text: String) -> UInt32? { parseIPv4(Array(text.utf8)[...]) }
    /// A dotted quad read in place (a zone-file token); no allocation.
    public static func ipv4(bytes: ArraySlice<UInt8>) -> UInt32? { parseIPv4(bytes) }
    @_optimize(size) public static func ipv4(_ value: UInt32) -> String { formatIPv4(value) }
    /// RFC 4291 text → (high, low) halves.
    @_optimize(size) public static func ipv6(_ text: String) -> (hi: UInt64, lo: UInt64)? { parseIPv6(Array(text.utf8)[...]) }
    /// An IPv6 address read in place (a zone-file token); no allocation.
    public static func ipv6(bytes: ArraySlice<UInt8>) -> (hi: UInt64, lo: UInt64)? { parseIPv6(bytes) }
    /// RFC 5952 canonical text.
    @_optimize(size) public static func ipv6(hi: UInt64, lo: UInt64) -> String { formatIPv6(hi: hi, lo: lo) }
    /// Hex digits of `bytes`, lowercase unless `uppercase`.
    @_optimize(size) public static func hex(_ bytes: [UInt8], uppercase: Bool = false) -> String { hexEncode(bytes, uppercase: uppercase) }
    /// RFC 4648 §4 base64 of `bytes`, padded, in one word.
    @_optimize(size) public static func base64(_ bytes: [UInt8]) -> String { base64Encode(bytes[...]) }
    /// Base64 text (no whitespace) → bytes; nil when malformed.
    @_optimize(size) public static func base64(_ text: String) -> [UInt8]? { base64Decode(Array(text.utf8)) }
}

/// One whitespace-separated field of presentation text. Escapes are kept
/// as written (`\.` and `.` differ inside names), quotes are removed.
public struct PresentationField: Equatable, Sendable {
    public var text: [UInt8]
    /// The field was a "quoted string".
    public var quoted: Bool

    @_optimize(size) public init(_ text: [UInt8], quoted: Bool = false) {
        self.text = text
        self.quoted = quoted
    }

    @_optimize(size) public init(_ s: String, quoted: Bool = false) {
        self.init(Array(s.utf8), quoted: quoted)
    }

    public var string: String { String(decoding: text, as: UTF8.self) }
}

/// Splits one line of RDATA text into fields: whitespace separates, a
/// "quoted string" is one field (escapes inside kept), unquoted `(` `)` are
/// ignored and `;` starts a comment. An unterminated quote is an error.
@_optimize(size) func presentationFields(_ text: String) throws(DNSError) -> [PresentationField] {
    let b = Array(text.utf8)
    var out: [PresentationField] = []
    var i = 0
    while i < b.count {
        let c = b[i]
        if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x28 || c == 0x29 { i &+= 1; continue }
        if c == 0x3B { break }
        if c == 0x22 {
            var j = i &+ 1
            var field: [UInt8] = []
            var closed = false
            while j < b.count {
                if b[j] == 0x5C, j &+ 1 < b.count {
                    field.append(b[j]); field.append(b[j &+ 1]); j &+= 2; continue
                }
                if b[j] == 0x22 { closed = true; j &+= 1; break }
                field.append(b[j]); j &+= 1
            }
            guard closed else { throw .badPresentation("unterminated quoted string") }
            out.append(PresentationField(field, quoted: true))
            i = j
            continue
        }
        var field: [UInt8] = []
        while i < b.count {
            let d = b[i]
            if d == 0x5C, i &+ 1 < b.count { field.append(d); field.append(b[i &+ 1]); i &+= 2; continue }
            if d == 0x20 || d == 0x09 || d == 0x0A || d == 0x0D || d == 0x28 || d == 0x29 || d == 0x3B || d == 0x22 { break }
            field.append(d); i &+= 1
        }
        out.append(PresentationField(field))
    }
    return out
}

/// Resolves escapes (`\X`, `\DDD`) of a character-string field.
@_optimize(size) func unescapeCharacterString(_ t: [UInt8]) throws(DNSError) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(t.count)
    var i = 0
    while i < t.count {
        if t[i] == 0x5C {
            guard let (v, used) = decodeEscape(t, at: i) else {
                throw .badPresentation("bad escape in '\(String(decoding: t, as: UTF8.self))'")
            }
            out.append(v)
            i &+= used
        } else {
            out.append(t[i])
            i &+= 1
        }
    }
    return out
}

/// A character-string in quotes: `"` and `\` escaped, bytes outside
/// printable ASCII as `\DDD` (the form BIND and Knot print).
@_optimize(size) func quotedCharacterString(_ s: [UInt8], into out: inout [UInt8]) {
    out.append(0x22)
    for b in s {
        switch b {
        case 0x22, 0x5C: out.append(0x5C); out.append(b)
        case 0x20...0x7E: out.append(b)
        default: appendDDD(b, to: &out)
        }
    }
    out.append(0x22)
}

/// A decimal integer field <= max.
@_optimize(size) func parseNumber(_ f: PresentationField, max: UInt64, what: String) throws(DNSError) -> UInt64 {
    guard !f.quoted, let v = parseDecimal(f.text, max: max) else {
        throw .badPresentation("bad \(what) '\(f.string)'")
    }
    return v
}

/// A TTL-like 32-bit value: decimal seconds, or BIND units ("1h30m", "2d",
/// "1w"; case-insensitive).
@_optimize(size) func parseTTL(_ text: [UInt8]) -> UInt32? {
    if let v = parseDecimal(text, max: 0xFFFF_FFFF) { return UInt32(v) }
    var total: UInt64 = 0
    var cur: UInt64 = 0
    var digits = 0
    for c in text {
        if c >= 0x30 && c <= 0x39 {
            cur = cur &* 10 &+ UInt64(c &- 0x30)
            digits &+= 1
            if digits > 10 { return nil }
            continue
        }
        let mult: UInt64
        switch c | 0x20 {
        case 0x73: mult = 1            // s
        case 0x6D: mult = 60           // m
        case 0x68: mult = 3600         // h
        case 0x64: mult = 86400        // d
        case 0x77: mult = 604800       // w
        default: return nil
        }
        guard digits > 0 else { return nil }
        total = total &+ cur &* mult
        if total > 0xFFFF_FFFF { return nil }
        cur = 0
        digits = 0
    }
    guard digits == 0, !text.isEmpty else { return nil }
    return UInt32(total)
}

/// Dotted-quad IPv4 ("192.0.2.1"): exactly four decimal parts 0…255.
/// Allocation-free (zone files are full of these).
func parseIPv4(_ t: ArraySlice<UInt8>) -> UInt32? {
    var v: UInt32 = 0
    var part: UInt32 = 0
    var digits = 0
    var parts = 0
    var i = t.startIndex
    while true {
        let end = i == t.endIndex
        let c: UInt8 = end ? 0x2E : t[i]
        if c == 0x2E {
            guard digits > 0, parts < 4 else { return nil }
            v = v << 8 | part
            parts &+= 1
            part = 0
            digits = 0
            if end { break }
        } else if c >= 0x30 && c <= 0x39 {
            part = part &* 10 &+ UInt32(c &- 0x30)
            digits &+= 1
            guard digits <= 3, part <= 255 else { return nil }
        } else {
            return nil
        }
        i &+= 1
    }
    return parts == 4 ? v : nil
}

@_optimize(size) func formatIPv4(_ v: UInt32) -> String {
    "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
}

/// RFC 4291 §2.2 text form: eight groups, one "::", optional trailing IPv4.
/// Allocation-free: the groups before the "::" and after it are shifted
/// into two 128-bit values.
func parseIPv6(_ t: ArraySlice<UInt8>) -> (hi: UInt64, lo: UInt64)? {
    var head = (hi: UInt64(0), lo: UInt64(0)), tail = (hi: UInt64(0), lo: UInt64(0))
    var headCount = 0, tailCount = 0
    var gap = false
    func push(_ g: UInt64) {
        if gap {
            tail = (tail.hi << 16 | tail.lo >> 48, tail.lo << 16 | g)
            tailCount &+= 1
        } else {
            head = (head.hi << 16 | head.lo >> 48, head.lo << 16 | g)
            headCount &+= 1
        }
    }
    let s = t.startIndex, e = t.endIndex
    var i = s
    if e &- s >= 2, t[s] == 0x3A, t[s &+ 1] == 0x3A { gap = true; i = s &+ 2 } else if t.first == 0x3A { return nil }
    while i < e {
        var j = i
        var v: UInt64 = 0
        while j < e, j &- i < 5, let h = hexValue(t[j]) { v = v << 4 | UInt64(h); j &+= 1 }
        if j < e, t[j] == 0x2E {
            // Embedded IPv4 in the last 32 bits.
            guard let v4 = parseIPv4(t[i...]), headCount &+ tailCount <= 6 else { return nil }
            push(UInt64(v4 >> 16))
            push(UInt64(v4 & 0xFFFF))
            i = e
            break
        }
        guard j > i, j &- i <= 4, headCount &+ tailCount < 8 else { return nil }
        push(v)
        i = j
        if i == e { break }
        guard t[i] == 0x3A else { return nil }
        i &+= 1
        if i < e, t[i] == 0x3A {
            guard !gap else { return nil }
            gap = true
            i &+= 1
        } else if i == e {
            return nil
        }
    }
    let n = headCount &+ tailCount
    if gap {
        guard n <= 7 else { return nil }
    } else {
        guard n == 8 else { return nil }
    }
    // head << 16 * (8 - headCount), then the tail below it.
    let k = 16 &* (8 &- headCount)
    var hi: UInt64, lo: UInt64
    if k >= 128 {
        hi = 0; lo = 0
    } else if k >= 64 {
        hi = head.lo << UInt64(k &- 64); lo = 0
    } else if k == 0 {
        hi = head.hi; lo = head.lo
    } else {
        hi = head.hi << UInt64(k) | head.lo >> UInt64(64 &- k); lo = head.lo << UInt64(k)
    }
    return (hi | tail.hi, lo | tail.lo)
}

/// RFC 5952 §4 canonical text: lowercase, no leading zeros, the longest
/// run (>= 2) of zero groups as "::" (the first on a tie); IPv4-mapped
/// addresses end in dotted quad (§5).
@_optimize(size) func formatIPv6(hi: UInt64, lo: UInt64) -> String {
    var g: [UInt16] = []
    for k in 0..<4 { g.append(UInt16(truncatingIfNeeded: hi >> (48 &- 16 &* UInt64(k)))) }
    for k in 0..<4 { g.append(UInt16(truncatingIfNeeded: lo >> (48 &- 16 &* UInt64(k)))) }
    if hi == 0, lo >> 32 == 0xFFFF {
        return "::ffff:" + formatIPv4(UInt32(truncatingIfNeeded: lo))
    }
    var bestStart = -1, bestLen = 0, k = 0
    while k < 8 {
        if g[k] == 0 {
            var e = k
            while e < 8, g[e] == 0 { e &+= 1 }
            if e &- k > bestLen { bestStart = k; bestLen = e &- k }
            k = e
        } else {
            k &+= 1
        }
    }
    if bestLen < 2 { bestStart = -1 }
    var out = ""
    var needColon = false
    k = 0
    while k < 8 {
        if k == bestStart {
            out += "::"
            k &+= bestLen
            needColon = false
            continue
        }
        if needColon { out += ":" }
        out += hexString(g[k])
        needColon = true
        k &+= 1
    }
    return out
}

@_optimize(size) func hexString(_ v: UInt16) -> String {
    var digits: [UInt8] = []
    var x = v
    repeat {
        digits.append(hexDigit(UInt8(x & 0xF)))
        x >>= 4
    } while x != 0
    return String(decoding: digits.reversed(), as: UTF8.self)
}

@inline(__always)
@_optimize(size) func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 &+ v : 0x61 &+ v &- 10 }

@_optimize(size) func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c &- 0x30
    case 0x41...0x46: return c &- 0x41 &+ 10
    case 0x61...0x66: return c &- 0x61 &+ 10
    default: return nil
    }
}

/// Hex of `bytes`, no separators; lowercase unless `uppercase`.
@_optimize(size) func hexEncode(_ bytes: [UInt8], uppercase: Bool = false) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count &* 2)
    let shift: UInt8 = uppercase ? 0x20 : 0
    for b in bytes {
        let hi = hexDigit(b >> 4), lo = hexDigit(b & 0xF)
        out.append(hi >= 0x61 ? hi &- shift : hi)
        out.append(lo >= 0x61 ? lo &- shift : lo)
    }
    return String(decoding: out, as: UTF8.self)
}

/// Hex digits (either case) → bytes; nil for an odd count or a non-hex byte.
@_optimize(size) func hexDecode(_ t: [UInt8]) -> [UInt8]? {
    guard t.count & 1 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(t.count >> 1)
    var i = 0
    while i < t.count {
        guard let h = hexValue(t[i]), let l = hexValue(t[i &+ 1]) else { return nil }
        out.append(h << 4 | l)
        i &+= 2
    }
    return out
}

/// The value of a base64 digit (RFC 4648 §4, table 1); nil for any other
/// byte, "=" included.
@_optimize(size) func base64Value(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x41...0x5A: return c &- 0x41
    case 0x61...0x7A: return c &- 0x61 &+ 26
    case 0x30...0x39: return c &- 0x30 &+ 52
    case 0x2B: return 62
    case 0x2F: return 63
    default: return nil
    }
}

/// RFC 4648 §4 base64 → bytes. Nil unless the length is a multiple of 4,
/// every byte is a digit, and "=" pads only the last quantum (at most two).
/// Bits left over under the padding are ignored.
@_optimize(size) func base64Decode(_ t: [UInt8]) -> [UInt8]? {
    guard t.count & 3 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(t.count / 4 &* 3)
    var acc: UInt32 = 0
    var pad = 0
    var i = 0
    while i < t.count {
        let c = t[i]
        if c == 0x3D {                                     // "="
            pad &+= 1
            acc <<= 6
        } else {
            guard pad == 0, let v = base64Value(c) else { return nil }
            acc = acc << 6 | UInt32(v)
        }
        i &+= 1
        if i & 3 == 0 {
            out.append(UInt8(truncatingIfNeeded: acc >> 16))
            out.append(UInt8(truncatingIfNeeded: acc >> 8))
            out.append(UInt8(truncatingIfNeeded: acc))
            acc = 0
        }
    }
    guard pad <= 2 else { return nil }
    out.removeLast(pad)
    return out
}

/// RFC 4648 §4 base64 with padding, one unbroken word.
@_optimize(size) func base64Encode(_ b: ArraySlice<UInt8>) -> String {
    let digits: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    var out: [UInt8] = []
    out.reserveCapacity((b.count &+ 2) / 3 &* 4)
    var i = b.startIndex
    while i < b.endIndex {
        let n = b.endIndex &- i
        var acc: UInt32 = 0
        for k in 0..<3 { acc = acc << 8 | (k < n ? UInt32(b[i &+ k]) : 0) }
        for k in 0..<4 { out.append(k <= n ? digits.utf8Start[Int(acc >> UInt32(18 &- 6 &* k) & 63)] : 0x3D) }
        i &+= 3
    }
    return String(decoding: out, as: UTF8.self)
}

/// The value of a base32hex digit (RFC 4648 §7: 0-9, A-V in either case).
@_optimize(size) func base32hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c &- 0x30
    case 0x41...0x56, 0x61...0x76: return (c | 0x20) &- 0x61 &+ 10
    default: return nil
    }
}

/// Unpadded base32hex (RFC 4648 §7, as NSEC3 writes it, RFC 5155 §3.3) →
/// bytes; nil for a non-digit or a length that ends mid-octet (1, 3 or 6
/// digits past a multiple of 8). Leftover low bits are ignored.
@_optimize(size) func base32hexDecode(_ t: [UInt8]) -> [UInt8]? {
    switch t.count & 7 {
    case 1, 3, 6: return nil
    default: break
    }
    var out: [UInt8] = []
    out.reserveCapacity(t.count &* 5 / 8)
    var acc: UInt32 = 0
    var bits = 0
    for c in t {
        guard let v = base32hexValue(c) else { return nil }
        acc = (acc << 5 | UInt32(v)) & 0x1FFF
        bits &+= 5
        if bits >= 8 {
            bits &-= 8
            out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
        }
    }
    return out
}

/// Unpadded base32hex in uppercase (as BIND and dig print NSEC3 hashes).
@_optimize(size) func base32hexEncode(_ b: ArraySlice<UInt8>) -> String {
    @inline(__always) func digit(_ v: UInt32) -> UInt8 {
        let x = UInt8(truncatingIfNeeded: v & 31)
        return x < 10 ? 0x30 &+ x : 0x41 &+ x &- 10
    }
    var out: [UInt8] = []
    out.reserveCapacity((b.count &* 8 &+ 4) / 5)
    var acc: UInt32 = 0
    var bits = 0
    for x in b {
        acc = (acc << 8 | UInt32(x)) & 0xFFF
        bits &+= 8
        while bits >= 5 {
            bits &-= 5
            out.append(digit(acc >> UInt32(bits)))
        }
    }
    if bits > 0 { out.append(digit(acc << UInt32(5 &- bits))) }
    return String(decoding: out, as: UTF8.self)
}
