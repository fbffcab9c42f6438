// Writing a message into a caller-owned buffer, with name compression
// (RFC 1035 §4.1.4). Nothing here allocates: the compression table lives
// inline in the writer, and names are copied through a stack buffer.

/// Remembers where names were written in this message, so later names can
/// point at them. Fixed capacity, stored inline (no heap); when full, later
/// names are simply written uncompressed.
///
/// Each entry is the offset of a label's length byte (< 0x4000, the reach of
/// a pointer) and the wire length of the name suffix starting there, so
/// lookups compare only suffixes of equal length.
public struct CompressionTable {
    public static let capacity = 64
    var entries: InlineArray<64, UInt32> = .init(repeating: 0)
    public private(set) var count = 0

    public init() {}

    mutating func add(offset: Int, suffixLength: Int) {
        guard count < CompressionTable.capacity, offset < 0x4000, suffixLength <= 255 else { return }
        entries[count] = UInt32(offset) << 8 | UInt32(suffixLength)
        count &+= 1
    }

    mutating func truncate(to n: Int) { if n >= 0 && n < count { count = n } }
    public mutating func removeAll() { count = 0 }
}

/// Builds a message in place: header, then questions, then records section
/// by section. Counts are tracked and patched into the header by `finish()`.
///
/// Contract for truncation (RFC 2181 §9, RFC 1035 §7): every `write…` is all
/// or nothing. When one throws `.noRoom`, the message so far is intact and
/// ends at the previous record boundary; the caller may set `header.tc`,
/// still add an OPT if it reserved room for it (`reserve(_:)`), and call
/// `finish()`.
///
/// Hot-path safe: every method.
public struct MessageWriter: WireSink {
    public var out: ByteWriter
    /// The header to be written by `finish()`; counts are maintained here.
    public var header: Header
    public var compression = CompressionTable()
    /// The section of the last record written.
    public private(set) var section: Section = .question
    var reserved = 0
    /// The echoed question's name: where it lives in the query and where it
    /// was written here, so records owned by that very name get a pointer
    /// without any comparison (the common case of every answer).
    var echoBase: UnsafeRawPointer? = nil
    var echoOffset = 0
    var echoAt = 0

    /// Starts a message with `header` (counts are reset and tracked) into
    /// `buffer`, writing at most `capacity` bytes (e.g. the client's UDP
    /// payload size). Throws if the header does not fit.
    public init(buffer: UnsafeMutableRawBufferPointer, capacity: Int? = nil, header: Header) throws(DNSError) {
        out = ByteWriter(buffer, capacity: capacity)
        self.header = header
        self.header.qdCount = 0
        self.header.anCount = 0
        self.header.nsCount = 0
        self.header.arCount = 0
        try self.header.write(&out)
    }

    /// Bytes written so far.
    public var count: Int { out.count }

    /// Keeps `n` bytes free for something that must be added at the end
    /// (an OPT record): later writes fail as if the buffer were `n` shorter,
    /// until `release()`.
    public mutating func reserve(_ n: Int) {
        release()
        let n = n < 0 ? 0 : (n > out.free ? out.free : n)
        reserved = n
        out.setCapacity(out.capacity &- n)
    }

    /// Gives back the bytes kept by `reserve(_:)`.
    public mutating func release() {
        out.setCapacity(out.capacity &+ reserved)
        reserved = 0
    }

    /// Patches the header (counts and flags) into the buffer and returns the
    /// message length.
    public mutating func finish() -> Int {
        out.patchU16(header.flags, at: 2)
        out.patchU16(header.qdCount, at: 4)
        out.patchU16(header.anCount, at: 6)
        out.patchU16(header.nsCount, at: 8)
        out.patchU16(header.arCount, at: 10)
        out.patchU16(header.id, at: 0)
        return out.count
    }

    /// The finished message so far (call `finish()` first).
    public var bytes: UnsafeRawBufferPointer { out.written }

    // MARK: Questions and records

    /// Appends a question with the name as owned.
    public mutating func writeQuestion(_ name: DomainName, type: RRType, rrClass: RRClass) throws(DNSError) {
        try record(.question) { (w: inout MessageWriter) throws(DNSError) in
            try w.writeName(name, compress: true)
            try w.out.writeU16(type.rawValue)
            try w.out.writeU16(rrClass.rawValue)
        }
        header.qdCount &+= 1
    }

