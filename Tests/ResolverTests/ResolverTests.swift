// The forwarder's sans-I/O parts: cache, answer order, relaying upstream
// replies, what is cached of a reply, upstream selection. Responses are
// checked by decoding them.

import AllocCounter
import Authority
import DNS
@testable import Resolver
import Sys
import Testing
import Zone

func name(_ s: String) -> DomainName { try! DomainName(s) }

func query(_ n: String, _ type: RRType, id: UInt16 = 0x4242, rd: Bool = true, edns: Bool = false) -> [UInt8] {
    var h = Header(id: id)
    h.rd = rd
    return try! Message(header: h, questions: [Question(name: name(n), type: type, rrClass: .in)],
                        edns: edns ? EDNS() : nil).encode()
}

/// An upstream reply to `q` with these sections.
func reply(to q: [UInt8], rcode: UInt8 = 0, aa: Bool = true, tc: Bool = false, answers: [ResourceRecord] = [],
           authority: [ResourceRecord] = [], edns: Bool = true) -> [UInt8] {
    let m = try! Message(bytes: q)
    var h = m.header
    h.qr = true
    h.aa = aa
    h.tc = tc
    h.rcode = rcode
    return try! Message(header: h, questions: m.questions, answers: answers, authority: authority,
                        edns: edns ? EDNS() : nil).encode()
}

let soa = ResourceRecord(owner: name("up.test."), ttl: 3600,
                         rdata: .soa(SOA(mname: name("ns.up.test."), rname: name("h.up.test."), serial: 1, refresh: 1,
                                         retry: 1, expire: 1, minimum: 60)))

func a(_ owner: String, _ last: UInt8, ttl: UInt32 = 300) -> ResourceRecord {
    ResourceRecord(owner: name(owner), ttl: ttl, rdata: .a(0xC000_0200 | UInt32(last)))
}

final class Harness {
    let frontend: Frontend
    let cache: Cache
    let local = ResolverLocal()
    var out = [UInt8](repeating: 0, count: 65535)
    static let client = SocketAddress(ip: "127.0.0.1", port: 5353)!
    static let foreign = SocketAddress(ip: "198.51.100.7", port: 5353)!

    init(groups: [ForwardSetup.Group]? = nil, capacity: Int = 1000, stale: UInt32 = 86400) throws {
        let z = try Zone.parse(Array("""
            $TTL 300
            @ SOA ns h 1 2 3 4 60
            @ NS ns
            ns A 10.0.0.1
            host A 10.0.0.2
            """.utf8), file: "g10.lo", origin: name("g10.lo."))
        let home = try Zone.parse(Array("$TTL 300\n@ SOA ns h 1 2 3 4 60\n@ NS ns\nns A 10.1.0.1\nnas A 10.1.0.10\n".utf8),
                                  file: "home.lan", origin: name("home.lan."))
        var allow = AccessList()
        allow.add(bytes: [127, 0, 0, 0], prefix: 8)
        let servers = [SocketAddress(ip: "127.0.0.1", port: 5301)!, SocketAddress(ip: "127.0.0.1", port: 5302)!,
                       SocketAddress(ip: "127.0.0.1", port: 5303)!]
        let g = groups ?? [ForwardSetup.Group(zone: name("lo."), servers: [1], fallbackLocal: false),
                           ForwardSetup.Group(zone: name("g10.lo."), servers: [2], fallbackLocal: true),
                           ForwardSetup.Group(zone: name("sub.home.lan."), servers: [1], fallbackLocal: false),
                           ForwardSetup.Group(zone: nil, servers: [0], fallbackLocal: false)]
        cache = Cache(capacity: capacity, staleWindow: stale)
        frontend = Frontend(answerer: Answerer(snapshot: Snapshot(zones: [z, home])),
                            forwarding: ForwardSetup(servers: servers, groups: g, allow: allow, timeoutMs: 1000),
                            cache: cache)
    }

    func handle(_ q: [UInt8], peer: SocketAddress = Harness.client, now: UInt32 = 1000, udp: Bool = true) -> Decision {
        q.withUnsafeBytes { qb in
            out.withUnsafeMutableBytes { ob in frontend.handle(qb, into: ob, udp: udp, peer: peer, now: now, local: local) }
        }
    }

    func message(_ d: Decision) throws -> Message {
        guard case .reply(let n) = d else { throw DNSError.noRoom }
        return try Message(bytes: Array(out[0..<n]))
    }

