// Zone transfers in: dnsd as a secondary (RFC 1034 §4.3.5, RFC 1995, RFC
// 1996, RFC 5936), sans-I/O. `XfrRequest` builds the AXFR/IXFR query,
// `XfrReader` reads the response stream message by message and says what it
// holds (a whole zone, differences, or "up to date"), and `RefreshTimers`
// is the SOA refresh/retry/expire clock. The daemon owns the sockets.
// Off the hot path (a few transfers per zone change): allocation is fine.

import DNS
import Zone

/// Serial number arithmetic (RFC 1982 §3.2): true when `a` is newer than `b`.
@_optimize(size) public func serialIsNewer(_ a: UInt32, than b: UInt32) -> Bool {
    let d = a &- b
    return d != 0 && d < 0x8000_0000
}

/// The query a secondary sends its primary.
public enum XfrRequest {
    /// An AXFR for `zone`, or an IXFR (RFC 1995 §3) carrying `serial` (the
    /// version we hold) in the authority section.
    @_optimize(size) public static func make(id: UInt16, zone: DomainName, ixfrFrom serial: UInt32?) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 600)
        let n = buf.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) -> Int in
            do throws(DNSError) {
                var w = try MessageWriter(buffer: b, header: Header(id: id))
                try w.writeQuestion(zone, type: serial == nil ? .axfr : .ixfr, rrClass: .in)
                if let serial {
                    // Only the serial matters to the primary (RFC 1995 §3).
                    let soa = SOA(mname: .root, rname: .root, serial: serial, refresh: 0, retry: 0, expire: 0, minimum: 0)
                    try w.writeRecord(.authority, owner: zone, ttl: 0, rdata: .soa(soa))
                }
                return w.finish()
            } catch {
                return 0
            }
        }
        return Array(buf[0..<n])
    }
}

/// One change between two versions of a zone (an IXFR "difference
/// sequence", RFC 1995 §4).
public struct ZoneDiff: Equatable {
    public var fromSerial: UInt32
    public var toSOA: ResourceRecord
    public var removed: [ResourceRecord]
    public var added: [ResourceRecord]
    /// The old SOA record, where known (an IXFR carries it).
    public var fromSOA: ResourceRecord?

    public init(fromSerial: UInt32, toSOA: ResourceRecord, removed: [ResourceRecord] = [], added: [ResourceRecord] = [],
                fromSOA: ResourceRecord? = nil) {
        self.fromSerial = fromSerial
        self.toSOA = toSOA
        self.removed = removed
        self.added = added
        self.fromSOA = fromSOA
    }
}

/// Reads a transfer response, one message at a time.
///
/// Contract: every message must answer our query (same ID, QR=1, opcode
/// QUERY, NOERROR, the question echoed when present); every record must be
/// class IN and inside the zone; the stream must end with the closing SOA
/// (RFC 5936 §2.2, RFC 1995 §4). Anything else fails the whole transfer
/// with a reason, and nothing of it is applied. Limits: `maxRecords`.
public struct XfrReader {
    public enum Outcome: Equatable {
        /// The primary has nothing newer than `serial` (an IXFR answered by
        /// its SOA alone).
        case upToDate(serial: UInt32)
        /// A whole zone (AXFR, or an AXFR-style IXFR): SOA first.
        case full([ResourceRecord])
        /// Differences to apply in order, oldest first.
        case incremental([ZoneDiff])
    }

    public enum Step: Equatable {
        case more
        case done(Outcome)
        case failed(String)
    }

    enum Phase {
        case start          // nothing read yet
        case afterFirstSOA  // one SOA read: the next record tells the kind
        case full           // AXFR: records until the closing SOA
        case removing       // IXFR: deletions of the current difference
        case adding         // IXFR: additions of the current difference
    }

    public let zone: DomainName
    let id: UInt16
    let askedSerial: UInt32?
    public let maxRecords: Int
    private var phase = Phase.start
    private var first: ResourceRecord?
    private var records: [ResourceRecord] = []
    private var diffs: [ZoneDiff] = []
    private var current: ZoneDiff?
    private var count = 0
    public private(set) var messages = 0
    private var finished = false

