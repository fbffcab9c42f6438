// Presentation form of the DNSSEC types, both ways: DS (RFC 4034 §5.3),
// DNSKEY (§2.2), RRSIG (§3.2), NSEC (§4.2), NSEC3 (RFC 5155 §3.3),
// NSEC3PARAM (§4.3), CDS and CDNSKEY (RFC 7344 §3.1, §3.2: the DS and
// DNSKEY formats).
//
// Their RDATA stays `.unknown(type:data:)`: uncompressed wire bytes, written
// as they are, so the answer path is unchanged and the RRSIG signer and NSEC
// next names are never compressed or downcased (RFC 4034 §3.1.7, §4.1.1,
// RFC 6840 §5.1). Only the text form is typed: each type is a row of field
// kinds (`dnssecLayout`), one loop parses text into wire bytes and one
// prints wire bytes as text. Printing falls back to `\# LEN HEX` for
// bytes whose typed text would not read back to the same bytes (a
// malformed bitmap, an empty key, a DS digest of the wrong length), so
// `RData(type:text: r.presentation) == r` for every `r`.
//
// Printed as dig (BIND 9.18) prints with +nosplit: numbers in decimal,
// base64 and hex in one word, hex and the NSEC3 hash (base32hex) in
// uppercase, times as YYYYMMDDHHmmSS in UTC (see formatSignatureTime for
// times far from now). kdig prints the same except for a lowercase NSEC3
// hash and a space after an empty NSEC3 bitmap.
// Cold code: zone loading, logs and the API only.

/// The kinds of field DNSSEC RDATA is made of, in wire order.
enum DNSSECField: UInt8 {
    case u8, u16, u32
    /// RRSIG expiration or inception (RFC 4034 §3.1.5, §3.2): 32 bits.
    case time
    /// A type mnemonic in 16 bits (RRSIG type covered).
    case type
    /// An uncompressed name (RRSIG signer, NSEC next name).
    case name
    /// Hex (DS digest) or base64 (key, signature) to the end of the RDATA;
    /// the text may be split into several fields.
    case hex, base64
    /// One length octet, then hex, "-" when empty (NSEC3 salt), or
    /// base32hex, at least one octet (NSEC3 next hashed owner); one field.
    case salt, hash
    /// The type bitmap to the end of the RDATA, maybe empty (RFC 4034 §4.1.2).
    case types
}

extension RData {
    /// The fields of a DNSSEC type with the names error messages use;
    /// empty for any other type. DS §5.1, DNSKEY §2.1, RRSIG §3.1, NSEC §4.1
    /// (RFC 4034), NSEC3 §3.2, NSEC3PARAM §4.2 (RFC 5155).
    @_optimize(size) static func dnssecLayout(_ t: RRType) -> [(DNSSECField, String)] {
        switch t.rawValue {
        case 43, 59: return [(.u16, "key tag"), (.u8, "algorithm"), (.u8, "digest type"), (.hex, "digest")]
        case 48, 60: return [(.u16, "flags"), (.u8, "protocol"), (.u8, "algorithm"), (.base64, "public key")]
        case 46: return [(.type, "type covered"), (.u8, "algorithm"), (.u8, "labels"), (.u32, "original TTL"),
                         (.time, "expiration"), (.time, "inception"), (.u16, "key tag"), (.name, "signer"),
                         (.base64, "signature")]
        case 47: return [(.name, "next name"), (.types, "type")]
        case 50: return [(.u8, "hash algorithm"), (.u8, "flags"), (.u16, "iterations"), (.salt, "salt"),
                         (.hash, "next hashed owner"), (.types, "type")]
        case 51: return [(.u8, "hash algorithm"), (.u8, "flags"), (.u16, "iterations"), (.salt, "salt")]
        default: return []
        }
    }

