// Zone transfers out (AXFR, RFC 5936; IXFR answered with a full transfer,
// RFC 1995 §4) and NOTIFY (RFC 1996), sans-I/O: messages in, messages out.
// Off the hot path (TCP only, a few per zone change): allocation is fine.

import DNS
import Zone

/// The messages of one AXFR (or AXFR-style IXFR) response.
///
/// Contract: the first message echoes the question; together the messages
/// carry the SOA, every other record of the zone once, and the SOA again
/// (RFC 5936 §2.2). Each message is filled until the next record would not
/// fit, so a record never spans messages. An IXFR whose client already has
/// our serial (or a newer one) gets our SOA alone (RFC 1995 §2).
public struct ZoneTransfer {
    public let zone: Zone
    let id: UInt16
    let qname: DomainName
    let qtype: RRType
    let soa: ResourceRecord
    let rest: [Int]
    /// 0 = the opening SOA; 1...rest.count = rest; rest.count + 1 = the closing SOA.
    private var next = 0
    private var end: Int
    private var first = true

    public var isFinished: Bool { next > end }

    /// A transfer of `zone` for the request `query` (an AXFR or IXFR for the
    /// zone's apex). nil when the zone has no SOA (cannot happen for zones
    /// built by `Zone.parse` or `Zone.check`).
    public init?(zone: Zone, query: UnsafeRawBufferPointer) {
        guard let soaIndex = zone.records.firstIndex(where: { $0.type == .soa && $0.owner == zone.origin }),
              case .soa(let ours) = zone.records[soaIndex].rdata,
              let q = try? Query.parse(query) else { return nil }
        self.zone = zone
        id = q.header.id
        qname = q.question.name.domainName
        qtype = q.question.type
        soa = zone.records[soaIndex]
        var rest: [Int] = []
        rest.reserveCapacity(zone.records.count)
        for i in zone.records.indices where i != soaIndex { rest.append(i) }
        self.rest = rest
        end = rest.count + 1
        if qtype == .ixfr, let theirs = ZoneTransfer.clientSerial(query), !ZoneTransfer.serial(ours.serial, isNewerThan: theirs) {
            end = 0
        }
    }

    /// RFC 1982 comparison: true when `a` is newer than `b`.
    public static func serial(_ a: UInt32, isNewerThan b: UInt32) -> Bool {
        let d = a &- b
        return d != 0 && d < 0x8000_0000
    }

    /// The serial of the SOA an IXFR request carries in its authority section.
    static func clientSerial(_ query: UnsafeRawBufferPointer) -> UInt32? {
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
    public mutating func nextMessage(into out: UnsafeMutableRawBufferPointer, capacity: Int = 65535) -> Int {
        guard !isFinished else { return 0 }
        var h = Header(id: id)
        h.qr = true
        h.aa = true
        do throws(DNSError) {
            var w = try MessageWriter(buffer: out, capacity: min(capacity, 65535), header: h)
            if first {
                try w.writeQuestion(qname, type: qtype, rrClass: .in)
                // Owner names keep the zone's case, not the question's
                // (the table matches names case-insensitively).
                w.compression.removeAll()
            }
            var wrote = 0
            while next <= end {
                let r = next == 0 || next == rest.count + 1 ? soa : zone.records[rest[next - 1]]
                do throws(DNSError) {
                    try w.writeRecord(.answer, owner: r.owner, ttl: r.ttl, rrClass: r.rrClass, rdata: r.rdata)
                } catch {
                    if case .noRoom = error, wrote > 0 { break }
                    throw error
                }
                wrote += 1
                next += 1
            }
            first = false
            return w.finish()
        } catch {
            next = end + 1
            return 0
        }
    }
}

/// NOTIFY (RFC 1996) messages a primary sends, and the check of the answer.
public enum Notify {
    /// A NOTIFY for `zone`: opcode NOTIFY, AA=1, the zone's SOA as the
    /// question and (as a hint, §3.7) its SOA record in the answer section.
    public static func message(id: UInt16, zone: Zone) -> [UInt8] {
        var h = Header(id: id)
        h.opcode = .notify
        h.aa = true
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) -> Int in
            do throws(DNSError) {
                var w = try MessageWriter(buffer: b, header: h)
                try w.writeQuestion(zone.origin, type: .soa, rrClass: .in)
                for r in zone.records where r.type == .soa && r.owner == zone.origin {
                    try w.writeRecord(.answer, owner: r.owner, ttl: r.ttl, rdata: r.rdata)
                }
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
    public static func isReply(_ reply: UnsafeRawBufferPointer, id: UInt16, zone: DomainName) -> Bool {
        guard var p = try? MessageParser(reply), p.header.qr, p.header.opcode == .notify, p.header.id == id,
              let q = try? p.nextQuestion() else { return false }
        return q.type == .soa && q.name.domainName == zone
    }
}
