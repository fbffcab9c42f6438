// The answer order of dnsd (DESIGN.md), sans-I/O: local authoritative
// data → forward zones (longest suffix wins) → the default forwarders
// through the cache → REFUSED. A query either gets its response written
// at once (local data, a cache hit, a refusal) or is handed back to the
// caller to forward. The immediate paths allocate nothing.

import Authority
import DNS
import Sys

/// Forwarding settings: the upstream servers, the groups of them queries
/// are sent to (forward zones, then the default forwarders), and who may
/// use them. Immutable; rebuilt on reload.
public final class ForwardSetup {
    public struct Group {
        /// nil for the default forwarders.
        public var zone: DomainName?
        /// Indices into `servers`.
        public var servers: [Int]
        /// forward-with-fallback: answer from local data when every server fails.
        public var fallbackLocal: Bool

        public init(zone: DomainName?, servers: [Int], fallbackLocal: Bool) {
            self.zone = zone
            self.servers = servers
            self.fallbackLocal = fallbackLocal
        }
    }

    public let servers: [SocketAddress]
    public let groups: [Group]
    public let defaultGroup: Int?
    public let allow: AccessList
    public let timeoutMs: UInt64
    /// Zone groups (not the default), for the suffix match.
    let zoneGroups: [Int]

    public init(servers: [SocketAddress], groups: [Group], allow: AccessList, timeoutMs: UInt64) {
        self.servers = servers
        self.groups = groups
        self.allow = allow
        self.timeoutMs = timeoutMs
        defaultGroup = groups.firstIndex { $0.zone == nil }
        zoneGroups = groups.indices.filter { groups[$0].zone != nil }
    }

    /// The forward zone with the longest suffix of `name`, and its label count.
    @inline(__always)
    func match(_ name: NameView) -> (group: Int, labels: Int)? {
        var best: (Int, Int)? = nil
        for g in zoneGroups {
            guard let z = groups[g].zone, z.labelCount > (best?.1 ?? -1), name.isSubdomain(of: z) else { continue }
            best = (g, z.labelCount)
        }
        return best
    }
}

/// Counters and scratch space of one thread; only that thread writes them.
public final class ResolverLocal {
    public var cacheHits: UInt64 = 0
    public var cacheMisses: UInt64 = 0
    public var staleAnswers: UInt64 = 0
    public var recursionRefused: UInt64 = 0
    public var fallbackAnswers: UInt64 = 0
    public var upstreamQueries: UInt64 = 0
    public var upstreamTimeouts: UInt64 = 0
    public var upstreamFailures: UInt64 = 0
    public var upstreamTCP: UInt64 = 0
    public var coalesced: UInt64 = 0
    public var latencySumUs: UInt64 = 0
    public var latencyCount: UInt64 = 0
    /// Responses by RCODE (0…15; BADVERS counts as 15).
    public var rcodes = [UInt64](repeating: 0, count: 16)
    public let scratch: UnsafeMutableRawBufferPointer

    public init() {
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
    }

    deinit { scratch.deallocate() }

    /// Responses by question type, in the order of `ResolverLocal.typeNames` (the last: any other).
    public var qtypes = [UInt64](repeating: 0, count: ResolverLocal.typeNames.count)
    public static let typeNames = ["a", "ns", "cname", "soa", "ptr", "mx", "txt", "aaaa", "srv", "naptr", "svcb", "https", "axfr", "any", "other"]

    @inline(__always)
    static func typeSlot(_ t: UInt16) -> Int {
        switch t {
        case 1: return 0
        case 2: return 1
        case 5: return 2
        case 6: return 3
        case 12: return 4
        case 15: return 5
        case 16: return 6
        case 28: return 7
        case 33: return 8
        case 35: return 9
        case 64: return 10
        case 65: return 11
        case 252: return 12
        case 255: return 13
        default: return 14
        }
    }

    @inline(__always)
    public func count(response out: UnsafeMutableRawBufferPointer, _ n: Int) {
        guard n > 0, n <= out.count,
              let (rcode, type) = Header.rcodeAndQuestionType(UnsafeRawBufferPointer(rebasing: out[0..<n])) else { return }
        rcodes[Int(rcode & 0x0F)] &+= 1
        if let t = type { qtypes[ResolverLocal.typeSlot(t)] &+= 1 }
    }
}

