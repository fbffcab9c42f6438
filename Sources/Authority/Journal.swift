// The journal of a zone's differences, for IXFR out (RFC 1995), sans-I/O:
// the daemon keeps it in the store and hands it to each new snapshot.
// Differences are condensed (RFC 1995 §5: no record both removed and
// added within one) because each is computed from two whole versions, not
// logged edit by edit; serials compare as RFC 1982 says. Off the hot path
// (once per zone change, and per IXFR request): allocation is fine.

import DNS
import Zone

/// A zone's differences, oldest first: each starts at the serial the one
/// before ends at. Immutable; a change makes a new one.
public final class Journal {
    public let diffs: [ZoneDiff]
    /// Bytes each difference takes in its stored form.
    public let sizes: [Int]

    public init(diffs: [ZoneDiff] = [], sizes: [Int] = []) {
        self.diffs = diffs
        self.sizes = sizes.count == diffs.count ? sizes : diffs.map { _ in 0 }
    }

    public var isEmpty: Bool { diffs.isEmpty }
    public var totalSize: Int { sizes.reduce(0, +) }
    /// The serial the newest difference ends at.
    public var lastSerial: UInt32? { diffs.last?.toSerial }

    /// The differences from `serial` up to `to`, nil when the journal does
    /// not hold that whole chain.
    @_optimize(size) public func chain(from serial: UInt32, to last: UInt32) -> ArraySlice<ZoneDiff>? {
        guard lastSerial == last, let i = diffs.firstIndex(where: { $0.fromSerial == serial }) else { return nil }
        return diffs[i...]
    }

    /// This journal with `diff` appended (it must start where this one
    /// ends), then trimmed from the oldest end to at most `maxDepth`
    /// differences and `maxBytes` bytes; also how many of this journal's
    /// differences were dropped. A difference bigger than `maxBytes` on
    /// its own leaves the journal empty.
    @_optimize(size) public func appending(_ diff: ZoneDiff, size: Int, maxDepth: Int, maxBytes: Int) -> (journal: Journal, dropped: Int) {
        let d = diffs + [diff], s = sizes + [size]
        var total = s.reduce(0, +)
        var drop = 0
        while drop < d.count && (d.count - drop > maxDepth || total > maxBytes) {
            total -= s[drop]
            drop += 1
        }
        return (Journal(diffs: Array(d[drop...]), sizes: Array(s[drop...])), min(drop, diffs.count))
    }

    /// The records of an IXFR answer carrying `diffs`, whose newest SOA is
    /// `soa` (RFC 1995 §4).
    public static func sequence<C: Collection>(_ diffs: C, soa: ResourceRecord) -> [ResourceRecord] where C.Element == ZoneDiff {
        var out: [ResourceRecord] = [soa]
        for d in diffs {
            out.append(d.fromSOARecord)
            out += d.removed
            out.append(d.toSOA)
            out += d.added
        }
        out.append(soa)
        return out
    }
}

extension ZoneDiff {
    public var toSerial: UInt32 {
        if case .soa(let s) = toSOA.rdata { return s.serial }
        return 0
    }

    /// The old SOA: as received, or the new one with the old serial.
    public var fromSOARecord: ResourceRecord {
        if let f = fromSOA { return f }
        var r = toSOA
        if case .soa(var s) = r.rdata {
            s.serial = fromSerial
            r.rdata = .soa(s)
        }
        return r
    }

