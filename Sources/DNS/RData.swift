// Typed RDATA for the record types dnsbox serves, and opaque data for every
// other type (RFC 3597). Wire decoding and encoding; presentation form is in
// RData+Presentation.swift.
//
// Formats: A RFC 1035 §3.4.1, NS §3.3.11, CNAME §3.3.1, SOA §3.3.13,
// PTR §3.3.12, MX §3.3.9, TXT §3.3.14, AAAA RFC 3596 §2.2, SRV RFC 2782,
// CAA RFC 8659 §4.1.

/// SOA RDATA (RFC 1035 §3.3.13).
import Core

public struct SOA: Equatable, Sendable {
    public var mname: DomainName
    public var rname: DomainName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init(mname: DomainName, rname: DomainName, serial: UInt32, refresh: UInt32,
                retry: UInt32, expire: UInt32, minimum: UInt32) {
        self.mname = mname
        self.rname = rname
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// SRV RDATA (RFC 2782).
public struct SRV: Equatable, Sendable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    public var target: DomainName

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: DomainName) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }
}

/// Owned RDATA. Writing it (`write(to:)`) allocates nothing; decoding and
/// presentation parsing allocate.
public enum RData: Equatable, Sendable {
    /// IPv4 address, most significant byte first.
    case a(UInt32)
    /// IPv6 address as two big-endian halves.
    case aaaa(hi: UInt64, lo: UInt64)
    case ns(DomainName)
    case cname(DomainName)
    case ptr(DomainName)
    case soa(SOA)
    case mx(preference: UInt16, exchange: DomainName)
    /// One or more character-strings, each 0…255 bytes.
    case txt([[UInt8]])
    case srv(SRV)
    /// CAA (RFC 8659 §4.1): flags, tag (ASCII letters/digits), value.
    case caa(flags: UInt8, tag: [UInt8], value: [UInt8])
    /// Any other type, as opaque bytes (RFC 3597 §3). The DNSSEC types
    /// stay in this form too: their text is typed (RData+DNSSEC.swift),
    /// their bytes are never compressed or case-folded.
    case unknown(type: RRType, data: [UInt8])

    /// The record type this RDATA belongs to.
    public var type: RRType {
        switch self {
        case .a: return .a
        case .aaaa: return .aaaa
        case .ns: return .ns
        case .cname: return .cname
        case .ptr: return .ptr
        case .soa: return .soa
        case .mx: return .mx
        case .txt: return .txt
        case .srv: return .srv
        case .caa: return .caa
        case .unknown(let t, _): return t
        }
    }