/// What `Frontend.handle` decided.
public enum Decision: Equatable {
    /// The response is in the output buffer (0 bytes: send nothing).
    case reply(Int)
    /// Forward to group `g` of the `ForwardSetup`.
    case forward(Int)
    /// A NOTIFY for a secondary zone from a peer allowed to send it: the
    /// acknowledgement is in the output buffer (`Int` bytes); the caller
    /// hands the query to the refresh (`Answerer.acceptedNotify`).
    case notify(Int)
}

/// What `Frontend.handleStream` decided for a TCP query.
public enum StreamDecision {
    case answer(Decision)
    /// An AXFR/IXFR to send (admitted by `Answerer.admitTransfer`).
    case transfer(ZoneTransfer)
    /// A transfer the peer may not have: the answer (REFUSED, or NOTAUTH
    /// with the TSIG error) is in the output buffer (`length` bytes).
    case transferRefused(zone: DomainName, reason: StaticString, length: Int)
}

/// dnsd's whole answering policy over one snapshot, forwarding setup and
/// cache; shared read-only by every worker (the cache locks itself).
public final class Frontend {
    public let answerer: Answerer
    public let forwarding: ForwardSetup?
    public let cache: Cache?

    public init(answerer: Answerer, forwarding: ForwardSetup?, cache: Cache?) {
        self.answerer = answerer
        self.forwarding = forwarding
        self.cache = cache
    }