    /// Echoes a received question, keeping the sender's case (RFC 1035 §7.3
    /// resolvers match the question; 0x20 randomisation relies on it).
    public mutating func writeQuestion(_ q: QuestionView) throws(DNSError) {
        let at = out.count
        try record(.question) { (w: inout MessageWriter) throws(DNSError) in
            try w.writeName(q.name, compress: true)
            try w.out.writeU16(q.type.rawValue)
            try w.out.writeU16(q.rrClass.rawValue)
        }
        header.qdCount &+= 1
        if echoBase == nil && at < 0x4000 {
            echoBase = q.name.message.baseAddress
            echoOffset = q.name.offset
            echoAt = at
        }
    }

    /// Appends a record in `section` (which may not go back to an earlier one).
    public mutating func writeRecord(_ section: Section, owner: DomainName, ttl: UInt32,
                                     rrClass: RRClass = .in, rdata: RData) throws(DNSError) {
        try writeRR(section, type: rdata.type, rrClass: rrClass, ttl: ttl,
                    owner: { (w: inout MessageWriter) throws(DNSError) in try w.writeName(owner, compress: true) },
                    rdata: { (w: inout MessageWriter) throws(DNSError) in try rdata.write(to: &w) })
    }

    /// Appends a record whose owner is a name from the query (case as sent).
    public mutating func writeRecord(_ section: Section, owner: NameView, ttl: UInt32,
                                     rrClass: RRClass = .in, rdata: RData) throws(DNSError) {
        try writeRR(section, type: rdata.type, rrClass: rrClass, ttl: ttl,
                    owner: { (w: inout MessageWriter) throws(DNSError) in try w.writeName(owner, compress: true) },
                    rdata: { (w: inout MessageWriter) throws(DNSError) in try rdata.write(to: &w) })
    }

    /// Appends a record with precomputed, uncompressed RDATA (e.g. from a
    /// compiled zone snapshot); the RDATA is copied as is.
    public mutating func writeRecord(_ section: Section, owner: DomainName, type: RRType, ttl: UInt32,
                                     rrClass: RRClass = .in, rdataWire: UnsafeRawBufferPointer) throws(DNSError) {
        guard rdataWire.count <= 0xFFFF else { throw .noRoom }
        try writeRR(section, type: type, rrClass: rrClass, ttl: ttl,
                    owner: { (w: inout MessageWriter) throws(DNSError) in try w.writeName(owner, compress: true) },
                    rdata: { (w: inout MessageWriter) throws(DNSError) in try w.out.writeBytes(rdataWire) })
    }

    /// Appends a record with precomputed, uncompressed RDATA whose owner is
    /// a borrowed name. When `nameAt` >= 0, the RDATA ends with a name that
    /// starts at that offset (NS, CNAME, PTR: 0; MX: 2), and that name is
    /// compressed; otherwise the RDATA is copied as is.
    public mutating func writeRecord(_ section: Section, owner: NameView, type: RRType, ttl: UInt32,
                                     rrClass: RRClass = .in, rdataWire: UnsafeRawBufferPointer,
                                     nameAt: Int) throws(DNSError) {
        try writeRR(section, type: type, rrClass: rrClass, ttl: ttl,
                    owner: { (w: inout MessageWriter) throws(DNSError) in try w.writeName(owner, compress: true) },
                    rdata: { (w: inout MessageWriter) throws(DNSError) in
                        try w.writeRDATA(rdataWire, nameAt: nameAt)
                    })
    }

    /// As above, with the owner given as an uncompressed wire-form name.
    public mutating func writeRecord(_ section: Section, ownerWire: UnsafeRawBufferPointer, type: RRType,
                                     ttl: UInt32, rrClass: RRClass = .in, rdataWire: UnsafeRawBufferPointer,
                                     nameAt: Int) throws(DNSError) {
        try writeRR(section, type: type, rrClass: rrClass, ttl: ttl,
                    owner: { (w: inout MessageWriter) throws(DNSError) in try w.writeName(wire: ownerWire, compress: true) },
                    rdata: { (w: inout MessageWriter) throws(DNSError) in
                        try w.writeRDATA(rdataWire, nameAt: nameAt)
                    })
    }

    mutating func writeRDATA(_ rdata: UnsafeRawBufferPointer, nameAt: Int) throws(DNSError) {
        if nameAt < 0 || nameAt >= rdata.count {
            try out.writeBytes(rdata)
        } else {
            if nameAt > 0 { try out.writeBytes(UnsafeRawBufferPointer(rebasing: rdata[0..<nameAt])) }
            try writeName(wire: UnsafeRawBufferPointer(rebasing: rdata[nameAt...]), compress: true)
        }
    }

