// RR TYPE and CLASS values (RFC 1035 §3.2.2–§3.2.5, IANA "DNS Parameters"),
// with their mnemonics. Unknown values use the generic forms TYPEnnn and
// CLASSnnn (RFC 3597 §5), accepted on input for known values too.

/// An RR TYPE (or QTYPE) value. Any 16-bit value is valid on the wire.
public struct RRType: RawRepresentable, Hashable, Comparable, CustomStringConvertible, Sendable {
    public var rawValue: UInt16
    @inline(__always) public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inline(__always) public init(_ v: UInt16) { self.rawValue = v }

    public static let a = RRType(1)
    public static let ns = RRType(2)
    public static let cname = RRType(5)
    public static let soa = RRType(6)
    public static let ptr = RRType(12)
    public static let hinfo = RRType(13)
    public static let mx = RRType(15)
    public static let txt = RRType(16)
    public static let aaaa = RRType(28)
    public static let srv = RRType(33)
    public static let naptr = RRType(35)
    public static let dname = RRType(39)
    public static let opt = RRType(41)
    public static let ds = RRType(43)
    public static let rrsig = RRType(46)
    public static let nsec = RRType(47)
    public static let dnskey = RRType(48)
    public static let nsec3 = RRType(50)
    public static let nsec3param = RRType(51)
    public static let tlsa = RRType(52)
    public static let cds = RRType(59)
    public static let cdnskey = RRType(60)
    public static let svcb = RRType(64)
    public static let https = RRType(65)
    public static let tsig = RRType(250)
    public static let ixfr = RRType(251)
    public static let axfr = RRType(252)
    public static let any = RRType(255)
    public static let caa = RRType(257)

    /// Mnemonics known to this library, in value order.
    static let table: [(UInt16, String)] = [
        (1, "A"), (2, "NS"), (5, "CNAME"), (6, "SOA"), (12, "PTR"), (13, "HINFO"),
        (15, "MX"), (16, "TXT"), (28, "AAAA"), (33, "SRV"), (35, "NAPTR"),
        (39, "DNAME"), (41, "OPT"), (43, "DS"), (46, "RRSIG"), (47, "NSEC"),
        (48, "DNSKEY"), (50, "NSEC3"), (51, "NSEC3PARAM"), (52, "TLSA"), (59, "CDS"),
        (60, "CDNSKEY"), (64, "SVCB"), (65, "HTTPS"),
        (250, "TSIG"), (251, "IXFR"), (252, "AXFR"), (255, "ANY"), (257, "CAA"),
    ]

    /// The mnemonic ("A", "AAAA"), or "TYPEnnn" for values without one.
    public var mnemonic: String {
        for (v, name) in RRType.table where v == rawValue { return name }
        return "TYPE\(rawValue)"
    }

    public var description: String { mnemonic }

    /// Parses a mnemonic (case-insensitive) or the generic "TYPEnnn" form.
    public init?(mnemonic: String) {
        var i = 0
        while i < RRType.table.count {
            if mnemonicEquals(mnemonic, RRType.table[i].1) {
                self.rawValue = RRType.table[i].0
                return
            }
            i &+= 1
        }
        let upper = asciiUppercased(mnemonic)
        guard let v = parseGenericNumber(upper, prefix: "TYPE") else { return nil }
        self.rawValue = v
    }

    /// The table's mnemonics as bytes, for `init?(mnemonicBytes:)`.
    static let byteTable: [(UInt16, [UInt8])] = table.map { ($0.0, Array($0.1.utf8)) }

    /// As `init?(mnemonic:)`, from the bytes of a zone-file token, without
    /// building a String for the common mnemonics.
    public init?(mnemonicBytes b: [UInt8]) { self.init(mnemonicBytes: b[...]) }

    /// As `init?(mnemonicBytes:)`, from a slice (a token in place).
    public init?(mnemonicBytes b: ArraySlice<UInt8>) {
        if let v = lookupMnemonic(b, RRType.byteTable) {
            self.init(v)
        } else {
            self.init(mnemonic: String(decoding: b, as: UTF8.self))
        }
    }

    /// True for QTYPE-only values that never appear as stored data
    /// (RFC 1035 §3.2.3, RFC 6895 §3.1: 128–255 are meta/query types) and OPT.
    public var isMetaType: Bool { rawValue == 41 || (rawValue >= 128 && rawValue <= 255) }

    public static func < (a: RRType, b: RRType) -> Bool { a.rawValue < b.rawValue }
}

/// An RR CLASS (or QCLASS) value.
public struct RRClass: RawRepresentable, Hashable, CustomStringConvertible, Sendable {
    public var rawValue: UInt16
    @inline(__always) public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inline(__always) public init(_ v: UInt16) { self.rawValue = v }

    public static let `in` = RRClass(1)
    public static let ch = RRClass(3)
    public static let hs = RRClass(4)
    /// QCLASS NONE (RFC 2136 §1.3).
    public static let none = RRClass(254)
    /// QCLASS ANY (RFC 1035 §3.2.5).
    public static let any = RRClass(255)

