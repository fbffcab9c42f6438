// The message header (RFC 1035 §4.1.1, with AD and CD from RFC 4035 §3.2),
// its OPCODE and RCODE values (RFC 6895 §2.2–§2.3; the 12-bit extended RCODE
// is split with OPT, RFC 6891 §6.1.3), and the question entry (RFC 1035 §4.1.2).
//
//   ID | QR Opcode AA TC RD RA Z AD CD RCODE | QDCOUNT | ANCOUNT | NSCOUNT | ARCOUNT

/// The fixed 12-byte header. A plain value: reading and writing allocate nothing.
import Core

public struct Header: Equatable, Sendable {
    public var id: UInt16 = 0
    /// The 16 flag bits as on the wire.
    public var flags: UInt16 = 0
    public var qdCount: UInt16 = 0
    public var anCount: UInt16 = 0
    public var nsCount: UInt16 = 0
    public var arCount: UInt16 = 0

    /// Size on the wire.
    public static let size = 12

    public init(id: UInt16 = 0, flags: UInt16 = 0) {
        self.id = id
        self.flags = flags
    }

    @inline(__always)
    func bit(_ n: UInt16) -> Bool { flags & (1 << n) != 0 }
    @inline(__always)
    mutating func set(_ n: UInt16, _ on: Bool) {
        if on { flags |= 1 << n } else { flags &= ~(1 << n) }
    }

    /// QR: this is a response.
    public var qr: Bool { get { bit(15) } set { set(15, newValue) } }
    public var opcode: Opcode {
        get { Opcode(UInt8(truncatingIfNeeded: flags >> 11)) }
        set { flags = flags & ~0x7800 | UInt16(newValue.rawValue) << 11 }
    }
    /// AA: authoritative answer.
    public var aa: Bool { get { bit(10) } set { set(10, newValue) } }
    /// TC: truncated.
    public var tc: Bool { get { bit(9) } set { set(9, newValue) } }
    /// RD: recursion desired (copied into the response).
    public var rd: Bool { get { bit(8) } set { set(8, newValue) } }
    /// RA: recursion available.
    public var ra: Bool { get { bit(7) } set { set(7, newValue) } }
    /// Z: reserved, must be zero (RFC 1035 §4.1.1).
    public var z: Bool { get { bit(6) } set { set(6, newValue) } }
    /// AD: authentic data (RFC 4035 §3.2.3).
    public var ad: Bool { get { bit(5) } set { set(5, newValue) } }
    /// CD: checking disabled (RFC 4035 §3.2.2).
    public var cd: Bool { get { bit(4) } set { set(4, newValue) } }
    /// The 4 header bits of RCODE (the rest may be in OPT, RFC 6891 §6.1.3).
    public var rcode: UInt8 {
        get { UInt8(truncatingIfNeeded: flags & 0xF) }
        set { flags = flags & ~0xF | UInt16(newValue & 0xF) }
    }

    /// Reads the header at the reader's position (normally 0).
    public static func read(_ r: inout ByteReader) throws(DNSError) -> Header {
        try r.require(size)
        var h = Header()
        h.id = try r.readU16()
        h.flags = try r.readU16()
        h.qdCount = try r.readU16()
        h.anCount = try r.readU16()
        h.nsCount = try r.readU16()
        h.arCount = try r.readU16()
        return h
    }

    /// Writes the 12 bytes; all or nothing.
    public func write(_ w: inout ByteWriter) throws(DNSError) {
        try w.ensure(Header.size)
        try w.writeU16(id)
        try w.writeU16(flags)
        try w.writeU16(qdCount)
        try w.writeU16(anCount)
        try w.writeU16(nsCount)
        try w.writeU16(arCount)
    }
}

/// A question borrowed from a message: the name stays in the caller's bytes.
/// Hot-path safe.
public struct QuestionView {
    public let name: NameView
    public let type: RRType
    public let rrClass: RRClass