    /// What every record write shares: owner, then TYPE/CLASS/TTL/RDLENGTH
    /// around the RDATA, all or nothing, then the section count.
    mutating func writeRR(_ section: Section, type: RRType, rrClass: RRClass, ttl: UInt32,
                          owner: (inout MessageWriter) throws(DNSError) -> Void,
                          rdata: (inout MessageWriter) throws(DNSError) -> Void) throws(DNSError) {
        try record(section) { (w: inout MessageWriter) throws(DNSError) in
            try owner(&w)
            try w.writeRecordBody(type: type, rrClass: rrClass, ttl: ttl, rdata)
        }
        bump(section)
    }

    /// Checks section order and makes `body` all or nothing.
    mutating func record(_ s: Section, _ body: (inout MessageWriter) throws(DNSError) -> Void) throws(DNSError) {
        try beginRecord(s)
        let start = out.count
        let entries = compression.count
        do {
            try body(&self)
        } catch {
            out.truncate(to: start)
            compression.truncate(to: entries)
            throw error
        }
    }

    /// Records may only be appended in section order, and a count may not
    /// exceed 65535.
    mutating func beginRecord(_ s: Section) throws(DNSError) {
        guard s >= section else { throw .formErr(offset: out.count, reason: "records written out of section order") }
        let n: UInt16
        switch s {
        case .question: n = header.qdCount
        case .answer: n = header.anCount
        case .authority: n = header.nsCount
        case .additional: n = header.arCount
        }
        guard n < 0xFFFF else { throw .noRoom }
        section = s
    }

    mutating func bump(_ s: Section) {
        switch s {
        case .question: header.qdCount &+= 1
        case .answer: header.anCount &+= 1
        case .authority: header.nsCount &+= 1
        case .additional: header.arCount &+= 1
        }
    }

    /// TYPE, CLASS, TTL, RDLENGTH (patched after `rdata` ran).
    mutating func writeRecordBody(type: RRType, rrClass: RRClass, ttl: UInt32,
                                  _ rdata: (inout MessageWriter) throws(DNSError) -> Void) throws(DNSError) {
        try out.ensure(10)
        try out.writeU16(type.rawValue)
        try out.writeU16(rrClass.rawValue)
        try out.writeU32(ttl)
        let lengthAt = out.count
        try out.writeU16(0)
        try rdata(&self)
        let n = out.count &- lengthAt &- 2
        guard n <= 0xFFFF else { throw .noRoom }
        out.patchU16(UInt16(n), at: lengthAt)
    }

    // MARK: WireSink

    public mutating func writeU8(_ v: UInt8) throws(DNSError) { try out.writeU8(v) }
    public mutating func writeU16(_ v: UInt16) throws(DNSError) { try out.writeU16(v) }
    public mutating func writeU32(_ v: UInt32) throws(DNSError) { try out.writeU32(v) }
    public mutating func writeBytes(_ b: [UInt8]) throws(DNSError) { try out.writeBytes(b) }