    /// Wire RDATA of a DNSSEC type from its presentation fields, per `layout`.
    @_optimize(size) static func dnssecWire(type: RRType, _ layout: [(DNSSECField, String)], fields f: [PresentationField],
                                            origin: DomainName?) throws(DNSError) -> [UInt8] {
        let last = layout[layout.count &- 1].0
        let open = last == .hex || last == .base64 || last == .types
        let needed = last == .types ? layout.count &- 1 : layout.count
        guard f.count == needed || (open && f.count > needed) else {
            throw .badPresentation(type.mnemonic + " needs " + String(needed) + (needed == 1 ? " field" : " fields")
                                   + (open ? " or more, got " : ", got ") + String(f.count))
        }
        @_optimize(size) func bad(_ label: String, _ j: Int, _ why: String = "") -> DNSError {
            .badPresentation("bad " + type.mnemonic + " " + label + " '" + f[j].string + (why.isEmpty ? "'" : "': " + why))
        }
        var out: [UInt8] = []
        var k = 0
        for (kind, label) in layout {
            let end = kind == .hex || kind == .base64 || kind == .types ? f.count : k &+ 1
            switch kind {
            case .u8, .u16, .u32, .time, .type:
                let n = kind == .u8 ? 1 : (kind == .u16 || kind == .type ? 2 : 4)
                var v: UInt64? = nil
                if !f[k].quoted {
                    switch kind {
                    case .time: v = parseSignatureTime(f[k].text).map { UInt64($0) }
                    case .type: v = RRType(mnemonicBytes: f[k].text).map { UInt64($0.rawValue) }
                    default: v = parseDecimal(f[k].text, max: (1 << UInt64(8 &* n)) &- 1)
                    }
                }
                guard let x = v else {
                    throw bad(label, k, kind == .time ? "not a date YYYYMMDDHHmmSS or seconds since 1970" : "")
                }
                var b = n
                while b > 0 { b &-= 1; out.append(UInt8(truncatingIfNeeded: x >> UInt64(8 &* b))) }
            case .name:
                guard !f[k].quoted else { throw bad(label, k, "a name cannot be quoted") }
                out += try DomainName.parse(f[k].text, origin: origin).wire
            case .types:
                var types: [UInt16] = []
                for j in k..<end {
                    guard !f[j].quoted, let t = RRType(mnemonicBytes: f[j].text) else { throw bad(label, j) }
                    types.append(t.rawValue)
                }
                out += encodeTypeBitmap(types)
            default:   // hex, base64, salt, hash
                if kind == .salt, !f[k].quoted, f[k].text == [0x2D] {   // "-": no salt (RFC 5155 §3.3)
                    out.append(0)
                    break
                }
                var digits: [UInt8] = []
                for j in k..<end {
                    guard !f[j].quoted, f[j].text.allSatisfy({ c in
                        kind == .base64 ? base64Value(c) != nil || c == 0x3D : kind == .hash ? base32hexValue(c) != nil : hexValue(c) != nil
                    }) else { throw bad(label, j) }
                    digits += f[j].text
                }
                let decoded = kind == .base64 ? base64Decode(digits) : kind == .hash ? base32hexDecode(digits) : hexDecode(digits)
                guard let v = decoded else {
                    throw bad(label, end &- 1, kind == .base64 ? "base64 needs a multiple of 4 digits, padded with = at the end only"
                        : kind == .hash ? "base32hex digit count ends inside an octet" : "odd number of hex digits")
                }
                if kind == .salt || kind == .hash {
                    guard v.count <= 255 else { throw bad(label, k, "longer than 255 octets") }
                    out.append(UInt8(v.count))
                }
                out += v
            }
            k = end
        }
        // RFC 4034 §5.1.4, RFC 4509 §2.2, RFC 6605 §2: fixed digest lengths.
        if let n = dsDigestLength(type, out), out.count &- 4 != n {
            throw bad("digest", f.count &- 1, "digest type \(out[3]) needs \(n) octets, got \(out.count &- 4)")
        }
        return out
    }

