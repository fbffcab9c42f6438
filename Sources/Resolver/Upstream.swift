// Talking to upstream servers, sans-I/O: the query dnsd sends, the checks
// a reply must pass, what of a reply goes into the cache, and which server
// to ask next (smoothed RTT, back-off for dead servers). Off the hot path:
// these run once per cache miss and may allocate.

import Core
import DNS
import Sys

/// A query sent upstream: RD=1, one question, EDNS with a 1232-byte payload
/// (DNS flag day 2020) and DO clear (dnsd does not validate DNSSEC).
public enum UpstreamQuery {
    public static let payloadSize: UInt16 = 1232

    /// The query for `question` (uncompressed wire form name).
    @_optimize(size) public static func make(id: UInt16, nameWire: [UInt8], type: RRType, rrClass: RRClass) -> [UInt8] {
        var m: [UInt8] = []
        m.reserveCapacity(12 + nameWire.count + 4 + 11)
        m.append(UInt8(id >> 8)); m.append(UInt8(id & 0xFF))
        m.append(0x01); m.append(0x00)          // RD
        m.append(0); m.append(1)                // QDCOUNT
        m.append(0); m.append(0)
        m.append(0); m.append(0)
        m.append(0); m.append(1)                // ARCOUNT: OPT
        m.append(contentsOf: nameWire)
        m.append(UInt8(type.rawValue >> 8)); m.append(UInt8(type.rawValue & 0xFF))
        m.append(UInt8(rrClass.rawValue >> 8)); m.append(UInt8(rrClass.rawValue & 0xFF))
        m.append(0)                             // OPT owner: root
        m.append(0); m.append(41)
        m.append(UInt8(payloadSize >> 8)); m.append(UInt8(payloadSize & 0xFF))
        m.append(contentsOf: [0, 0, 0, 0, 0, 0] as [UInt8])
        return m
    }

    /// True when `reply` answers the query `id` for the question: QR set,
    /// opcode QUERY, one question equal (case-insensitively) to ours.
    @_optimize(size) public static func matches(_ reply: UnsafeRawBufferPointer, id: UInt16, nameWire: [UInt8], type: RRType,
                               rrClass: RRClass) -> Bool {
        do throws(DNSError) {
            var p = try MessageParser(reply)
            let h = p.header
            guard h.qr, h.id == id, h.opcode == .query, h.qdCount == 1, let q = try p.nextQuestion() else { return false }
            guard q.type == type, q.rrClass == rrClass else { return false }
            return q.name.equals(try DomainName(wire: nameWire))
        } catch {
            return false
        }
    }
}

/// An RRset copied out of a reply: owner as received, RDATA uncompressed.
public struct CopiedRRset {
    public var owner: [UInt8]
    public var type: RRType
    public var ttl: UInt32
    public var rdatas: [[UInt8]]
}

/// What of an upstream reply the cache keeps (RFC 2181 §5, RFC 2308):
/// the answer chain from the question name (CNAMEs, then the RRset asked
/// for), or, at the chain's end, a negative answer with its SOA.
public struct CacheableReply {
    public var rcode: RCode = .noError
    public var chain: [CopiedRRset] = []
    /// Set for NXDOMAIN/NODATA: the name the negative answer is about.
    public var negativeOwner: [UInt8]?
    public var negativeIsNXDomain = false
    public var soaOwner: [UInt8] = []
    public var soa: [UInt8] = []
    public var negativeTTL: UInt32 = 0

    /// Types whose RDATA may hold compressed names this library does not
    /// decode (RFC 3597 §4 lists them): not cached.
    @_optimize(size) static func hasUndecodedNames(_ t: RRType) -> Bool {
        switch t.rawValue {
        case 3, 4, 7, 8, 9, 14, 17, 18, 21, 26, 35, 36, 39: return true
        default: return false
        }
    }

    /// Copies the RDATA of `rr` uncompressed.
    @_optimize(size) static func rdata(_ rr: RecordView) throws(DNSError) -> [UInt8] {
        switch rr.type {
        case .ns, .cname, .ptr, .mx, .soa, .srv: return try rr.rdata().wireBytes
        default: return Array(rr.rdataBytes)
        }
    }