    public mutating func writeName(_ name: DomainName, compress: Bool) throws(DNSError) {
        let r = name.wire.withUnsafeBytes { (w: UnsafeRawBufferPointer) -> Result<Void, DNSError> in
            do throws(DNSError) {
                try writeName(wire: w, compress: compress)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try r.get()
    }

    /// Writes a borrowed name (decompressed through a stack buffer). The
    /// echoed question's own name becomes a pointer straight away.
    public mutating func writeName(_ name: NameView, compress: Bool) throws(DNSError) {
        if compress, let base = echoBase, name.offset == echoOffset, name.message.baseAddress == base {
            try out.writeU16(0xC000 | UInt16(truncatingIfNeeded: echoAt))
            return
        }
        // The first name of a message (the question) can point nowhere: when
        // it is stored uncompressed, copy its bytes as they are.
        if compression.count == 0, name.offset &+ name.wireLength <= name.message.count,
           name.message[name.offset &+ name.wireLength &- 1] == 0 {
            let bytes = UnsafeRawBufferPointer(rebasing: name.message[name.offset..<(name.offset &+ name.wireLength)])
            if Self.isPlainName(bytes) {
                let base = out.count
                try out.writeBytes(bytes)
                // Its labels become targets for later names, compressed or not.
                var k = 0
                while k < bytes.count &- 1 {
                    compression.add(offset: base &+ k, suffixLength: bytes.count &- k)
                    k &+= Int(bytes[k]) &+ 1
                }
                return
            }
        }
        try withUnsafeTemporaryAllocation(byteCount: 256, alignment: 1) { (tmp: UnsafeMutableRawBufferPointer) throws(DNSError) in
            guard let n = name.copyWire(into: tmp) else { throw .nameTooLong(offset: name.offset) }
            try writeName(wire: UnsafeRawBufferPointer(rebasing: tmp[0..<n]), compress: compress)
        }
    }
}

// MARK: - Name compression (RFC 1035 §4.1.4)
//
// The longest suffix of a name that was already written in this message is
// replaced by a pointer to it. Pointers only ever target names written
// earlier in this same message, at offsets < 0x4000 (14 bits).

extension MessageWriter {
    /// Writes an uncompressed, valid wire-form name (labels ending in the
    /// root byte). With `compress`, the longest suffix already in the
    /// message becomes a pointer, and the newly written labels are
    /// remembered as targets for later names. Without it (SRV targets,
    /// RFC 2782; RFC 3597 §4), the name is written whole, but later names
    /// may still point at it: its bytes are a plain name either way (Knot
    /// does the same). Opaque RDATA of unknown types never comes through
    /// here, so nothing points into it. All or nothing.
    public mutating func writeName(wire w: UnsafeRawBufferPointer, compress: Bool) throws(DNSError) {
        guard w.count >= 1, w.count <= 255 else { throw .nameTooLong(offset: out.count) }
        // Find the first (longest) suffix that is already in the message.
        var s = compress && compression.count > 0 ? 0 : w.count &- 1
        var match = -1
        while s < w.count, w[s] != 0 {
            if let target = findSuffix(w, from: s) {
                match = target
                break
            }
            s &+= Int(w[s]) &+ 1
        }
        let literal = s                      // bytes written before the pointer or root
        let needed = match >= 0 ? literal &+ 2 : w.count
        try out.ensure(needed)
        let base = out.count
        try out.writeBytes(UnsafeRawBufferPointer(rebasing: w[0..<literal]))
        if match >= 0 {
            try out.writeU16(0xC000 | UInt16(truncatingIfNeeded: match))
        } else {
            try out.writeU8(0)
        }
        // Remember the new labels as future pointer targets.
        var k = 0
        while k < literal {
            compression.add(offset: base &+ k, suffixLength: w.count &- k)
            k &+= Int(w[k]) &+ 1
        }
    }

    /// True when `w` is labels ending exactly at its last byte, the root
    /// (no pointer anywhere).
    static func isPlainName(_ w: UnsafeRawBufferPointer) -> Bool {
        var k = 0
        while k < w.count {
            let n = Int(w[k])
            if n == 0 { return k == w.count &- 1 }
            if n > 63 { return false }
            k &+= n &+ 1
        }
        return false
    }

    /// The offset of an earlier-written name equal (case-insensitively) to
    /// the suffix `w[from...]`, or nil. Mutating only so that the table is
    /// read in place: a non-mutating read of `compression.entries` copied
    /// its 256 bytes on every call.
    mutating func findSuffix(_ w: UnsafeRawBufferPointer, from: Int) -> Int? {
        let length = w.count &- from
        var i = 0
        while i < compression.count {
            let e = compression.entries[i]
            i &+= 1
            guard Int(e & 0xFF) == length else { continue }
            let at = Int(e >> 8)
            if writtenName(at: at, equals: w, from: from) { return at }
        }
        return nil
    }

    /// Compares the name written at `at` (following our own pointers) with
    /// `w[from...]`, ignoring ASCII case.
    func writtenName(at: Int, equals w: UnsafeRawBufferPointer, from: Int) -> Bool {
        var p = at
        var q = from
        var hops = 0
        while true {
            guard let b = out.byte(at: p), q < w.count else { return false }
            if b & 0xC0 == 0xC0 {
                guard let b2 = out.byte(at: p &+ 1), hops < NameView.maxHops else { return false }
                p = Int(b & 0x3F) << 8 | Int(b2)
                hops &+= 1
                continue
            }
            let n = Int(b)
            guard n == Int(w[q]) else { return false }
            if n == 0 { return true }
            guard q &+ n < w.count else { return false }
            for k in 1...n {
                guard let x = out.byte(at: p &+ k), asciiLower(x) == asciiLower(w[q &+ k]) else { return false }
            }
            p &+= n &+ 1
            q &+= n &+ 1
        }
    }
}