    /// Feeds an upstream reply into the cache, as the forwarder does.
    func store(_ q: [UInt8], _ r: [UInt8], now: UInt32 = 1000) {
        let m = try! Message(bytes: q)
        let c = r.withUnsafeBytes { CacheableReply.extract($0, name: m.questions[0].name.wire, type: m.questions[0].type) }
        c?.store(in: cache, now: now)
    }

    func relay(_ r: [UInt8], _ q: [UInt8], udp: Bool = true) throws -> Message {
        let n = r.withUnsafeBytes { rb in
            q.withUnsafeBytes { qb in out.withUnsafeMutableBytes { ob in frontend.relay(rb, query: qb, into: ob, udp: udp) } }
        }
        return try Message(bytes: Array(out[0..<n]))
    }
}

@Suite struct AnswerOrderTests {
    @Test func localZonesAnswerEveryoneAndForwardingOnlyAllowedClients() throws {
        let h = try Harness()
        let m = try h.message(h.handle(query("nas.home.lan.", .a), peer: Harness.foreign))
        #expect(m.header.aa && m.answers.count == 1)
        let r = try h.message(h.handle(query("www.example.org.", .a), peer: Harness.foreign))
        #expect(r.header.rcode == RCode.refused.headerBits && r.header.ra)
        #expect(h.local.recursionRefused == 1)
        #expect(h.handle(query("www.example.org.", .a)) == .forward(3))
    }

    @Test func longestSuffixWinsAcrossForwardAndLocalZones() throws {
        let h = try Harness()
        #expect(h.handle(query("x.other.lo.", .a)) == .forward(0))
        // g10.lo is local and a fallback_local forward zone: forwarded first.
        #expect(h.handle(query("host.g10.lo.", .a)) == .forward(1))
        // A forward zone below a local zone wins for its names only.
        #expect(h.handle(query("a.sub.home.lan.", .a)) == .forward(2))
        #expect(try h.message(h.handle(query("nas.home.lan.", .a))).header.aa)
    }

    @Test func withoutFallbackTheLocalZoneWins() throws {
        let h = try Harness(groups: [ForwardSetup.Group(zone: name("g10.lo."), servers: [2], fallbackLocal: false)])
        let m = try h.message(h.handle(query("host.g10.lo.", .a)))
        #expect(m.header.aa && m.answers.first?.rdata == .a(0x0A00_0002))
        // No default forwarder: other names are REFUSED, as before.
        #expect(try h.message(h.handle(query("example.org.", .a))).header.rcode == RCode.refused.headerBits)
    }

    @Test func rdZeroGetsTheCacheOrRefused() throws {
        let h = try Harness()
        let q = query("www.up.test.", .a, rd: false)
        #expect(try h.message(h.handle(q)).header.rcode == RCode.refused.headerBits)
        h.store(q, reply(to: q, answers: [a("www.up.test.", 1)]))
        let m = try h.message(h.handle(q))
        #expect(m.header.rcode == 0 && m.answers.count == 1 && !m.header.aa && !m.header.rd && m.header.ra)
    }

    @Test func fallbackAnswerIsTheLocalCopyWithoutAA() throws {
        let h = try Harness()
        let q = query("host.g10.lo.", .a)
        let n = q.withUnsafeBytes { qb in h.out.withUnsafeMutableBytes { h.frontend.localFallback(qb, into: $0, udp: true) } }
        let m = try Message(bytes: Array(h.out[0..<n]))
        #expect(!m.header.aa && m.answers.first?.rdata == .a(0x0A00_0002))
    }
}

@Suite struct CacheTests {
    @Test func positiveHitCountsTheTTLDown() throws {
        let h = try Harness()
        let q = query("WWW.up.test.", .a, edns: true)
        #expect(h.handle(q) == .forward(3))
        h.store(q, reply(to: q, answers: [a("www.up.test.", 1), a("www.up.test.", 2)]))
        let m = try h.message(h.handle(q, now: 1010))
        #expect(m.header.id == 0x4242 && m.header.ra && !m.header.aa && m.header.rcode == 0)
        #expect(m.questions[0].name.description == "WWW.up.test.")
        #expect(m.answers.count == 2 && m.answers.allSatisfy { $0.ttl == 290 })
        #expect(m.edns != nil)
        #expect(h.local.cacheHits == 1 && h.local.cacheMisses == 1)
        // Expired: a miss (forward), unless serving stale.
        #expect(h.handle(q, now: 1300) == .forward(3))
    }