    public init(zone: DomainName, id: UInt16, ixfrFrom serial: UInt32?, maxRecords: Int = 4_000_000) {
        self.zone = zone
        self.id = id
        askedSerial = serial
        self.maxRecords = maxRecords
    }

    var newSerial: UInt32 {
        if case .soa(let s)? = first?.rdata { return s.serial }
        return 0
    }

    /// Reads the next message of the response.
    @_optimize(size) public mutating func consume(_ message: UnsafeRawBufferPointer) -> Step {
        guard !finished else { return .failed("data after the end of the transfer") }
        messages &+= 1
        var p: MessageParser
        do throws(DNSError) { p = try MessageParser(message) } catch { return .failed("bad message: \(error)") }
        let h = p.header
        guard h.id == id, h.qr, h.opcode == .query else { return .failed("a message that does not answer our query") }
        if h.rcode != 0 {
            return .failed("the primary answered \(RCode(header: h.rcode, extended: 0))")
        }
        do throws(DNSError) {
            while let q = try p.nextQuestion() {
                guard q.name.domainName == zone, q.type == .axfr || q.type == .ixfr else {
                    return .failed("the answer is for another question (\(q.name.domainName) \(q.type))")
                }
            }
            var answered = 0
            while let entry = try p.nextRecord() {
                guard entry.section == .answer else { continue }   // TSIG/OPT are the caller's
                answered &+= 1
                let rr = try entry.record.record()
                if let step = take(rr) { return step }
            }
            try p.checkNoTrailingData()
            // An IXFR answered with our own (or an older) SOA alone.
            if phase == .afterFirstSOA, messages == 1, answered == 1, let mine = askedSerial,
               !serialIsNewer(newSerial, than: mine) {
                finished = true
                return .done(.upToDate(serial: newSerial))
            }
        } catch {
            return .failed("bad message: \(error)")
        }
        return .more
    }

    /// One record of the answer sections; a step when the transfer ended
    /// or failed.
    @_optimize(size) private mutating func take(_ received: ResourceRecord) -> Step? {
        count &+= 1
        guard count <= maxRecords else { return .failed("more than \(maxRecords) records") }
        var rr = received
        guard rr.rrClass == .in else { return .failed("a record of class \(rr.rrClass): \(rr)") }
        // OPT and the QTYPE-only types (RFC 6895 §3.1) are not zone data:
        // the zone parser would refuse them in the stored copy.
        guard !rr.type.isMetaType else { return .failed("a record of meta type \(rr.type) in the transfer") }
        // A TTL with the top bit set is read as 0 (RFC 2181 §8), as the
        // zone file keeps it.
        if rr.ttl > 0x7FFF_FFFF { rr.ttl = 0 }
        guard rr.owner.isSubdomain(of: zone) else { return .failed("a record outside the zone: \(rr)") }
        var serial: UInt32? = nil
        if case .soa(let s) = rr.rdata {
            guard rr.owner == zone else { return .failed("an SOA not at the apex: \(rr)") }
            serial = s.serial
        }
        switch phase {
        case .start:
            guard serial != nil else { return .failed("the transfer does not start with the zone's SOA") }
            first = rr
            phase = .afterFirstSOA
        case .afterFirstSOA:
            if let s = serial, askedSerial != nil, s != newSerial || s == askedSerial {
                // IXFR: the old SOA of the first difference.
                current = ZoneDiff(fromSerial: s, toSOA: rr, fromSOA: rr)
                phase = .removing
            } else if serial != nil {
                // SOA, SOA: an empty zone.
                return finish(.full([first!]))
            } else {
                records = [first!, rr]
                phase = .full
            }
        case .full:
            if serial != nil {
                guard serial == newSerial else { return .failed("a second SOA with another serial inside an AXFR") }
                return finish(.full(records))
            }
            records.append(rr)
        case .removing:
            if serial != nil {
                current!.toSOA = rr
                phase = .adding
            } else {
                current!.removed.append(rr)
            }
        case .adding:
            if let s = serial {
                let done = current!
                if let last = diffs.last, case .soa(let ls) = last.toSOA.rdata, ls.serial != done.fromSerial {
                    return .failed("differences do not chain (\(ls.serial) then \(done.fromSerial))")
                }
                if diffs.isEmpty, let mine = askedSerial, done.fromSerial != mine {
                    return .failed("the first difference starts at \(done.fromSerial), we hold \(mine)")
                }
                diffs.append(done)
                if s == newSerial, case .soa(let ts) = done.toSOA.rdata, ts.serial == newSerial {
                    return finish(.incremental(diffs))
                }
                current = ZoneDiff(fromSerial: s, toSOA: rr, fromSOA: rr)
                phase = .removing
            } else {
                current!.added.append(rr)
            }
        }
        return nil
    }