    static let table: [(UInt16, String)] = [(1, "IN"), (3, "CH"), (4, "HS"), (254, "NONE"), (255, "ANY")]

    /// "IN", "CH", … or "CLASSnnn".
    public var mnemonic: String {
        for (v, name) in RRClass.table where v == rawValue { return name }
        return "CLASS\(rawValue)"
    }

    public var description: String { mnemonic }

    /// Parses a mnemonic (case-insensitive; "CHAOS" is accepted for CH) or
    /// the generic "CLASSnnn" form.
    public init?(mnemonic: String) {
        if mnemonicEquals(mnemonic, "CHAOS") { self.rawValue = 3; return }
        var i = 0
        while i < RRClass.table.count {
            if mnemonicEquals(mnemonic, RRClass.table[i].1) {
                self.rawValue = RRClass.table[i].0
                return
            }
            i &+= 1
        }
        let upper = asciiUppercased(mnemonic)
        guard let v = parseGenericNumber(upper, prefix: "CLASS") else { return nil }
        self.rawValue = v
    }

    static let byteTable: [(UInt16, [UInt8])] = table.map { ($0.0, Array($0.1.utf8)) }

    /// As `init?(mnemonic:)`, from the bytes of a zone-file token.
    public init?(mnemonicBytes b: [UInt8]) { self.init(mnemonicBytes: b[...]) }

    /// As `init?(mnemonicBytes:)`, from a slice (a token in place).
    public init?(mnemonicBytes b: ArraySlice<UInt8>) {
        if let v = lookupMnemonic(b, RRClass.byteTable) {
            self.init(v)
            return
        }
        // Not a class name at all (the usual case for a record's type
        // token): skip the String unless it could be CHAOS or CLASSnnn.
        guard let f = b.first, f == 0x43 || f == 0x63 else { return nil }
        self.init(mnemonic: String(decoding: b, as: UTF8.self))
    }
}

/// The value of the mnemonic `b` (any ASCII case) in `table`, or nil.
func lookupMnemonic(_ b: ArraySlice<UInt8>, _ table: [(UInt16, [UInt8])]) -> UInt16? {
    var i = 0
    while i < table.count {
        if bytesEqualUpper(b, table[i].1) { return table[i].0 }
        i &+= 1
    }
    return nil
}

/// True when `b` equals the uppercase bytes `upper`, ignoring ASCII case.
@inline(__always)
func bytesEqualUpper(_ b: ArraySlice<UInt8>, _ upper: [UInt8]) -> Bool {
    guard b.count == upper.count else { return false }
    var i = 0
    let b0 = b.startIndex
    while i < upper.count {
        let c = b[b0 &+ i]
        if (c >= 0x61 && c <= 0x7A ? c &- 0x20 : c) != upper[i] { return false }
        i &+= 1
    }
    return true
}

/// True when `s` equals the uppercase mnemonic `upper`, ignoring ASCII
/// case; no allocation (zone files are full of these comparisons).
func mnemonicEquals(_ s: String, _ upper: String) -> Bool {
    guard s.utf8.count == upper.utf8.count else { return false }
    var u = upper.utf8.makeIterator()
    for b in s.utf8 {
        guard let c = u.next(), (b >= 0x61 && b <= 0x7A ? b &- 0x20 : b) == c else { return false }
    }
    return true
}

/// ASCII-only uppercase (the stdlib's Unicode casing is needlessly large
/// for mnemonics, and must not change non-ASCII bytes). Mnemonics are
/// compared as UTF-8 bytes, so this module needs no Unicode tables.
func asciiUppercased(_ s: String) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(s.utf8.count)
    for b in s.utf8 { bytes.append(b >= 0x61 && b <= 0x7A ? b &- 0x20 : b) }
    return String(decoding: bytes, as: UTF8.self)
}

/// "TYPE65534" → 65534 for `prefix` "TYPE"; nil unless the rest is 1–5
/// decimal digits with a value <= 65535.
func parseGenericNumber(_ upper: String, prefix: String) -> UInt16? {
    guard upper.utf8.count > prefix.utf8.count else { return nil }
    var it = upper.utf8.makeIterator()
    for p in prefix.utf8 {
        guard it.next() == p else { return nil }
    }
    return parseDecimal(IteratorSequence(it), max: 65535).map { UInt16(truncatingIfNeeded: $0) }
}

/// Decimal digits only, value <= max; nil for empty, non-digit or overflow.
func parseDecimal<S: Sequence>(_ digits: S, max: UInt64) -> UInt64? where S.Element == UInt8 {
    var v: UInt64 = 0
    var n = 0
    for d in digits {
        guard d >= 0x30, d <= 0x39 else { return nil }
        v = v &* 10 &+ UInt64(d &- 0x30)
        n &+= 1
        if n > 20 || v > max { return nil }
    }
    return n == 0 ? nil : v
}
