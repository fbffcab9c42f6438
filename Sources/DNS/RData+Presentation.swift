// RDATA in presentation form, both ways (RFC 1035 §5.1 and each type's RFC).
// Any type also accepts the generic form `\# LENGTH HEX…` (RFC 3597 §5);
// types without a typed codec are printed in it. The DNSSEC types keep
// opaque RDATA but have typed text (RData+DNSSEC.swift). Allocates: zone loading,
// logs and the API only.

import Core

extension RData {
    /// Parses RDATA text such as `10 mail` (MX) or `"a" "b"` (TXT); relative
    /// names are completed with `origin` (root when nil).
    @_optimize(size) public init(type: RRType, text: String, origin: DomainName? = nil) throws(DNSError) {
        self = try RData.parse(type: type, fields: presentationFields(text), origin: origin)
    }

    /// Parses already-split fields (as a zone file scanner produces them).
    @_optimize(size) public static func parse(type: RRType, fields f: [PresentationField], origin: DomainName?) throws(DNSError) -> RData {
        if let first = f.first, !first.quoted, first.text == [0x5C, 0x23] {   // "\#"
            return try parseGeneric(type: type, fields: f)
        }
        @_optimize(size) func want(_ n: Int) throws(DNSError) {
            guard f.count == n else {
                throw .badPresentation("\(type) needs \(n) field\(n == 1 ? "" : "s"), got \(f.count)")
            }
        }
        @_optimize(size) func name(_ k: Int) throws(DNSError) -> DomainName {
            guard !f[k].quoted else { throw .badPresentation("quoted name '\(f[k].string)'") }
            return try DomainName.parse(f[k].text, origin: origin)
        }
        @_optimize(size) func u16(_ k: Int, _ what: String) throws(DNSError) -> UInt16 {
            UInt16(truncatingIfNeeded: try parseNumber(f[k], max: 0xFFFF, what: what))
        }
        @_optimize(size) func u32(_ k: Int, _ what: String) throws(DNSError) -> UInt32 {
            guard !f[k].quoted, let v = parseTTL(f[k].text) else { throw .badPresentation("bad \(what) '\(f[k].string)'") }
            return v
        }
        switch type {
        case .a:
            try want(1)
            guard let v = parseIPv4(f[0].text[...]) else { throw .badPresentation("bad IPv4 address '\(f[0].string)'") }
            return .a(v)
        case .aaaa:
            try want(1)
            guard let v = parseIPv6(f[0].text[...]) else { throw .badPresentation("bad IPv6 address '\(f[0].string)'") }
            return .aaaa(hi: v.hi, lo: v.lo)
        case .ns: try want(1); return .ns(try name(0))
        case .cname: try want(1); return .cname(try name(0))
        case .ptr: try want(1); return .ptr(try name(0))
        case .soa:
            try want(7)
            return .soa(SOA(mname: try name(0), rname: try name(1), serial: try u32(2, "serial"),
                            refresh: try u32(3, "refresh"), retry: try u32(4, "retry"),
                            expire: try u32(5, "expire"), minimum: try u32(6, "minimum")))
        case .mx:
            try want(2)
            return .mx(preference: try u16(0, "preference"), exchange: try name(1))
        case .txt:
            guard !f.isEmpty else { throw .badPresentation("TXT needs at least one string") }
            var strings: [[UInt8]] = []
            for field in f {
                let s = try unescapeCharacterString(field.text)
                // A string longer than 255 octets is split into 255-octet chunks.
                if s.isEmpty { strings.append([]) }
                var k = 0
                while k < s.count {
                    let e = k &+ 255 < s.count ? k &+ 255 : s.count
                    strings.append(Array(s[k..<e]))
                    k = e
                }
            }
            return .txt(strings)
        case .srv:
            try want(4)
            return .srv(SRV(priority: try u16(0, "priority"), weight: try u16(1, "weight"),
                            port: try u16(2, "port"), target: try name(3)))
        case .caa:
            // RFC 8659 §4.1.1: flags tag value; the tag is 1+ ASCII letters/digits.
            try want(3)
            let flags = UInt8(truncatingIfNeeded: try parseNumber(f[0], max: 255, what: "CAA flags"))
            let tag = f[1].text
            guard !f[1].quoted, !tag.isEmpty, tag.count <= 15, tag.allSatisfy(RData.isCAATagByte) else {
                throw .badPresentation("bad CAA tag '\(f[1].string)'")
            }
            return .caa(flags: flags, tag: tag, value: try unescapeCharacterString(f[2].text))
        default:
            let layout = dnssecLayout(type)
            guard !layout.isEmpty else { throw .badPresentation("type \(type) needs the generic form \\# LENGTH HEX") }
            return .unknown(type: type, data: try dnssecWire(type: type, layout, fields: f, origin: origin))
        }
    }