    /// The typed presentation of DNSSEC RDATA `d`, or nil when `type` is
    /// not a DNSSEC type or `d` would not read back from that text.
    @_optimize(size) static func dnssecPresentation(type: RRType, _ d: [UInt8]) -> String? {
        let layout = dnssecLayout(type)
        guard !layout.isEmpty else { return nil }
        var out = ""
        var p = 0
        for (kind, _) in layout {
            if p > 0, kind != .types { out += " " }
            switch kind {
            case .u8, .u16, .u32, .time, .type:
                let n = kind == .u8 ? 1 : (kind == .u16 || kind == .type ? 2 : 4)
                guard d.count &- p >= n else { return nil }
                var v: UInt32 = 0
                for _ in 0..<n { v = v << 8 | UInt32(d[p]); p &+= 1 }
                out += kind == .time ? formatSignatureTime(v)
                    : kind == .type ? RRType(UInt16(truncatingIfNeeded: v)).mnemonic : String(v)
            case .name:
                // Never compressed here (RFC 4034 §3.1.7, §4.1.1): a pointer is malformed.
                var i = p
                while i < d.count, d[i] != 0 {
                    guard d[i] & 0xC0 == 0 else { return nil }
                    i &+= Int(d[i]) &+ 1
                }
                guard i < d.count, i &- p < 255 else { return nil }
                out += DomainName(trustedWire: Array(d[p...i])).description
                p = i &+ 1
            case .types:
                guard let t = typeBitmapText(d[p...]) else { return nil }
                out += t
                p = d.count
            case .hex, .base64:
                guard p < d.count else { return nil }
                out += kind == .hex ? hexEncode(Array(d[p...]), uppercase: true) : base64Encode(d[p...])
                p = d.count
            case .salt, .hash:
                guard p < d.count else { return nil }
                let n = Int(d[p])
                p &+= 1
                guard d.count &- p >= n, n > 0 || kind == .salt else { return nil }
                let b = d[p..<(p &+ n)]
                out += n == 0 ? "-" : (kind == .salt ? hexEncode(Array(b), uppercase: true) : base32hexEncode(b))
                p &+= n
            }
        }
        guard p == d.count else { return nil }
        if let n = dsDigestLength(type, d), d.count &- 4 != n { return nil }
        return out
    }
}

/// The digest length a DS or CDS digest type fixes, for RDATA `d` of
/// `type` (at least 4 octets): SHA-1 (RFC 4034 §5.1.4), SHA-256 (RFC 4509
/// §2.2), SHA-384 (RFC 6605 §2); nil for other types and digests.
@_optimize(size) func dsDigestLength(_ type: RRType, _ d: [UInt8]) -> Int? {
    guard type.rawValue == 43 || type.rawValue == 59, d.count >= 4 else { return nil }
    switch d[3] {
    case 1: return 20
    case 2: return 32
    case 4: return 48
    default: return nil
    }
}

// MARK: - Type bitmaps (RFC 4034 §4.1.2)

/// Window blocks for `types` (any order, duplicates allowed): for each
/// window in increasing order, its number, the octet count up to the last
/// non-zero octet, and the bits, type 0 of a window as the top bit of its
/// first octet. No types give no bytes.
@_optimize(size) func encodeTypeBitmap(_ types: [UInt16]) -> [UInt8] {
    var out: [UInt8] = []
    var window = -1
    while true {
        var next = 256
        for t in types where Int(t >> 8) > window && Int(t >> 8) < next { next = Int(t >> 8) }
        guard next < 256 else { return out }
        window = next
        var bits = [UInt8](repeating: 0, count: 32)
        var length = 0
        for t in types where Int(t >> 8) == window {
            let low = Int(t & 0xFF)
            bits[low >> 3] |= 0x80 >> UInt8(low & 7)
            if low >> 3 >= length { length = low >> 3 &+ 1 }
        }
        out.append(UInt8(window))
        out.append(UInt8(length))
        out += bits[0..<length]
    }
}