    /// The condensed difference from `old` to `new` (whole zones, SOA
    /// included); nil when either lacks its SOA. A record whose TTL
    /// changed is removed and added again (an IXFR carries whole records).
    @_optimize(size) public static func between(old: [ResourceRecord], new: [ResourceRecord]) -> ZoneDiff? {
        guard let from = old.first(where: { $0.type == .soa }), let to = new.first(where: { $0.type == .soa }),
              case .soa(let fs) = from.rdata else { return nil }
        var held: [String: Int] = [:]
        held.reserveCapacity(old.count)
        for r in old where r.type != .soa { held[ZoneDiff.key(r), default: 0] += 1 }
        var added: [ResourceRecord] = []
        for r in new where r.type != .soa {
            let k = ZoneDiff.key(r)
            if let n = held[k] {
                if n > 1 { held[k] = n - 1 } else { held[k] = nil }
            } else {
                added.append(r)
            }
        }
        var removed: [ResourceRecord] = []
        for r in old where r.type != .soa {
            let k = ZoneDiff.key(r)
            if let n = held[k] {
                removed.append(r)
                if n > 1 { held[k] = n - 1 } else { held[k] = nil }
            }
        }
        var d = ZoneDiff(fromSerial: fs.serial, toSOA: to, removed: removed, added: added)
        d.fromSOA = from
        return d
    }

    /// Records are the same when owner (case aside: RFC 4343, ASCII
    /// only), TTL, class, type and RDATA are: the record's text with its
    /// owner (up to the first space; a space in a label is escaped)
    /// lowercased.
    @inline(never) static func key(_ r: ResourceRecord) -> String {
        var b = Array(r.description.utf8)
        var i = 0
        while i < b.count && b[i] != 0x20 {
            if b[i] >= 0x41 && b[i] <= 0x5A { b[i] |= 0x20 }
            i &+= 1
        }
        return String(decoding: b, as: UTF8.self)
    }

    /// The stored form: the IXFR response stream (2-byte length before each
    /// message, RFC 1035 §4.2.2) that carries this difference alone, so
    /// reading it back is the transfer reader's job, with its checks.
    @_optimize(size) public func encoded(zone: CompiledZone) -> [UInt8] {
        var t = ZoneTransfer(zone: zone, id: 0, qtype: .ixfr, records: Journal.sequence(CollectionOfOne(self), soa: toSOA))
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65535)
        while !t.isFinished {
            let n = buf.withUnsafeMutableBytes { t.nextMessage(into: $0) }
            guard n > 0 else { break }
            out.append(UInt8(n >> 8))
            out.append(UInt8(n & 0xFF))
            out += buf[0..<n]
        }
        return out
    }

    /// A difference of `zone` read back from its stored form; nil when it
    /// is not one whole difference.
    @_optimize(size) public static func decode(_ bytes: [UInt8], zone: DomainName, fromSerial: UInt32) -> ZoneDiff? {
        var reader = XfrReader(zone: zone, id: 0, ixfrFrom: fromSerial)
        var at = 0
        while at + 2 <= bytes.count {
            let n = Int(bytes[at]) << 8 | Int(bytes[at + 1])
            guard at + 2 + n <= bytes.count else { return nil }
            let step = bytes.withUnsafeBytes { reader.consume(UnsafeRawBufferPointer(rebasing: $0[(at + 2)..<(at + 2 + n)])) }
            at += 2 + n
            switch step {
            case .more: continue
            case .failed: return nil
            case .done(let o):
                guard at == bytes.count, case .incremental(let d) = o, d.count == 1 else { return nil }
                return d[0]
            }
        }
        return nil
    }
}

extension CompiledZone {
    /// The apex SOA as a record.
    public var soaRecord: ResourceRecord { ResourceRecord(owner: origin, ttl: soaTTL, rdata: soa) }

    /// Every record of the zone, SOA first: what an AXFR of it carries,
    /// read back by the transfer reader (one path for both directions).
    @_optimize(size) public func records() -> [ResourceRecord] {
        var t = ZoneTransfer(zone: self, id: 0, qtype: .axfr, records: nil)
        var reader = XfrReader(zone: origin, id: 0, ixfrFrom: nil, maxRecords: Int.max)
        var buf = [UInt8](repeating: 0, count: 65535)
        while !t.isFinished {
            let n = buf.withUnsafeMutableBytes { t.nextMessage(into: $0) }
            guard n > 0 else { break }
            let step = buf.withUnsafeBytes { reader.consume(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if case .done(.full(let rs)) = step { return rs }
            if case .failed = step { break }
        }
        return []
    }
}
