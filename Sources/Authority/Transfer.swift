// Zone transfers out (AXFR, RFC 5936; IXFR, RFC 1995, from the zone's
// journal, else answered with a full transfer, §4) and NOTIFY (RFC 1996),
// sans-I/O: messages in, messages out.
// Off the hot path (TCP only, a few per zone change): allocation is fine.

import DNS
import Zone

/// The messages of one AXFR, IXFR or AXFR-style IXFR response, read from
/// a compiled zone (the zone's records are not kept in any other form) or,
/// for IXFR, from its journal.
///
/// Contract: the first message echoes the question; together the messages
/// carry the SOA, every other record of the zone once, and the SOA again
/// (RFC 5936 §2.2). Each message is filled until the next record would not
/// fit, so a record never spans messages. An IXFR whose client already has
/// our serial (or a newer one) gets our SOA alone (RFC 1995 §2); one whose
/// serial the journal holds a chain of differences from gets those (RFC
/// 1995 §4: SOA, then per difference the old SOA, the records removed, the
/// new SOA, the records added; then the SOA again); any other gets the
/// whole zone.
public struct ZoneTransfer {
    public let zone: CompiledZone
    let id: UInt16
    let qname: DomainName
    let qtype: RRType
    /// 0: the opening SOA; 1: the records; 2: the closing SOA; 3: done.
    private var phase = 0
    private var record = 0
    private var set = 0
    private var node = 0
    private var first = true
    /// Under a layer: the compiled nodes it shadows, and where its own
    /// records are sent from.
    private var shadowed: Set<Int>?
    private var flat: ZoneLayer?
    private var layerOwner = 0
    private var layerRecord = 0
    /// Records sent in this order instead of the zone's (IXFR from the
    /// journal); nil for a whole zone.
    private var sequence: [ResourceRecord]?

    public var isFinished: Bool { phase > 2 }
    /// True when the differences are sent, not the whole zone.
    public var isIncremental: Bool { sequence != nil }
    /// The serial the client asked an IXFR from.
    public private(set) var fromSerial: UInt32?
    /// Signs each message, when the request was signed, with Time Signed
    /// read from `clock` as each is written (a slow transfer outlives the
    /// fudge; peers check every message's time).
    private var signer: TSIGStreamSigner?
    private var clock: () -> UInt64 = { 0 }
    /// An IXFR whose client is up to date: the SOA alone.
    public private(set) var isUpToDate = false

    /// Signs every message with `signer`.
    public mutating func sign(with signer: TSIGStreamSigner?, clock: @escaping () -> UInt64) {
        self.signer = signer
        self.clock = clock
    }

    /// A transfer of `zone` for the request `query` (an AXFR or IXFR for the
    /// zone's apex), differences from `journal` where it has them; nil when
    /// the query does not parse.
    @_optimize(size) public init?(zone: CompiledZone, query: UnsafeRawBufferPointer, journal: Journal? = nil) {
        guard let q = try? Query.parse(query) else { return nil }
        self.zone = zone
        id = q.header.id
        qname = q.question.name.domainName
        qtype = q.question.type
        if qtype == .ixfr, let theirs = ZoneTransfer.clientSerial(query) {
            fromSerial = theirs
            if !ZoneTransfer.serial(zone.serial, isNewerThan: theirs) {
                phase = 2   // up to date: the SOA alone
                isUpToDate = true
            } else if let diffs = journal?.chain(from: theirs, to: zone.serial) {
                sequence = Journal.sequence(diffs, soa: zone.soaRecord)
                phase = 1
            }
        }
    }

    /// Messages carrying `records` in order (the journal's stored form),
    /// or the whole zone when nil.
    init(zone: CompiledZone, id: UInt16, qtype: RRType, records: [ResourceRecord]?) {
        self.zone = zone
        self.id = id
        qname = zone.origin
        self.qtype = qtype
        sequence = records
        if records != nil { phase = 1 }
    }

    /// RFC 1982 comparison: true when `a` is newer than `b`.
    @_optimize(size) public static func serial(_ a: UInt32, isNewerThan b: UInt32) -> Bool { serialIsNewer(a, than: b) }

    /// The serial of the SOA an IXFR request carries in its authority section.
    @_optimize(size) static func clientSerial(_ query: UnsafeRawBufferPointer) -> UInt32? {
        guard var p = try? MessageParser(query) else { return nil }
        while let entry = try? p.nextRecord() {
            if entry.section == .authority, entry.record.type == .soa,
               case .soa(let s)? = try? entry.record.rdata() { return s.serial }
        }
        return nil
    }

    /// Writes the next message into `out` (up to `capacity` bytes, at most
    /// 65535) and returns its length; 0 once the transfer is finished or if
    /// one record cannot fit in an empty message (the transfer then ends:
    /// callers close the connection).
    @_optimize(size) public mutating func nextMessage(into out: UnsafeMutableRawBufferPointer, capacity: Int = 65535) -> Int {
        guard !isFinished else { return 0 }
        var h = Header(id: id)
        h.qr = true
        h.aa = true
        let reserve = signer.map { TSIG.size(for: $0.key) } ?? 0
        do throws(DNSError) {
            var w = try MessageWriter(buffer: out, capacity: min(capacity, 65535) &- reserve, header: h)
            if first {
                try w.writeQuestion(qname, type: qtype, rrClass: .in)
                // Owner names keep the zone's case, not the question's
                // (the table matches names case-insensitively).
                w.compression.removeAll()
            }
            var wrote = 0
            while phase < 3 {
                do throws(DNSError) {
                    if try !writeNext(&w) { continue }
                } catch {
                    if case .noRoom = error, wrote > 0 { break }
                    throw error
                }
                wrote += 1
            }
            first = false
            let n = w.finish()
            guard signer != nil else { return n }
            return try signer!.sign(out, length: n, timeSigned: clock())
        } catch {
            phase = 3
            return 0
        }
    }