    @Test func cnameChainIsCachedAsRRsetsAndFollowed() throws {
        let h = try Harness()
        let q = query("alias.up.test.", .a)
        let cname = ResourceRecord(owner: name("alias.up.test."), ttl: 600, rdata: .cname(name("www.up.test.")))
        h.store(q, reply(to: q, answers: [cname, a("www.up.test.", 1, ttl: 100)]))
        let m = try h.message(h.handle(q))
        #expect(m.answers.map { $0.type } == [.cname, .a])
        #expect(m.answers[1].owner == name("www.up.test."))
        // The target's RRset is an entry of its own, shared with direct queries.
        #expect(try h.message(h.handle(query("www.up.test.", .a))).answers.count == 1)
        // When the end of the chain expires, the chain is a miss.
        #expect(h.handle(q, now: 1200) == .forward(3))
    }

    @Test func negativeAnswersUseTheSOAMinimum() throws {
        let h = try Harness()
        let q = query("nx.up.test.", .a)
        h.store(q, reply(to: q, rcode: 3, authority: [soa]))
        let m = try h.message(h.handle(q, now: 1010))
        #expect(m.header.rcode == 3 && m.answers.isEmpty)
        #expect(m.authority.first?.type == .soa && m.authority.first?.ttl == 50)
        // NXDOMAIN covers every type of the name.
        #expect(try h.message(h.handle(query("nx.up.test.", .txt))).header.rcode == 3)
        // NODATA covers its type only.
        let q2 = query("www.up.test.", .aaaa)
        h.store(q2, reply(to: q2, authority: [soa]))
        let n = try h.message(h.handle(q2))
        #expect(n.header.rcode == 0 && n.answers.isEmpty && n.authority.count == 1)
        #expect(h.handle(query("www.up.test.", .a)) == .forward(3))
        // Without an SOA nothing is cached (RFC 2308 §5).
        let q3 = query("nosoa.up.test.", .a)
        h.store(q3, reply(to: q3, rcode: 3))
        #expect(h.handle(q3) == .forward(3))
    }

    @Test func staleEntriesAnswerOnlyWhenAskedWithinTheWindow() throws {
        let h = try Harness(stale: 100)
        let q = query("short.up.test.", .a)
        h.store(q, reply(to: q, answers: [a("short.up.test.", 2, ttl: 2)]))
        #expect(h.handle(q, now: 1005) == .forward(3))
        let n = q.withUnsafeBytes { qb in
            h.out.withUnsafeMutableBytes { h.frontend.stale(qb, into: $0, udp: true, now: 1050, local: h.local) }
        }
        let m = try Message(bytes: Array(h.out[0..<(n ?? 0)]))
        #expect(m.answers.first?.ttl == Cache.staleTTL && h.local.staleAnswers == 1)
        let late = q.withUnsafeBytes { qb in
            h.out.withUnsafeMutableBytes { h.frontend.stale(qb, into: $0, udp: true, now: 1200, local: h.local) }
        }
        #expect(late == nil)
    }

    @Test func sizeIsBoundedAndUsedEntriesSurviveEviction() throws {
        let h = try Harness(capacity: 100)
        let hot = query("hot.up.test.", .a)
        h.store(hot, reply(to: hot, answers: [a("hot.up.test.", 9)]))
        for i in 0..<2000 {
            let q = query("n\(i).up.test.", .a)
            h.store(q, reply(to: q, answers: [a("n\(i).up.test.", 1)]))
            if i % 10 == 0 { _ = h.handle(hot) }
        }
        #expect(h.cache.count <= 100)
        #expect(h.cache.count >= 90)
        #expect(try h.message(h.handle(hot)).answers.count == 1)
    }

    @Test func bigAnswersTruncateForUDPAndStayWholeForTCP() throws {
        let h = try Harness()
        let q = query("big.up.test.", .txt)
        let txt = (0..<10).map { i in
            ResourceRecord(owner: name("big.up.test."), ttl: 300, rdata: .txt([Array(repeating: UInt8(97 + i), count: 200)]))
        }
        h.store(q, reply(to: q, answers: txt))
        let u = try h.message(h.handle(q))
        #expect(u.header.tc)
        let t = try h.message(h.handle(q, udp: false))
        #expect(!t.header.tc && t.answers.count == 10)
    }
}

