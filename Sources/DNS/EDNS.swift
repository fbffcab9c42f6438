// EDNS(0) (RFC 6891): the OPT pseudo-record in the additional section.
//
//   NAME = root | TYPE = 41 | CLASS = requestor's UDP payload size |
//   TTL = EXTENDED-RCODE (8) VERSION (8) DO (1) Z (15) | RDATA = options
//   option: OPTION-CODE (16) OPTION-LENGTH (16) OPTION-DATA
//
// NSID is option code 3 (RFC 5001 §2.3).

/// A received OPT record, borrowed. Hot-path safe.
import Core

public struct EDNSView {
    /// The requestor's UDP payload size as sent (may be < 512).
    public let udpPayloadSize: UInt16
    /// Upper 8 bits of the 12-bit RCODE (RFC 6891 §6.1.3).
    public let extendedRcode: UInt8
    public let version: UInt8
    /// The 16 flag bits; the top one is DO (RFC 3225 §3).
    public let flags: UInt16
    /// The options, borrowed (validated by `init(_:)`).
    public let options: UnsafeRawBufferPointer

    /// Option code of NSID (RFC 5001).
    public static let nsidCode: UInt16 = 3
    /// The payload size this library advertises by default (DNS flag day 2020).
    public static let defaultPayloadSize: UInt16 = 1232

    /// DO: the requestor accepts DNSSEC records (RFC 3225).
    public var dnssecOK: Bool { flags & 0x8000 != 0 }

    /// The payload size to honour: values below 512 are treated as 512
    /// (RFC 6891 §6.2.5).
    public var effectivePayloadSize: Int { udpPayloadSize < 512 ? 512 : Int(udpPayloadSize) }

    /// Interprets an OPT record. The owner must be the root and the options
    /// must tile RDATA exactly; otherwise FORMERR (RFC 6891 §6.1.1, §6.1.2).
    public init(_ rr: RecordView) throws(DNSError) {
        guard rr.owner.isRoot else { throw .formErr(offset: rr.owner.offset, reason: "OPT owner is not the root") }
        udpPayloadSize = rr.rawClass
        extendedRcode = UInt8(truncatingIfNeeded: rr.ttl >> 24)
        version = UInt8(truncatingIfNeeded: rr.ttl >> 16)
        flags = UInt16(truncatingIfNeeded: rr.ttl)
        options = rr.rdataBytes
        var it = Options(bytes: options)
        while true {
            guard let _ = try it.nextChecked() else { break }
        }
    }

    /// The options, in order: (code, data borrowed).
    public struct Options: Sequence, IteratorProtocol {
        var reader: ByteReader
        init(bytes: UnsafeRawBufferPointer) { reader = ByteReader(bytes) }

        mutating func nextChecked() throws(DNSError) -> (code: UInt16, data: UnsafeRawBufferPointer)? {
            if reader.isAtEnd { return nil }
            let code = try reader.readU16()
            let n = Int(try reader.readU16())
            guard n <= reader.remaining else { throw .badRData(type: 41, offset: reader.offset) }
            return (code, try reader.readBytes(n))
        }

        /// Stops at the end or at the first malformed option (never the case
        /// for a view built by `EDNSView.init`).
        public mutating func next() -> (code: UInt16, data: UnsafeRawBufferPointer)? {
            do { return try nextChecked() } catch { return nil }
        }
    }

    public var optionList: Options { Options(bytes: options) }

    /// The client asked for NSID (RFC 5001 §2.1: an empty NSID option).
    public var requestsNSID: Bool {
        for o in optionList where o.code == EDNSView.nsidCode { return true }
        return false
    }

    /// An owned copy (allocates).
    public var edns: EDNS {
        var opts: [EDNSOption] = []
        for o in optionList { opts.append(EDNSOption(code: o.code, data: Array(o.data))) }
        return EDNS(udpPayloadSize: udpPayloadSize, extendedRcode: extendedRcode, version: version,
                    dnssecOK: dnssecOK, options: opts)
    }
}

/// One EDNS option, owned.
public struct EDNSOption: Equatable, Sendable {
    public var code: UInt16
    public var data: [UInt8]
    public init(code: UInt16, data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

/// An owned OPT record, for tools, tests and clients.
public struct EDNS: Equatable, Sendable {
    public var udpPayloadSize: UInt16
    public var extendedRcode: UInt8
    public var version: UInt8
    public var dnssecOK: Bool
    public var options: [EDNSOption]

    public init(udpPayloadSize: UInt16 = EDNSView.defaultPayloadSize, extendedRcode: UInt8 = 0, version: UInt8 = 0,
                dnssecOK: Bool = false, options: [EDNSOption] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRcode = extendedRcode
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }

    /// The NSID option's data, if present.
    public var nsid: [UInt8]? {
        for o in options where o.code == EDNSView.nsidCode { return o.data }
        return nil
    }

    /// The TTL field: extended RCODE, version, DO.
    public var ttlField: UInt32 {
        UInt32(extendedRcode) << 24 | UInt32(version) << 16 | (dnssecOK ? 0x8000 : 0)
    }

    /// The RDATA: options in order.
    public var rdata: [UInt8] {
        var b = WireBuffer()
        for o in options {
            try? b.writeU16(o.code)
            try? b.writeU16(UInt16(truncatingIfNeeded: o.data.count))
            try? b.writeBytes(o.data)
        }
        return b.bytes
    }
}

extension MessageWriter {
    /// Appends an OPT record to the additional section (RFC 6891 §6.1.2):
    /// payload size, version 0, DO echoed as given, and NSID when `nsid` is
    /// non-nil. With `rcode`, its upper bits go in OPT and its low 4 bits
    /// replace the header's; without, the header's RCODE is left alone and
    /// the extended bits are 0. All or nothing; hot-path safe.
    public mutating func writeOPT(payloadSize: UInt16 = EDNSView.defaultPayloadSize, rcode: RCode? = nil,
                                  dnssecOK: Bool = false, nsid: UnsafeRawBufferPointer? = nil) throws(DNSError) {
        let optLength = nsid.map { 4 &+ $0.count } ?? 0
        guard optLength <= 0xFFFF else { throw .noRoom }
        try out.ensure(11 &+ optLength)
        try beginRecord(.additional)
        try out.writeU8(0)                                   // root owner
        try out.writeU16(RRType.opt.rawValue)
        try out.writeU16(payloadSize)
        try out.writeU32(UInt32(rcode?.extendedBits ?? 0) << 24 | (dnssecOK ? 0x8000 : 0))
        try out.writeU16(UInt16(truncatingIfNeeded: optLength))
        if let n = nsid {
            try out.writeU16(EDNSView.nsidCode)
            try out.writeU16(UInt16(truncatingIfNeeded: n.count))
            try out.writeBytes(n)
        }
        if let r = rcode { header.rcode = r.headerBits }
        header.arCount &+= 1
    }
}
