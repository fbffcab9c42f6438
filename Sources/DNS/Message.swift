// An owned, whole message: for tools, clients, tests and logs. Parsing and
// encoding allocate; the server's query path uses `Query` and
// `MessageWriter` instead.

/// A DNS message with every section decoded. The OPT record, if any, is
/// held in `edns` rather than in `additional`. The arrays are the truth:
/// the header's four counts are zero after parsing and are recomputed by
/// `encode`, so two messages with equal contents compare equal.
public struct Message: Equatable, CustomStringConvertible, Sendable {
    public var header: Header
    public var questions: [Question] = []
    public var answers: [ResourceRecord] = []
    public var authority: [ResourceRecord] = []
    public var additional: [ResourceRecord] = []
    public var edns: EDNS?

    @_optimize(size) public init(header: Header = Header(), questions: [Question] = [], answers: [ResourceRecord] = [],
                authority: [ResourceRecord] = [], additional: [ResourceRecord] = [], edns: EDNS? = nil) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
        self.edns = edns
    }

    /// Decodes every section, including each RDATA. Throws on any malformed
    /// part, on a second OPT or an OPT outside the additional section, and on
    /// trailing bytes.
    @_optimize(size) public init(bytes: [UInt8]) throws(DNSError) {
        let result: Result<Message, DNSError> = bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<Message, DNSError> in
            do throws(DNSError) { return .success(try Message.parse(raw)) } catch { return .failure(error) }
        }
        self = try result.get()
    }

    /// As `init(bytes:)`, over borrowed bytes.
    @_optimize(size) public static func parse(_ raw: UnsafeRawBufferPointer) throws(DNSError) -> Message {
        var p = try MessageParser(raw)
        var h = p.header
        h.qdCount = 0
        h.anCount = 0
        h.nsCount = 0
        h.arCount = 0
        var m = Message(header: h)
        while let q = try p.nextQuestion() { m.questions.append(q.question) }
        while let (section, rr) = try p.nextRecord() {
            if rr.type == .opt {
                guard section == .additional else {
                    throw .formErr(offset: rr.owner.offset, reason: "OPT outside the additional section")
                }
                guard m.edns == nil else { throw .formErr(offset: rr.owner.offset, reason: "more than one OPT record") }
                m.edns = try EDNSView(rr).edns
                continue
            }
            let record = try rr.record()
            switch section {
            case .answer: m.answers.append(record)
            case .authority: m.authority.append(record)
            default: m.additional.append(record)
            }
        }
        try p.checkNoTrailingData()
        return m
    }

    /// Encodes with name compression. Throws `.noRoom` if the message does
    /// not fit in `capacity` bytes (no truncation is attempted here).
    @_optimize(size) public func encode(capacity: Int = 65535) throws(DNSError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: capacity)
        let result: Result<Int, DNSError> = buffer.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) -> Result<Int, DNSError> in
            do throws(DNSError) { return .success(try encode(into: raw)) } catch { return .failure(error) }
        }
        let n = try result.get()
        return Array(buffer[0..<n])
    }

    /// Encodes into `raw`; returns the length.
    @_optimize(size) public func encode(into raw: UnsafeMutableRawBufferPointer) throws(DNSError) -> Int {
        var w = try MessageWriter(buffer: raw, header: header)
        for q in questions { try w.writeQuestion(q.name, type: q.type, rrClass: q.rrClass) }
        for r in answers { try w.writeRecord(.answer, owner: r.owner, ttl: r.ttl, rrClass: r.rrClass, rdata: r.rdata) }
        for r in authority { try w.writeRecord(.authority, owner: r.owner, ttl: r.ttl, rrClass: r.rrClass, rdata: r.rdata) }
        for r in additional { try w.writeRecord(.additional, owner: r.owner, ttl: r.ttl, rrClass: r.rrClass, rdata: r.rdata) }
        if let e = edns {
            // Every option is kept, so the OPT goes out as opaque RDATA.
            try w.writeRecord(.additional, owner: .root, ttl: e.ttlField, rrClass: RRClass(e.udpPayloadSize),
                              rdata: .unknown(type: .opt, data: e.rdata))
        }
        return w.finish()
    }

    /// The 12-bit RCODE (header plus OPT extension).
    public var rcode: RCode { RCode(header: header.rcode, extended: edns?.extendedRcode ?? 0) }

    /// A dig-like multi-line rendering (for logs and test failures).
    public var description: String {
        var s = ";; opcode: \(header.opcode), status: \(rcode), id: \(header.id)\n"
        s += ";; flags:"
        if header.qr { s += " qr" }
        if header.aa { s += " aa" }
        if header.tc { s += " tc" }
        if header.rd { s += " rd" }
        if header.ra { s += " ra" }
        if header.ad { s += " ad" }
        if header.cd { s += " cd" }
        s += "; QUERY: \(questions.count), ANSWER: \(answers.count), AUTHORITY: \(authority.count), ADDITIONAL: \(additional.count &+ (edns == nil ? 0 : 1))\n"
        if let e = edns {
            s += ";; EDNS: version: \(e.version), flags:\(e.dnssecOK ? " do" : ""); udp: \(e.udpPayloadSize)\n"
            if let n = e.nsid { s += ";; NSID: \(hexEncode(n))\n" }
        }
        for q in questions { s += ";\(q)\n" }
        for r in answers { s += "\(r)\n" }
        for r in authority { s += "\(r)\n" }
        for r in additional { s += "\(r)\n" }
        return s
    }
}