@Suite struct RelayTests {
    @Test func relayKeepsTheUpstreamAnswerAndPatchesTheClientParts() throws {
        let h = try Harness()
        let q = query("Host.G10.lo.", .a, id: 7)
        let up = reply(to: query("host.g10.lo.", .a, id: 999), answers: [a("host.g10.lo.", 1)], edns: true)
        let m = try h.relay(up, q)
        #expect(m.header.id == 7 && m.header.aa && m.header.ra && m.header.rd)
        #expect(m.questions[0].name.description == "Host.G10.lo.")
        #expect(m.answers.count == 1)
        // The client sent no OPT: none comes back.
        #expect(m.edns == nil)
        let e = try h.relay(up, query("host.g10.lo.", .a, edns: true))
        #expect(e.edns?.udpPayloadSize == 1232)
    }

    @Test func relayTruncatesForASmallClient() throws {
        let h = try Harness()
        let q = query("big.up.test.", .txt)
        let txt = (0..<5).map { i in
            ResourceRecord(owner: name("big.up.test."), ttl: 300, rdata: .txt([Array(repeating: UInt8(97 + i), count: 200)]))
        }
        let m = try h.relay(reply(to: q, answers: txt), q)
        #expect(m.header.tc && m.answers.isEmpty)
        #expect(try h.relay(reply(to: q, answers: txt), q, udp: false).answers.count == 5)
    }

    @Test func replyMatchingChecksIDAndQuestion() throws {
        let q = query("www.up.test.", .a, id: 11)
        let r = reply(to: q, answers: [a("www.up.test.", 1)])
        let wire = name("WWW.UP.test.").wire
        #expect(r.withUnsafeBytes { UpstreamQuery.matches($0, id: 11, nameWire: wire, type: .a, rrClass: .in) })
        #expect(!r.withUnsafeBytes { UpstreamQuery.matches($0, id: 12, nameWire: wire, type: .a, rrClass: .in) })
        #expect(!r.withUnsafeBytes { UpstreamQuery.matches($0, id: 11, nameWire: wire, type: .aaaa, rrClass: .in) })
        #expect(!q.withUnsafeBytes { UpstreamQuery.matches($0, id: 11, nameWire: wire, type: .a, rrClass: .in) })
        let sent = try Message(bytes: UpstreamQuery.make(id: 5, nameWire: wire, type: .a, rrClass: .in))
        #expect(sent.header.rd && sent.edns?.udpPayloadSize == 1232 && sent.edns?.dnssecOK == false)
    }
}

@Suite struct UpstreamSelectionTests {
    @Test func fastestFirstThenBackOffAndProbe() {
        let a = SocketAddress(ip: "127.0.0.1", port: 1)!, b = SocketAddress(ip: "127.0.0.1", port: 2)!
        let s = UpstreamServers([a, b])
        let ms: UInt64 = 1_000_000
        // Unmeasured servers go first; then the faster one.
        #expect(s.pick([0, 1], tried: 0, now: 0) == 0)
        s.success(0, rttNs: 40 * ms)
        #expect(s.pick([0, 1], tried: 0, now: 0) == 1)
        s.success(1, rttNs: 5 * ms)
        #expect(s.pick([0, 1], tried: 0, now: 0) == 1)
        #expect(s.pick([0, 1], tried: 0b10, now: 0) == 0)
        // A refused connection puts a server down for a second.
        s.failure(1, now: 0, hard: true)
        #expect(s.pick([0, 1], tried: 0, now: 10 * ms) == 0)
        #expect(s.pick([1], tried: 0, now: 10 * ms) == nil)
        // After the back-off, one probe; the others stay away meanwhile.
        #expect(s.pick([1], tried: 0, now: 1001 * ms) == 1)
        #expect(s.pick([1], tried: 0, now: 1002 * ms) == nil)
        s.failure(1, now: 1002 * ms, hard: true)
        #expect(s.pick([1], tried: 0, now: 2100 * ms) == nil)
        #expect(s.pick([1], tried: 0, now: 3100 * ms) == 1)
        s.success(1, rttNs: 5 * ms)
        #expect(s.pick([1], tried: 0, now: 3101 * ms) == 1)
        // One timeout alone does not take a server down.
        s.failure(0, now: 0, hard: false)
        #expect(s.pick([0], tried: 0, now: 1) == 0)
    }
}

#if DEBUG
private let optimized = false
#else
private let optimized = true
#endif

