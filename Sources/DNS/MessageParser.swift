// Walking a received message (RFC 1035 §4.1) without copying it: a cursor
// over the four sections, and the query parse the server runs per packet.

/// A cursor over a message's sections. Questions come first; asking for a
/// record skips any questions not yet read. Hot-path safe.
import Core

public struct MessageParser {
    public let header: Header
    public private(set) var reader: ByteReader
    /// The section the next entry comes from.
    public private(set) var section: Section = .question
    var left: Int

    /// Reads the header of the message in `bytes` (which the caller keeps
    /// alive while the parser and its views are used).
    public init(_ bytes: UnsafeRawBufferPointer) throws(DNSError) {
        var r = ByteReader(bytes)
        header = try Header.read(&r)
        reader = r
        left = Int(header.qdCount)
        advanceSection()
    }

    /// Moves past sections with nothing left in them.
    mutating func advanceSection() {
        while left == 0 && section != .additional {
            section = Section(rawValue: section.rawValue &+ 1) ?? .additional
            switch section {
            case .question: left = Int(header.qdCount)
            case .answer: left = Int(header.anCount)
            case .authority: left = Int(header.nsCount)
            case .additional: left = Int(header.arCount)
            }
        }
    }

    /// The next question, or nil once all QDCOUNT questions were read.
    public mutating func nextQuestion() throws(DNSError) -> QuestionView? {
        guard section == .question, left > 0 else { return nil }
        let q = try QuestionView.read(&reader)
        left &-= 1
        advanceSection()
        return q
    }

    /// The next record and its section, or nil after the last one.
    public mutating func nextRecord() throws(DNSError) -> (section: Section, record: RecordView)? {
        while section == .question && left > 0 { _ = try nextQuestion() }
        guard left > 0 else { return nil }
        let s = section
        let rr = try RecordView.read(&reader)
        left &-= 1
        advanceSection()
        return (s, rr)
    }

    /// True once every counted entry was read.
    public var isComplete: Bool { section == .additional && left == 0 }

    /// Throws `trailingData` if bytes follow the last counted entry.
    /// Call after `isComplete`.
    public func checkNoTrailingData() throws(DNSError) {
        guard reader.isAtEnd else { throw .trailingData(offset: reader.offset) }
    }
}

/// What the server needs from a query, borrowed from the packet.
/// Hot-path safe: parsing allocates nothing.
public struct Query {
    public let header: Header
    /// The single question (RFC 9619: QDCOUNT must be 1).
    public let question: QuestionView
    /// The OPT record, when the query has one.
    public let edns: EDNSView?
    /// Offset just past the question (where a response copying the query
    /// prefix would continue).
    public let questionEnd: Int
    /// A TSIG record is present (RFC 8945; `TSIG.verify` checks it).
    public let hasTSIG: Bool

    /// Parses a query. Throws (answer FORMERR) when the message is
    /// malformed anywhere, QDCOUNT is not 1, an OPT appears outside the
    /// additional section or more than once (RFC 6891 §6.1.1), or bytes
    /// follow the last record. Read the ID with `Header.read` to answer a
    /// message this rejects.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(DNSError) -> Query {
        if let q = parseQuestionOnly(bytes) { return q }
        return try parseMessage(bytes)
    }

    /// The shape of nearly every query without EDNS: a header with counts
    /// 1, 0, 0, 0 and one question ending the message. nil for anything
    /// else, valid or not: `parseMessage` then decides, with its errors.
    /// The same result as `parseMessage` wherever this returns one (the
    /// `dns` fuzz target checks it).
    @inline(__always)
    static func parseQuestionOnly(_ bytes: UnsafeRawBufferPointer) -> Query? {
        guard bytes.count >= Header.size &+ 5, let b = bytes.baseAddress,
              b.loadUnaligned(fromByteOffset: 4, as: UInt64.self) == UInt64(bigEndian: 0x0001_0000_0000_0000)
        else { return nil }
        var r = ByteReader(bytes)
        guard let h = try? Header.read(&r), let q = try? QuestionView.read(&r), r.isAtEnd else { return nil }
        return Query(header: h, question: q, edns: nil, questionEnd: r.offset, hasTSIG: false)
    }

    /// The general parse: every section walked and checked.
    static func parseMessage(_ bytes: UnsafeRawBufferPointer) throws(DNSError) -> Query {
        var p = try MessageParser(bytes)
        guard p.header.qdCount == 1, let q = try p.nextQuestion() else {
            throw .formErr(offset: 4, reason: "QDCOUNT is not 1")
        }
        let qEnd = p.reader.offset
        var edns: EDNSView? = nil
        var tsig = false
        while let (section, rr) = try p.nextRecord() {
            guard rr.type == .opt else {
                if rr.type == .tsig { tsig = true }
                continue
            }
            guard section == .additional else {
                throw .formErr(offset: rr.owner.offset, reason: "OPT outside the additional section")
            }
            guard edns == nil else { throw .formErr(offset: rr.owner.offset, reason: "more than one OPT record") }
            edns = try EDNSView(rr)
        }
        try p.checkNoTrailingData()
        return Query(header: p.header, question: q, edns: edns, questionEnd: qEnd, hasTSIG: tsig)
    }

    /// The 12-bit RCODE the query carries (header bits plus OPT's extension).
    public var rcode: RCode {
        RCode(header: header.rcode, extended: edns?.extendedRcode ?? 0)
    }

    /// EDNS present with a version this library does not implement: answer
    /// BADVERS (RCODE 16) with an OPT of version 0 (RFC 6891 §6.1.3).
    public var needsBadVers: Bool { (edns?.version ?? 0) != 0 }

    /// The largest UDP response the client accepts: 512 without EDNS
    /// (RFC 1035 §4.2.1), else its payload size (at least 512).
    public var maxUDPResponse: Int { edns?.effectivePayloadSize ?? 512 }
}