    /// Seconds on the clock the cache's TTLs count against.
    @inline(__always)
    public static func seconds(_ monotonicNanos: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: monotonicNanos / 1_000_000_000)
    }

    /// Answers `query` from local data or the cache, or says where to
    /// forward it. Hot-path safe for every `.reply`.
    public func handle(_ query: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, udp: Bool,
                       peer: SocketAddress, now: UInt32, local: ResolverLocal) -> Decision {
        if Frontend.isNotify(query) { return notify(query, into: out, udp: udp, peer: peer, local) }
        guard let fw = forwarding else { return reply(answerer.respond(to: query, into: out, udp: udp), out, local) }
        let q: Query
        do throws(DNSError) { q = try Query.parse(query) } catch {
            return reply(answerer.respond(to: query, into: out, udp: udp), out, local)
        }
        let t = q.question.type.rawValue
        // A signed query (RFC 8945) is answered here, signed, never
        // forwarded with its TSIG or answered from the cache unsigned.
        guard !q.header.qr, q.header.opcode == .query, !q.needsBadVers, q.question.rrClass == .in,
              t < 128 || t > 254 || t == 255, !q.hasTSIG
        else { return reply(answerer.respond(q, into: out, udp: udp), out, local) }
        let name = q.question.name
        let hashes = SuffixHashes(name)
        let authLabels = answerer.snapshot.enclosingZoneLabels(name, hashes: hashes)
        if let (g, labels) = fw.match(name),
           labels > authLabels || (labels == authLabels && fw.groups[g].fallbackLocal) {
            guard fw.allow.contains(peer) else { return refuse(q, into: out, udp: udp, local) }
            if fw.groups[g].fallbackLocal { return .forward(g) }
            return fromCache(q, group: g, nameHash: hashes.hash(droppingLabels: 0), into: out, udp: udp, now: now, local)
        }
        if authLabels >= 0 { return reply(answerer.respond(q, into: out, udp: udp), out, local) }
        guard let d = fw.defaultGroup else { return reply(answerer.respond(q, into: out, udp: udp), out, local) }
        guard fw.allow.contains(peer) else { return refuse(q, into: out, udp: udp, local) }
        return fromCache(q, group: d, nameHash: hashes.hash(droppingLabels: 0), into: out, udp: udp, now: now, local)
    }

    /// `handle` for a query that came over a stream (TCP): zone transfers
    /// are decided first (`Answerer.admitTransfer`), then the answer order.
    public func handleStream(_ query: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                             peer: SocketAddress, now: UInt32, local: ResolverLocal) -> StreamDecision {
        switch answerer.admitTransfer(query, peer: peer) {
        case .start(let t): return .transfer(t)
        case .refused(let zone, let reason):
            let n = answerer.respond(to: query, into: out, udp: false)
            local.count(response: out, n)
            return .transferRefused(zone: zone, reason: reason, length: n)
        case .notTransfer:
            return .answer(handle(query, into: out, udp: false, peer: peer, now: now, local: local))
        }
    }

    /// True when `query`'s header says opcode NOTIFY (callers read the
    /// peer's address only then, or when forwarding).
    @inline(__always)
    public static func isNotify(_ query: UnsafeRawBufferPointer) -> Bool {
        query.count > 2 && (query[2] >> 3) & 0xF == 4
    }

    func notify(_ query: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, udp: Bool,
                peer: SocketAddress, _ local: ResolverLocal) -> Decision {
        guard let q = try? Query.parse(query) else { return reply(answerer.respond(to: query, into: out, udp: udp), out, local) }
        let n = answerer.respond(q, into: out, udp: udp, peer: peer)
        local.count(response: out, n)
        return answerer.acceptedNotify(query, peer: peer) != nil ? .notify(n) : .reply(n)
    }

    @inline(__always)
    func reply(_ n: Int, _ out: UnsafeMutableRawBufferPointer, _ local: ResolverLocal) -> Decision {
        local.count(response: out, n)
        return .reply(n)
    }

    func refuse(_ q: Query, into out: UnsafeMutableRawBufferPointer, udp: Bool, _ local: ResolverLocal) -> Decision {
        local.recursionRefused &+= 1
        return reply(Frontend.headerResponse(q, rcode: .refused, into: out, udp: udp), out, local)
    }

    /// A cache hit, or the decision to forward (RD=1) or refuse (RD=0:
    /// dnsd does not recurse for a client that asked it not to).
    func fromCache(_ q: Query, group: Int, nameHash: UInt64, into out: UnsafeMutableRawBufferPointer, udp: Bool,
                   now: UInt32, _ local: ResolverLocal) -> Decision {
        if let n = cached(q, nameHash: nameHash, into: out, udp: udp, now: now, stale: false, local) {
            local.cacheHits &+= 1
            return reply(n, out, local)
        }
        local.cacheMisses &+= 1
        guard q.header.rd else { return refuse(q, into: out, udp: udp, local) }
        return .forward(group)
    }

    /// The response from the cache, or nil on a miss.
    func cached(_ q: Query, nameHash: UInt64? = nil, into out: UnsafeMutableRawBufferPointer, udp: Bool,
                now: UInt32, stale: Bool, _ local: ResolverLocal) -> Int? {
        guard let cache else { return nil }
        do throws(DNSError) {
            var w = try Frontend.startResponse(q, into: out, udp: udp, ra: true)
            if q.edns != nil { w.reserve(11) }
            let r = cache.answer(q.question.name, nameHash: nameHash, type: q.question.type, now: now, stale: stale,
                                 scratch: local.scratch, &w)
            let rcode: RCode
            switch r {
            case .miss: return nil
            case .hit(let c): rcode = c
            case .stale(let c):
                rcode = c
                local.staleAnswers &+= 1
            case .truncated(let c):
                rcode = c
                w.header.tc = true
            }
            w.release()
            return try Frontend.finishResponse(&w, q, rcode: rcode)
        } catch {
            return nil
        }
    }

    /// Ends a response: our OPT when the client sent one (it carries the
    /// RCODE's upper bits), else the RCODE in the header.
    @inline(__always)
    static func finishResponse(_ w: inout MessageWriter, _ q: Query, rcode: RCode) throws(DNSError) -> Int {
        if q.edns != nil {
            try w.writeOPT(payloadSize: Answerer.payloadSize, rcode: rcode, dnssecOK: false)
        } else {
            w.header.rcode = rcode.headerBits
        }
        return w.finish()
    }

    /// A writer holding the response header (the query's ID, RD and CD;
    /// RA as given) and the question, capped at the client's UDP size.
    @inline(__always)
    static func startResponse(_ q: Query, into out: UnsafeMutableRawBufferPointer, udp: Bool,
                              ra: Bool) throws(DNSError) -> MessageWriter {
        var h = Header(id: q.header.id)
        h.qr = true
        h.rd = q.header.rd
        h.ra = ra
        h.cd = q.header.cd
        var w = try MessageWriter(buffer: out, capacity: udp ? q.maxUDPResponse : 65535, header: h)
        try w.writeQuestion(q.question)
        return w
    }

    /// A response with the question and no records (REFUSED, SERVFAIL).
    public static func headerResponse(_ q: Query, rcode: RCode, into out: UnsafeMutableRawBufferPointer,
                                      udp: Bool, ra: Bool = true) -> Int {
        do throws(DNSError) {
            var w = try startResponse(q, into: out, udp: udp, ra: ra)
            return try finishResponse(&w, q, rcode: rcode)
        } catch {
            return 0
        }
    }

    // MARK: after forwarding (not the hot path)

    /// The response to `query` built from an upstream `reply`, passed
    /// through as is (sections, AA, RCODE) except: the client's ID, RD, CD
    /// and question case, RA set, AD cleared, the upstream's OPT removed
    /// for a client without EDNS, and TC with no records when it does not
    /// fit the client's UDP payload size. 0 when `query` is unusable.
    public func relay(_ reply: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer,
                      into out: UnsafeMutableRawBufferPointer, udp: Bool) -> Int {
        let q: Query
        do throws(DNSError) { q = try Query.parse(query) } catch { return 0 }
        guard reply.count >= Header.size, reply.count <= out.count, let dst = out.baseAddress, let src = reply.baseAddress
        else { return Frontend.headerResponse(q, rcode: .servFail, into: out, udp: udp) }
        dst.copyMemory(from: src, byteCount: reply.count)
        var n = reply.count
        Header.patch(out, length: n) { h in
            h.id = q.header.id
            h.rd = q.header.rd
            h.cd = q.header.cd
            h.ra = true
            h.ad = false
        }
        // The client's question case (the reply's question is uncompressed at 12).
        let nameLen = q.question.name.wireLength
        if n >= Header.size + nameLen {
            _ = q.question.name.copyWire(into: UnsafeMutableRawBufferPointer(rebasing: out[Header.size..<(Header.size + nameLen)]))
        }
        do throws(DNSError) {
            if let opt = try TrailingOPT.find(in: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<n])) {
                if q.edns == nil {
                    n = opt.remove(from: out, length: n)
                } else {
                    // Our payload size, not the upstream's.
                    opt.setPayloadSize(Answerer.payloadSize, in: out)
                }
            }
        } catch {
            return Frontend.headerResponse(q, rcode: .servFail, into: out, udp: udp)
        }
        let limit = udp ? q.maxUDPResponse : 65535
        if n > limit, let h = Header.peek(UnsafeRawBufferPointer(out)) {
            // Too big for the client: TC=1, the client retries over TCP.
            let len = Frontend.headerResponse(q, rcode: RCode(UInt16(h.rcode)), into: out, udp: udp)
            Header.patch(out, length: len) { t in
                t.tc = true
                t.aa = h.aa
            }
            return len
        }
        return n
    }

    /// The response from expired cache entries (serve-stale), or nil.
    public func stale(_ query: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, udp: Bool,
                      now: UInt32, local: ResolverLocal) -> Int? {
        guard let cache, cache.staleWindow > 0 else { return nil }
        let q: Query
        do throws(DNSError) { q = try Query.parse(query) } catch { return nil }
        return cached(q, into: out, udp: udp, now: now, stale: true, local)
    }

    /// The local data's answer with AA=0 (forward-with-fallback).
    public func localFallback(_ query: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                              udp: Bool) -> Int {
        let n = answerer.respond(to: query, into: out, udp: udp)
        Header.patch(out, length: n) { h in
            h.aa = false
            h.ra = true
        }
        return n
    }

    /// SERVFAIL for `query`.
    public func servfail(_ query: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, udp: Bool) -> Int {
        let q: Query
        do throws(DNSError) { q = try Query.parse(query) } catch { return 0 }
        return Frontend.headerResponse(q, rcode: .servFail, into: out, udp: udp)
    }
}