    /// Writes the next record, or moves on; false when nothing was written.
    @_optimize(size) private mutating func writeNext(_ w: inout MessageWriter) throws(DNSError) -> Bool {
        let z = zone
        if let seq = sequence {
            guard record < seq.count else {
                phase = 3
                return false
            }
            let r = seq[record]
            try w.writeRecord(.answer, owner: r.owner, ttl: r.ttl, rrClass: r.rrClass, rdata: r.rdata)
            record &+= 1
            return true
        }
        if phase == 0 || phase == 2 {
            try w.writeRecord(.answer, owner: z.origin, ttl: z.soaTTL, rdata: z.soa)
            phase += 1
            return true
        }
        if let layer = z.layer, shadowed == nil {
            // Owners the layer holds are sent from it, after the rest.
            let l = layer.flattened()
            flat = l
            var s = Set<Int>()
            for (name, _) in l.owners { if let n = z.index[name] { s.insert(n) } }
            shadowed = s
        }
        guard record < z.recordCount else {
            if let l = flat, layerOwner < l.index.count { return try writeLayer(l, &w) }
            phase = 2
            return false
        }
        while Int(z.setRecords[set &+ 1]) <= record { set &+= 1 }
        while Int(z.nodeSets[node &+ 1]) <= set { node &+= 1 }
        let form = z.recordForm[record]
        if form == RDataForm.soa.rawValue {
            record &+= 1
            return false
        }
        if shadowed?.contains(node) == true {
            record &+= 1
            return false
        }
        let nameAt = form == RDataForm.name.rawValue ? 0 : (form == RDataForm.prefName.rawValue ? 2 : -1)
        let rdata = z.bytes(Int(z.recordStart[record]), Int(z.recordLength[record]))
        let type = RRType(z.setType[set])
        let ttl = z.setTTL[set]
        let result = z.index.withNameWire(at: node) { (owner: UnsafeRawBufferPointer) -> Result<Void, DNSError> in
            do throws(DNSError) {
                try w.writeRecord(.answer, ownerWire: owner, type: type, ttl: ttl, rdataWire: rdata, nameAt: nameAt)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        record &+= 1
        return true
    }

    /// The next record of the zone's layer (after the compiled records).
    @_optimize(size) private mutating func writeLayer(_ l: ZoneLayer, _ w: inout MessageWriter) throws(DNSError) -> Bool {
        let e = l.index.value(at: layerOwner)
        let size = l.recordSize(e)
        let at = Int(l.entryStart[e]) &+ layerRecord &* size
        guard size > 0, at &+ size <= Int(l.entryStart[e &+ 1]) else {
            layerOwner &+= 1
            layerRecord = 0
            return false
        }
        let type = RRType(l.entryType[e])
        let ttl = l.entryTTL[e]
        let rdata = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(l.arena)[at..<(at &+ size)])
        let result = l.index.withNameWire(at: layerOwner) { (owner: UnsafeRawBufferPointer) -> Result<Void, DNSError> in
            do throws(DNSError) {
                try w.writeRecord(.answer, ownerWire: owner, type: type, ttl: ttl, rdataWire: rdata, nameAt: -1)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        layerRecord &+= 1
        return true
    }
}

/// NOTIFY (RFC 1996) messages a primary sends, and the check of the answer.
public enum Notify {
    /// A NOTIFY for `zone`: opcode NOTIFY, AA=1, the zone's SOA as the
    /// question and (as a hint, §3.7) its SOA record in the answer section.
    @_optimize(size) public static func message(id: UInt16, zone: CompiledZone) -> [UInt8] {
        var h = Header(id: id)
        h.opcode = .notify
        h.aa = true
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) -> Int in
            do throws(DNSError) {
                var w = try MessageWriter(buffer: b, header: h)
                try w.writeQuestion(zone.origin, type: .soa, rrClass: .in)
                try w.writeRecord(.answer, owner: zone.origin, ttl: zone.soaTTL, rdata: zone.soa)
                return w.finish()
            } catch {
                return 0
            }
        }
        return Array(buf[0..<n])
    }

    /// True when `reply` acknowledges the NOTIFY with `id` for `zone`:
    /// QR=1, opcode NOTIFY, the same ID and question. Any RCODE ends the
    /// retries (a secondary that refuses will not change its mind).
    @_optimize(size) public static func isReply(_ reply: UnsafeRawBufferPointer, id: UInt16, zone: DomainName) -> Bool {
        guard var p = try? MessageParser(reply), p.header.qr, p.header.opcode == .notify, p.header.id == id,
              let q = try? p.nextQuestion() else { return false }
        return q.type == .soa && q.name.domainName == zone
    }
}