    /// A letter or digit: the only bytes a CAA tag may hold (RFC 8659 §4.1.1).
    static func isCAATagByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A)
    }

    /// True for the types whose RDATA this library decodes into fields.
    public static func isTyped(_ t: RRType) -> Bool {
        switch t {
        case .a, .aaaa, .ns, .cname, .ptr, .soa, .mx, .txt, .srv, .caa: return true
        default: return false
        }
    }

    /// Decodes `rdLength` bytes of RDATA of `type` at the reader's position
    /// (inside a whole message, so compressed names resolve). The reader
    /// ends just past the RDATA. Fails with `badRData` if the fields do not
    /// fill RDLENGTH exactly.
    public static func read(type: RRType, rdLength: Int, from r: inout ByteReader) throws(DNSError) -> RData {
        try r.withLimit(rdLength, type: type.rawValue) { (s: inout ByteReader) throws(DNSError) -> RData in
            try decodeFields(type: type, &s)
        }
    }

    static func decodeFields(type: RRType, _ s: inout ByteReader) throws(DNSError) -> RData {
        switch type {
        case .a:
            return .a(try s.readU32())
        case .aaaa:
            let hi = UInt64(try s.readU32()) << 32 | UInt64(try s.readU32())
            let lo = UInt64(try s.readU32()) << 32 | UInt64(try s.readU32())
            return .aaaa(hi: hi, lo: lo)
        case .ns: return .ns(try NameView.read(&s).domainName)
        case .cname: return .cname(try NameView.read(&s).domainName)
        case .ptr: return .ptr(try NameView.read(&s).domainName)
        case .soa:
            let m = try NameView.read(&s).domainName
            let rn = try NameView.read(&s).domainName
            return .soa(SOA(mname: m, rname: rn, serial: try s.readU32(), refresh: try s.readU32(),
                            retry: try s.readU32(), expire: try s.readU32(), minimum: try s.readU32()))
        case .mx:
            let p = try s.readU16()
            return .mx(preference: p, exchange: try NameView.read(&s).domainName)
        case .txt:
            // RFC 1035 §3.3.14: one or more character-strings.
            var strings: [[UInt8]] = []
            repeat {
                let n = Int(try s.readU8())
                strings.append(Array(try s.readBytes(n)))
            } while !s.isAtEnd
            return .txt(strings)
        case .srv:
            let p = try s.readU16(), w = try s.readU16(), port = try s.readU16()
            // RFC 2782 forbids compression; RFC 3597 §4 lets receivers decompress.
            return .srv(SRV(priority: p, weight: w, port: port, target: try NameView.read(&s).domainName))
        case .caa:
            let start = s.offset
            let flags = try s.readU8()
            let tagLength = Int(try s.readU8())
            let tag = Array(try s.readBytes(tagLength))
            // RFC 8659 §4.1.1: the tag is 1-15 ASCII letters and digits. Any
            // other tag is carried losslessly as opaque data (printed as
            // `\# LEN HEX`), so its presentation form still parses back.
            guard tagLength >= 1, tagLength <= 15, tag.allSatisfy(RData.isCAATagByte) else {
                try s.seek(to: start)
                return .unknown(type: type, data: Array(try s.readBytes(s.remaining)))
            }
            let value = Array(try s.readBytes(s.remaining))
            return .caa(flags: flags, tag: tag, value: value)
        default:
            return .unknown(type: type, data: Array(try s.readBytes(s.remaining)))
        }
    }

    /// Writes the RDATA (without RDLENGTH). Names in NS, CNAME, PTR, SOA and
    /// MX may be compressed by a sink that compresses; SRV targets, CAA and
    /// unknown types never are (RFC 3597 §4, RFC 2782). Allocation-free.
    public func write<S: WireSink>(to sink: inout S) throws(DNSError) {
        switch self {
        case .a(let v):
            try sink.writeU32(v)
        case .aaaa(let hi, let lo):
            try sink.writeU32(UInt32(truncatingIfNeeded: hi >> 32))
            try sink.writeU32(UInt32(truncatingIfNeeded: hi))
            try sink.writeU32(UInt32(truncatingIfNeeded: lo >> 32))
            try sink.writeU32(UInt32(truncatingIfNeeded: lo))
        case .ns(let n), .cname(let n), .ptr(let n):
            try sink.writeName(n, compress: true)
        case .soa(let s):
            try sink.writeName(s.mname, compress: true)
            try sink.writeName(s.rname, compress: true)
            try sink.writeU32(s.serial)
            try sink.writeU32(s.refresh)
            try sink.writeU32(s.retry)
            try sink.writeU32(s.expire)
            try sink.writeU32(s.minimum)
        case .mx(let p, let x):
            try sink.writeU16(p)
            try sink.writeName(x, compress: true)
        case .txt(let strings):
            var i = 0
            while i < strings.count {
                let s = strings[i]
                guard s.count <= 255 else { throw .badRData(type: 16, offset: -1) }
                try sink.writeU8(UInt8(s.count))
                try sink.writeBytes(s)
                i &+= 1
            }
        case .srv(let s):
            try sink.writeU16(s.priority)
            try sink.writeU16(s.weight)
            try sink.writeU16(s.port)
            try sink.writeName(s.target, compress: false)
        case .caa(let flags, let tag, let value):
            guard tag.count >= 1, tag.count <= 255 else { throw .badRData(type: 257, offset: -1) }
            try sink.writeU8(flags)
            try sink.writeU8(UInt8(tag.count))
            try sink.writeBytes(tag)
            try sink.writeBytes(value)
        case .unknown(_, let data):
            try sink.writeBytes(data)
        }
    }

    /// Uncompressed wire form (the RDATA of RFC 3597 `\#` and of canonical
    /// form, except that names keep their case). Allocates.
    public var wireBytes: [UInt8] {
        var sink = WireBuffer()
        do { try write(to: &sink) } catch { return [] }
        return sink.bytes
    }
}

/// Where RDATA and records are written: a message (with compression) or a
/// growable array (uncompressed). Generic, so no existential is needed.
public protocol WireSink {
    mutating func writeU8(_ v: UInt8) throws(DNSError)
    mutating func writeU16(_ v: UInt16) throws(DNSError)
    mutating func writeU32(_ v: UInt32) throws(DNSError)
    mutating func writeBytes(_ bytes: [UInt8]) throws(DNSError)
    /// Writes `name`; a sink may replace a known suffix with a pointer when
    /// `compress` is true.
    mutating func writeName(_ name: DomainName, compress: Bool) throws(DNSError)
}

/// A growable, uncompressed sink (allocates; for tools, tests, zone data).
public struct WireBuffer: WireSink {
    public var bytes: [UInt8] = []
    public init() {}
    public mutating func writeU8(_ v: UInt8) throws(DNSError) { bytes.append(v) }
    public mutating func writeU16(_ v: UInt16) throws(DNSError) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    public mutating func writeU32(_ v: UInt32) throws(DNSError) {
        try writeU16(UInt16(truncatingIfNeeded: v >> 16))
        try writeU16(UInt16(truncatingIfNeeded: v))
    }
    public mutating func writeBytes(_ b: [UInt8]) throws(DNSError) { bytes.append(contentsOf: b) }
    public mutating func writeName(_ name: DomainName, compress: Bool) throws(DNSError) {
        bytes.append(contentsOf: name.wire)
    }
}