    /// Reads QNAME, QTYPE, QCLASS at the reader's position.
    public static func read(_ r: inout ByteReader) throws(DNSError) -> QuestionView {
        let name = try NameView.read(&r)
        let t = try r.readU16()
        let c = try r.readU16()
        return QuestionView(name: name, type: RRType(t), rrClass: RRClass(c))
    }

    /// An owned copy (allocates).
    public var question: Question { Question(name: name.domainName, type: type, rrClass: rrClass) }
}

/// An owned question, for tools, tests and clients.
public struct Question: Equatable, CustomStringConvertible, Sendable {
    public var name: DomainName
    public var type: RRType
    public var rrClass: RRClass

    public init(name: DomainName, type: RRType, rrClass: RRClass = .in) {
        self.name = name
        self.type = type
        self.rrClass = rrClass
    }

    /// dig's form: "example.com. IN A".
    public var description: String { "\(name) \(rrClass) \(type)" }
}

/// A response code. Values above 15 need an OPT record: the low 4 bits go in
/// the header, the high 8 bits in OPT's extended RCODE (RFC 6891 §6.1.3).
public struct RCode: RawRepresentable, Hashable, CustomStringConvertible, Sendable {
    public var rawValue: UInt16
    @inline(__always) public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }
    @inline(__always) public init(_ v: UInt16) { self.rawValue = v & 0x0FFF }

    public static let noError = RCode(0)
    public static let formErr = RCode(1)
    public static let servFail = RCode(2)
    public static let nxDomain = RCode(3)
    public static let notImp = RCode(4)
    public static let refused = RCode(5)
    public static let yxDomain = RCode(6)
    public static let yxRRSet = RCode(7)
    public static let nxRRSet = RCode(8)
    public static let notAuth = RCode(9)
    public static let notZone = RCode(10)
    /// BADVERS: the OPT version is not supported (RFC 6891 §6.1.3); needs OPT.
    public static let badVers = RCode(16)
    /// BADCOOKIE (RFC 7873 §8).
    public static let badCookie = RCode(23)

    /// The 4 bits that go in the header.
    public var headerBits: UInt8 { UInt8(truncatingIfNeeded: rawValue & 0xF) }
    /// The 8 bits that go in OPT's extended RCODE field.
    public var extendedBits: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 4) }
    /// Rebuilds a 12-bit RCODE from the header and OPT halves.
    public init(header: UInt8, extended: UInt8) {
        self.rawValue = UInt16(extended) << 4 | UInt16(header & 0xF)
    }

    static let names: [(UInt16, String)] = [
        (0, "NOERROR"), (1, "FORMERR"), (2, "SERVFAIL"), (3, "NXDOMAIN"), (4, "NOTIMP"),
        (5, "REFUSED"), (6, "YXDOMAIN"), (7, "YXRRSET"), (8, "NXRRSET"), (9, "NOTAUTH"),
        (10, "NOTZONE"), (16, "BADVERS"), (23, "BADCOOKIE"),
    ]

    /// The name dig prints ("NXDOMAIN"), or "RCODEnnn".
    public var description: String {
        for (v, n) in RCode.names where v == rawValue { return n }
        return "RCODE\(rawValue)"
    }
}

/// A header OPCODE (4 bits).
public struct Opcode: RawRepresentable, Hashable, CustomStringConvertible, Sendable {
    public var rawValue: UInt8
    @inline(__always) public init(rawValue: UInt8) { self.rawValue = rawValue & 0xF }
    @inline(__always) public init(_ v: UInt8) { self.rawValue = v & 0xF }

    public static let query = Opcode(0)
    public static let iquery = Opcode(1)
    public static let status = Opcode(2)
    /// NOTIFY (RFC 1996).
    public static let notify = Opcode(4)
    /// UPDATE (RFC 2136).
    public static let update = Opcode(5)

    public var description: String {
        switch rawValue {
        case 0: return "QUERY"
        case 1: return "IQUERY"
        case 2: return "STATUS"
        case 4: return "NOTIFY"
        case 5: return "UPDATE"
        default: return "OPCODE\(rawValue)"
        }
    }
}
