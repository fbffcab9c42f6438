// Resource records (RFC 1035 §4.1.3): a borrowed view for walking received
// messages without copying, and an owned form for zone data and tools.
//
//   NAME | TYPE (16) | CLASS (16) | TTL (32) | RDLENGTH (16) | RDATA

/// The message sections (RFC 1035 §4.1), in wire order.
import Core

public enum Section: UInt8, Comparable, Sendable {
    case question = 0, answer, authority, additional

    public static func < (a: Section, b: Section) -> Bool { a.rawValue < b.rawValue }
}

/// A record borrowed from a message. Reading one checks the owner name and
/// that RDLENGTH bytes are present, but not the RDATA's inner format
/// (`rdata()` does that). Hot-path safe, except `rdata()` and `record()`.
public struct RecordView {
    public let owner: NameView
    public let type: RRType
    /// CLASS; for OPT this field is the requestor's UDP payload size.
    public let rawClass: UInt16
    /// TTL; for OPT it carries extended RCODE, version and flags.
    public let ttl: UInt32
    /// Offset of the RDATA in the message.
    public let rdataOffset: Int
    public let rdLength: Int

    public var rrClass: RRClass { RRClass(rawClass) }

    /// The RDATA bytes, borrowed.
    public var rdataBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: owner.message[rdataOffset..<(rdataOffset &+ rdLength)])
    }

    /// Reads one record at the reader's position and leaves the reader just
    /// after its RDATA.
    public static func read(_ r: inout ByteReader) throws(DNSError) -> RecordView {
        let owner = try NameView.read(&r)
        try r.require(10)
        let t = try r.readU16()
        let c = try r.readU16()
        let ttl = try r.readU32()
        let n = Int(try r.readU16())
        let at = r.offset
        try r.skip(n)
        return RecordView(owner: owner, type: RRType(t), rawClass: c, ttl: ttl, rdataOffset: at, rdLength: n)
    }

    /// Decodes the RDATA (allocates).
    public func rdata() throws(DNSError) -> RData {
        var r = ByteReader(owner.message, offset: rdataOffset)
        return try RData.read(type: type, rdLength: rdLength, from: &r)
    }

    /// An owned copy of the whole record (allocates).
    public func record() throws(DNSError) -> ResourceRecord {
        ResourceRecord(owner: owner.domainName, ttl: ttl, rrClass: rrClass, rdata: try rdata())
    }
}

/// An owned resource record. The type is that of its RDATA.
public struct ResourceRecord: Equatable, CustomStringConvertible, Sendable {
    public var owner: DomainName
    public var ttl: UInt32
    public var rrClass: RRClass
    public var rdata: RData

    public init(owner: DomainName, ttl: UInt32, rrClass: RRClass = .in, rdata: RData) {
        self.owner = owner
        self.ttl = ttl
        self.rrClass = rrClass
        self.rdata = rdata
    }

    public var type: RRType { rdata.type }

    /// One line of master-file text, as dig prints it:
    /// "www.example.com. 300 IN A 192.0.2.1".
    public var description: String {
        "\(owner) \(ttl) \(rrClass) \(type) \(rdata.presentation)"
    }

    /// Parses "OWNER [TTL] [CLASS] TYPE RDATA…" (TTL and CLASS in either
    /// order, both optional: `defaultTTL` and IN apply). Relative names use
    /// `origin`. This is a convenience for tests, tools and the API; zone
    /// files have their own scanner (multi-line records, $ORIGIN, …).
    public init(_ line: String, origin: DomainName? = nil, defaultTTL: UInt32 = 3600) throws(DNSError) {
        let f = try presentationFields(line)
        guard f.count >= 2 else { throw .badPresentation("record needs an owner and a type: '\(line)'") }
        let owner = try DomainName.parse(f[0].text, origin: origin)
        var ttl = defaultTTL
        var cls = RRClass.in
        var k = 1
        var sawTTL = false, sawClass = false
        while k < f.count {
            let s = f[k].string
            if !sawTTL, let v = parseTTL(f[k].text) {
                ttl = v; sawTTL = true; k &+= 1; continue
            }
            if !sawClass, let c = RRClass(mnemonic: s) {
                cls = c; sawClass = true; k &+= 1; continue
            }
            break
        }
        guard k < f.count, let type = RRType(mnemonic: f[k].string) else {
            throw .badPresentation("record needs a type: '\(line)'")
        }
        let rdata = try RData.parse(type: type, fields: Array(f[(k &+ 1)...]), origin: origin)
        self.init(owner: owner, ttl: ttl, rrClass: cls, rdata: rdata)
    }
}