@Suite struct ResolverAllocationTests {
    // At -Onone the generic helpers on this path allocate (about 4 per
    // query); `make test` runs the allocation tests again with -c release.
    @Test(.enabled(if: optimized, "allocation counts need an optimized build (make test runs this with -c release)"))
    func cacheHitsAllocateNothing() throws {
        #expect(alloc_counter_active() == 1)
        let h = try Harness()
        let qs = [query("www.up.test.", .a, edns: true), query("alias.up.test.", .a), query("nx.up.test.", .a),
                  query("nx.up.test.", .mx, edns: true), query("nas.home.lan.", .a),
                  query("www.example.org.", .a)]
        let cname = ResourceRecord(owner: name("alias.up.test."), ttl: 600, rdata: .cname(name("www.up.test.")))
        h.store(qs[0], reply(to: qs[0], answers: [a("www.up.test.", 1)]))
        h.store(qs[1], reply(to: qs[1], answers: [cname, a("www.up.test.", 1)]))
        h.store(qs[2], reply(to: qs[2], rcode: 3, authority: [soa]))
        let foreign = Harness.foreign
        var out = [UInt8](repeating: 0, count: 4096)
        var answered = 0
        var before: Int64 = 0
        alloc_counter_suspend_throw_hooks()
        qs.withUnsafeBufferPointer { all in
            out.withUnsafeMutableBytes { ob in
                // One round first: lazily created runtime state.
                for i in 0..<(100_000 + all.count) {
                    if i == all.count {
                        before = alloc_count_this_thread()
                        answered = 0
                    }
                    let q = all[i % all.count]
                    let peer = i % all.count == 5 ? foreign : Harness.client
                    let d = q.withUnsafeBytes { h.frontend.handle($0, into: ob, udp: true, peer: peer, now: 1000, local: h.local) }
                    if case .reply(let n) = d, n > 0 { answered += 1 }
                }
            }
        }
        let allocations = alloc_count_this_thread() - before
        alloc_counter_restore_throw_hooks()
        #expect(answered == 100_000)
        #expect(allocations == 0, "allocations for 100,000 cache hits: \(allocations)")
    }
}

/// Upstream replies are untrusted input: mutated replies (seeded, so a
/// failure reproduces) go through every function that reads them. None may
/// trap; whatever they leave in the cache must still answer cleanly.
@Suite struct MalformedReplyTests {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func mutatedRepliesNeverTrap() throws {
        let h = try Harness(capacity: 200)
        let cname = ResourceRecord(owner: name("alias.up.test."), ttl: 600, rdata: .cname(name("www.up.test.")))
        let mx = ResourceRecord(owner: name("alias.up.test."), ttl: 600, rdata: .mx(preference: 5, exchange: name("www.up.test.")))
        let q = query("alias.up.test.", .a, edns: true)
        let seeds = [
            reply(to: q, answers: [cname, a("www.up.test.", 1)]),
            reply(to: q, rcode: 3, authority: [soa]),
            reply(to: q, answers: [cname, mx, a("www.up.test.", 1)], authority: [soa]),
        ]
        let wire = name("alias.up.test.").wire
        var rng = SplitMix(state: 0xD15B0C5)
        var out = [UInt8](repeating: 0, count: 65535)
        for round in 0..<60_000 {
            var m = seeds[round % seeds.count]
            let edits = 1 + Int(rng.next() % 4)
            for _ in 0..<edits {
                let r = rng.next()
                switch r % 5 {
                case 0, 1: m[Int(r >> 8) % m.count] = UInt8(truncatingIfNeeded: r >> 32)
                case 2: m.removeLast(Int(r >> 8) % min(m.count - 12, 16) + 1)
                case 3: m.insert(UInt8(truncatingIfNeeded: r >> 40), at: Int(r >> 8) % m.count)
                default: m[2 + Int(r >> 8) % 10] ^= UInt8(truncatingIfNeeded: r >> 24) // header bits and counts
                }
                if m.count < 12 { m = seeds[0] }
            }
            _ = m.withUnsafeBytes { UpstreamQuery.matches($0, id: 0x4242, nameWire: wire, type: .a, rrClass: .in) }
            if let c = m.withUnsafeBytes({ CacheableReply.extract($0, name: wire, type: .a) }) {
                c.store(in: h.cache, now: 1000)
            }
            let n = m.withUnsafeBytes { rb in
                q.withUnsafeBytes { qb in out.withUnsafeMutableBytes { h.frontend.relay(rb, query: qb, into: $0, udp: true) } }
            }
            #expect(n <= 1232)
            if case .reply(let len) = h.handle(q), len > 0 {
                #expect((try? Message(bytes: Array(h.out[0..<len]))) != nil, "cache answer does not parse (round \(round))")
            }
        }
    }
}