/// " A NS …": each type in the bitmap preceded by a space, "" for an empty
/// bitmap; nil when malformed (windows not increasing, a block of 0 or more
/// than 32 octets, a zero last octet, or bytes cut short).
@_optimize(size) func typeBitmapText(_ d: ArraySlice<UInt8>) -> String? {
    var out = ""
    var i = d.startIndex
    var last = -1
    while i < d.endIndex {
        guard d.endIndex &- i >= 2 else { return nil }
        let window = Int(d[i]), n = Int(d[i &+ 1])
        guard window > last, n >= 1, n <= 32, d.endIndex &- i &- 2 >= n, d[i &+ 1 &+ n] != 0 else { return nil }
        for k in 0..<(n &* 8) where d[i &+ 2 &+ k >> 3] & (0x80 >> UInt8(k & 7)) != 0 {
            out += " " + RRType(UInt16(window << 8 | k)).mnemonic
        }
        last = window
        i &+= 2 &+ n
    }
    return out
}

// MARK: - Signature times (RFC 4034 §3.1.5, §3.2)

/// YYYYMMDDHHmmSS in UTC (exactly 14 digits), or a plain decimal count of
/// seconds since 1970. A date is kept as its seconds since 1970 modulo 2^32,
/// the serial arithmetic of RFC 4034 §3.1.5, so any year 0000-9999 is
/// accepted as BIND does: dig and kdig print a time more than 2^31 seconds
/// from their clock as a date before 1970 (or after 2106).
@_optimize(size) func parseSignatureTime(_ t: [UInt8]) -> UInt32? {
    guard t.count == 14 else { return parseDecimal(t, max: 0xFFFF_FFFF).map { UInt32($0) } }
    @_optimize(size) func part(_ a: Int, _ n: Int) -> Int? { parseDecimal(t[a..<(a &+ n)], max: 9999).map { Int($0) } }
    guard let y = part(0, 4), let mo = part(4, 2), let d = part(6, 2), let h = part(8, 2),
          let mi = part(10, 2), let s = part(12, 2), mo >= 1, mo <= 12, d >= 1, d <= monthDays(mo, y),
          h < 24, mi < 60, s < 60 else { return nil }
    // A year is 337 days plus its February.
    var days = d &- 1
    for m in 1..<mo { days &+= monthDays(m, y) }
    var year = y
    while year < 1970 { days &-= 337 &+ monthDays(2, year); year &+= 1 }
    year = 1970
    while year < y { days &+= 337 &+ monthDays(2, year); year &+= 1 }
    return UInt32(truncatingIfNeeded: days &* 86400 &+ h &* 3600 &+ mi &* 60 &+ s)
}

/// YYYYMMDDHHmmSS in UTC for seconds since 1970, read as unsigned (1970 to
/// 2106). dig and kdig place the value within 2^31 seconds of their clock
/// instead; until 2038 the two agree from 1970 to 2^31 seconds past now.
@_optimize(size) func formatSignatureTime(_ t: UInt32) -> String {
    var days = Int(t) / 86400
    var y = 1970
    while days >= 337 &+ monthDays(2, y) { days &-= 337 &+ monthDays(2, y); y &+= 1 }
    var mo = 1
    while days >= monthDays(mo, y) { days &-= monthDays(mo, y); mo &+= 1 }
    let rest = Int(t) % 86400
    var out: [UInt8] = []
    for (v, w) in [(y, 1000), (mo, 10), (days &+ 1, 10), (rest / 3600, 10), (rest / 60 % 60, 10), (rest % 60, 10)] {
        var p = w
        while p > 0 { out.append(0x30 &+ UInt8(truncatingIfNeeded: v / p % 10)); p /= 10 }
    }
    return String(decoding: out, as: UTF8.self)
}

/// Days in month `m` (1-12) of year `y` (Gregorian): 31 in January,
/// March, …, July, August, October, December.
@_optimize(size) func monthDays(_ m: Int, _ y: Int) -> Int {
    m != 2 ? 30 | ((m ^ (m >> 3)) & 1) : (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) ? 29 : 28)
}