    /// `\# LENGTH HEX…` (RFC 3597 §5): the hex may be split across fields
    /// and must decode to exactly LENGTH bytes. For a typed type the bytes
    /// must also be valid RDATA of that type.
    @_optimize(size) static func parseGeneric(type: RRType, fields f: [PresentationField]) throws(DNSError) -> RData {
        guard f.count >= 2 else { throw .badPresentation("\\# needs a length") }
        let length = Int(try parseNumber(f[1], max: 65535, what: "RDATA length"))
        var bytes: [UInt8] = []
        var half: UInt8? = nil
        for field in f.dropFirst(2) {
            for c in field.text {
                guard let v = hexValue(c) else { throw .badPresentation("bad hex '\(field.string)'") }
                if let h = half { bytes.append(h << 4 | v); half = nil } else { half = v }
            }
        }
        guard half == nil, bytes.count == length else {
            throw .badPresentation("\\# length \(length) does not match the hex data")
        }
        guard isTyped(type) else { return .unknown(type: type, data: bytes) }
        // Decode as the type's wire form; a name here can hold no valid pointer.
        let decoded: RData? = bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            return try? RData.read(type: type, rdLength: raw.count, from: &r)
        }
        guard let d = decoded else { throw .badPresentation("\\# data is not valid \(type) RDATA") }
        return d
    }

    /// Presentation text as dig and BIND print it (absolute names, TXT and
    /// CAA values quoted, AAAA per RFC 5952, DNSSEC types as
    /// RData+DNSSEC.swift describes).
    public var presentation: String {
        switch self {
        case .a(let v): return formatIPv4(v)
        case .aaaa(let hi, let lo): return formatIPv6(hi: hi, lo: lo)
        case .ns(let n), .cname(let n), .ptr(let n): return n.description
        case .soa(let s):
            return "\(s.mname) \(s.rname) \(s.serial) \(s.refresh) \(s.retry) \(s.expire) \(s.minimum)"
        case .mx(let p, let x): return "\(p) \(x)"
        case .txt(let strings):
            var out: [UInt8] = []
            for (k, s) in strings.enumerated() {
                if k > 0 { out.append(0x20) }
                quotedCharacterString(s, into: &out)
            }
            return String(decoding: out, as: UTF8.self)
        case .srv(let s): return "\(s.priority) \(s.weight) \(s.port) \(s.target)"
        case .caa(let flags, let tag, let value):
            var out: [UInt8] = Array("\(flags) ".utf8) + tag
            out.append(0x20)
            quotedCharacterString(value, into: &out)
            return String(decoding: out, as: UTF8.self)
        case .unknown(let t, let data):
            return Self.dnssecPresentation(type: t, data) ?? Self.genericPresentation(data)
        }
    }

    /// `\# LENGTH HEX` for any bytes ("\# 0" when empty), hex in uppercase
    /// as BIND prints it.
    @_optimize(size) public static func genericPresentation(_ data: [UInt8]) -> String {
        data.isEmpty ? "\\# 0" : "\\# \(data.count) \(hexEncode(data, uppercase: true))"
    }
}