    /// The cacheable part of `reply` to (`name`, `type`, IN), or nil when
    /// nothing in it may be cached (other rcodes, TC, ANY, odd types).
    @_optimize(size) public static func extract(_ reply: UnsafeRawBufferPointer, name: [UInt8], type: RRType) -> CacheableReply? {
        guard type != RRType(255), !hasUndecodedNames(type) else { return nil }
        do throws(DNSError) {
            var p = try MessageParser(reply)
            let h = p.header
            guard !h.tc else { return nil }
            var out = CacheableReply()
            out.questionType = type
            var ext: UInt8 = 0
            // Records by section, owners kept as views into `reply`.
            var answers: [RecordView] = []
            var soaRecord: RecordView? = nil
            while let (section, rr) = try p.nextRecord() {
                if rr.type == .opt { ext = UInt8(truncatingIfNeeded: rr.ttl >> 24); continue }
                guard rr.rrClass == .in else { continue }
                if section == .answer { answers.append(rr) }
                if section == .authority, rr.type == .soa, soaRecord == nil { soaRecord = rr }
            }
            out.rcode = RCode(header: h.rcode, extended: ext)
            guard out.rcode == .noError || out.rcode == .nxDomain else { return nil }
            var cur = name
            var curName = try DomainName(wire: name)
            var hops = 0
            var final = false
            while hops < 8 {
                var set = CopiedRRset(owner: [], type: type, ttl: UInt32.max, rdatas: [])
                var cname: CopiedRRset? = nil
                for rr in answers where rr.owner.equals(curName) {
                    if rr.type == type {
                        if set.owner.isEmpty { set.owner = rr.owner.domainName.wire }
                        set.ttl = min(set.ttl, rr.ttl)
                        let d = try rdata(rr)
                        if !set.rdatas.contains(d) { set.rdatas.append(d) }
                    } else if rr.type == .cname, cname == nil {
                        cname = CopiedRRset(owner: rr.owner.domainName.wire, type: .cname, ttl: rr.ttl,
                                            rdatas: [try rdata(rr)])
                    }
                }
                if !set.rdatas.isEmpty {
                    out.chain.append(set)
                    final = true
                    break
                }
                guard let c = cname, type != .cname else { break }
                out.chain.append(c)
                cur = c.rdatas[0]
                curName = try DomainName(wire: cur)
                hops += 1
            }
            if !final {
                guard hops < 8 else { return out }
                // A negative answer at the end of the chain, if the SOA came with it.
                if let s = soaRecord, case .soa(let soa) = try s.rdata() {
                    out.negativeOwner = cur
                    out.negativeIsNXDomain = out.rcode == .nxDomain
                    out.soaOwner = s.owner.domainName.wire
                    out.soa = try rdata(s)
                    out.negativeTTL = min(s.ttl, soa.minimum)
                }
            }
            return out
        } catch {
            return nil
        }
    }

    /// Puts the reply into `cache`.
    @_optimize(size) public func store(in cache: Cache, now: UInt32) {
        for s in chain { cache.store(owner: s.owner, type: s.type, ttl: s.ttl, rdatas: s.rdatas, now: now) }
        if let owner = negativeOwner {
            cache.storeNegative(owner: owner, type: negativeIsNXDomain ? nil : chainType, soaOwner: soaOwner, soa: soa,
                                ttl: negativeTTL, now: now)
        }
    }

    /// The type a NODATA answer is for (the question's type).
    var chainType: RRType { questionType }
    var questionType: RRType = RRType(0)
}

/// The upstream servers one forwarder knows, with what it measured of them:
/// smoothed RTT (as TCP's, RFC 6298: 7/8 old + 1/8 new), consecutive
/// failures, and until when a failed server is left alone. A server that
/// failed twice in a row (or refused the connection) is down for 1 s,
/// doubling per further failure up to `maxBackoff`; when that passes, one
/// query probes it and the others keep going to live servers.
public final class UpstreamServers {
    public struct State {
        public var srttMs: Double = 0
        public var measured = false
        public var failures = 0
        public var downUntil: UInt64 = 0
        public var queries: UInt64 = 0
        public var errors: UInt64 = 0
    }

    public static let maxBackoffMs: UInt64 = 8_000
    public let addresses: [SocketAddress]
    public private(set) var states: [State]

    @_optimize(size) public init(_ addresses: [SocketAddress]) {
        self.addresses = addresses
        states = [State](repeating: State(), count: addresses.count)
    }

    @_optimize(size) public func index(of a: SocketAddress) -> Int? { addresses.firstIndex(of: a) }

    /// The next server of `group` to ask: not yet tried for this query
    /// (`tried` bit i = server i), live or due for a probe, fastest first
    /// (unmeasured servers count as fast, so each gets measured). nil when
    /// every server was tried or is down.
    @_optimize(size) public func pick(_ group: [Int], tried: UInt64, now: UInt64) -> Int? {
        var best = -1
        var bestRTT = Double.infinity
        for i in group where i < 64 && tried & (1 << UInt64(i)) == 0 {
            let s = states[i]
            guard s.downUntil <= now else { continue }
            let rtt = s.measured ? s.srttMs : 0
            if rtt < bestRTT {
                bestRTT = rtt
                best = i
            }
        }
        guard best >= 0 else { return nil }
        if states[best].failures >= 2 {
            // A probe: hold the others off until it answers or fails.
            states[best].downUntil = now &+ backoff(states[best].failures) * 1_000_000
        }
        states[best].queries &+= 1
        return best
    }

    /// Down 1 s after the second failure in a row, doubling per further one.
    static let downTime = Backoff(initialMs: 1000, maxMs: maxBackoffMs)

    @_optimize(size) func backoff(_ failures: Int) -> UInt64 {
        UpstreamServers.downTime.delay(afterFailures: max(failures - 1, 1))
    }

    /// An answer arrived after `rttNs`.
    @_optimize(size) public func success(_ i: Int, rttNs: UInt64) {
        let ms = Double(rttNs) / 1_000_000
        if states[i].measured {
            states[i].srttMs = states[i].srttMs * 0.875 + ms * 0.125
        } else {
            states[i].srttMs = ms
            states[i].measured = true
        }
        states[i].failures = 0
        states[i].downUntil = 0
    }

    /// A timeout (or, with `hard`, a refused connection: down at once).
    @_optimize(size) public func failure(_ i: Int, now: UInt64, hard: Bool) {
        states[i].errors &+= 1
        states[i].failures = hard ? max(states[i].failures + 1, 2) : states[i].failures + 1
        // A slow server sorts behind the others.
        states[i].srttMs = max(states[i].srttMs, 1) * 2
        states[i].measured = true
        if states[i].failures >= 2 {
            states[i].downUntil = now &+ backoff(states[i].failures) * 1_000_000
        }
    }
}