    private mutating func finish(_ o: Outcome) -> Step {
        finished = true
        return .done(o)
    }

    /// Applies `diffs` to `records` (a whole zone, SOA included): each
    /// removal must match a record held (RFC 1995 §4 leaves a mismatch to
    /// us: we refuse and fall back to AXFR); the SOA is replaced.
    @_optimize(size) public static func apply(_ diffs: [ZoneDiff], to records: [ResourceRecord]) -> Result<[ResourceRecord], XfrError> {
        var out = records
        for d in diffs {
            for r in d.removed where r.type != .soa {
                guard let i = out.firstIndex(where: { $0.owner == r.owner && $0.rdata == r.rdata }) else {
                    return .failure(XfrError(message: "a difference removes a record we do not hold: \(r)"))
                }
                out.remove(at: i)
            }
            out.removeAll { $0.type == .soa }
            out.insert(d.toSOA, at: 0)
            for r in d.added where r.type != .soa {
                if !out.contains(where: { $0.owner == r.owner && $0.rdata == r.rdata }) { out.append(r) }
            }
        }
        return .success(out)
    }
}

public struct XfrError: Error, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
}

/// The SOA clock of a secondary zone (RFC 1034 §4.3.5, RFC 1996): when to
/// check the primary next, and when the data we hold stops being served.
/// Times in seconds of a monotonic-enough clock (the store keeps wall time
/// across restarts, so callers pass wall seconds).
public struct RefreshTimers: Equatable {
    /// The shortest refresh and retry intervals obeyed (as Knot's
    /// refresh-min-interval): a zone with refresh 0 does not hammer its
    /// primary.
    public static let minimumInterval: UInt64 = 2
    /// And the longest (a day, as Knot's default refresh-max-interval).
    public static let maximumInterval: UInt64 = 86_400

    public var refresh: UInt64 = 60
    public var retry: UInt64 = 10
    public var expire: UInt64 = 0
    /// When the next check is due.
    public var nextCheck: UInt64 = 0
    /// When the data expires (nil: nothing loaded).
    public var expiresAt: UInt64?
    /// Failed checks in a row (retry backs off from `retry` up to `refresh`).
    public var failures = 0

    public init() {}

    static func clamp(_ v: UInt32) -> UInt64 {
        min(max(UInt64(v), minimumInterval), maximumInterval)
    }

    /// The primary answered (a transfer, or "up to date"): the zone's SOA
    /// timers restart from `now`.
    public mutating func succeeded(soa: SOA, now: UInt64) {
        refresh = RefreshTimers.clamp(soa.refresh)
        retry = RefreshTimers.clamp(soa.retry)
        expire = max(UInt64(soa.expire), refresh)
        nextCheck = now &+ refresh
        expiresAt = now &+ expire
        failures = 0
    }

    /// No primary answered: try again after `retry` (doubling while it keeps
    /// failing, up to `refresh`); the expiry clock keeps running.
    public mutating func failed(now: UInt64) {
        var wait = retry
        var k = 0
        while k < failures && wait < refresh { wait = min(wait &* 2, refresh); k &+= 1 }
        nextCheck = now &+ max(wait, RefreshTimers.minimumInterval)
        failures &+= 1
    }

    /// A NOTIFY (or an operator) asks for a check now.
    public mutating func checkNow(_ now: UInt64) { nextCheck = now }

    public func isExpired(_ now: UInt64) -> Bool {
        guard let e = expiresAt else { return true }
        return now >= e
    }
}
