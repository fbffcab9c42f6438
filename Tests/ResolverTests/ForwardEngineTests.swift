// The forwarding engine driven by a fake owner: every action it asks for is
// recorded, and events are fed back by hand, so retries, coalescing, TCP
// after TC, fallback and serve-stale are checked without a socket.

import Authority
import DNS
@testable import Resolver
import Sys
import Testing

final class FakeIO: ForwardIO {
    struct Sent {
        var id: UInt64
        var server: SocketAddress
        var query: [UInt8]
        var tcp: Bool
        var timeoutMs: UInt64
    }
    var sent: [Sent] = []
    var closed: [UInt64] = []
    var delivered: [(ForwardClient, [UInt8])] = []
    /// What the next sends answer (default: sent).
    var results: [ForwardSend] = []

    func send(_ id: UInt64, to server: SocketAddress, query: [UInt8], tcp: Bool, timeoutMs: UInt64) -> ForwardSend {
        let r = results.isEmpty ? ForwardSend.sent : results.removeFirst()
        if case .sent = r { sent.append(Sent(id: id, server: server, query: query, tcp: tcp, timeoutMs: timeoutMs)) }
        return r
    }
    func close(_ id: UInt64) { closed.append(id) }
    func deliver(_ client: ForwardClient, _ response: UnsafeRawBufferPointer) { delivered.append((client, Array(response))) }
}

@Suite struct ForwardEngineTests {
    let h: Harness
    let io = FakeIO()
    let engine: ForwardEngine<FakeIO>
    static let c1 = ForwardClient.udp(peer: SocketAddress(ip: "127.0.0.1", port: 4001)!, local: nil)
    static let c2 = ForwardClient.stream(7)

    init() throws {
        h = try Harness(groups: [ForwardSetup.Group(zone: nil, servers: [0, 1], fallbackLocal: false),
                                 ForwardSetup.Group(zone: name("g10.lo."), servers: [2], fallbackLocal: true)])
        engine = ForwardEngine(io: io, frontend: h.frontend, local: h.local)
    }

    func start(_ q: [UInt8], group: Int = 0, client: ForwardClient = c1, udp: Bool = true, now: UInt64 = 1_000_000_000) {
        q.withUnsafeBytes { engine.start($0, group: group, client: client, udp: udp, now: now) }
    }

    /// The upstream's answer to what the engine sent last.
    func answer(_ s: FakeIO.Sent, rcode: UInt8 = 0, tc: Bool = false, answers: [ResourceRecord] = [], now: UInt64 = 1_010_000_000) -> Bool {
        reply(to: s.query, rcode: rcode, tc: tc, answers: answers).withUnsafeBytes { engine.received(s.id, $0, now: now) }
    }

    @Test func identicalQuestionsAreSentOnceAndEveryClientAnswered() throws {
        start(query("www.up.test.", .a, id: 1))
        start(query("WWW.up.test.", .a, id: 2), client: Self.c2, udp: false)
        #expect(io.sent.count == 1)
        #expect(h.local.coalesced == 1)
        #expect(answer(io.sent[0], answers: [a("www.up.test.", 5)]))
        #expect(io.delivered.count == 2)
        let m1 = try Message(bytes: io.delivered[0].1)
        let m2 = try Message(bytes: io.delivered[1].1)
        #expect(m1.header.id == 1 && m2.header.id == 2)
        #expect(m2.questions[0].name.description == "WWW.up.test.")
        #expect(io.delivered[1].0 == Self.c2)
        #expect(io.closed == [io.sent[0].id])
        #expect(engine.pendingCount == 0)
    }

    @Test func aReplyThatDoesNotMatchIsRefusedAndTheQueryKeepsWaiting() throws {
        start(query("www.up.test.", .a, id: 1))
        let s = io.sent[0]
        var wrong = reply(to: s.query, answers: [a("www.up.test.", 5)])
        wrong[0] ^= 0xFF  // another ID
        #expect(!wrong.withUnsafeBytes { engine.received(s.id, $0, now: 1_010_000_000) })
        #expect(io.delivered.isEmpty && engine.pendingCount == 1)
        #expect(answer(s, answers: [a("www.up.test.", 5)]))
        #expect(io.delivered.count == 1)
    }

    @Test func serverErrorsAndTimeoutsMoveOnThenServfail() throws {
        start(query("x.up.test.", .a))
        #expect(io.sent.count == 1)
        #expect(answer(io.sent[0], rcode: 2))          // SERVFAIL: next server
        #expect(io.sent.count == 2 && io.sent[1].server != io.sent[0].server)
        engine.timedOut(io.sent[1].id, now: 2_500_000_000)   // no one left
        #expect(io.delivered.count == 1)
        let m = try Message(bytes: io.delivered[0].1)
        #expect(m.header.rcode == RCode.servFail.headerBits)
        #expect(h.local.upstreamFailures == 1 && h.local.upstreamTimeouts == 1)
    }

    @Test func truncatedRepliesAreAskedAgainOverTCPOfTheSameServer() throws {
        start(query("big.up.test.", .txt))
        let udp = io.sent[0]
        #expect(answer(udp, tc: true))
        #expect(io.sent.count == 2)
        let tcp = io.sent[1]
        #expect(tcp.tcp && tcp.server == udp.server && tcp.timeoutMs == 2 * udp.timeoutMs)
        #expect(answer(tcp, answers: [a("big.up.test.", 1)]))
        #expect(io.delivered.count == 1 && h.local.upstreamTCP == 1)
    }

    @Test func aServerThatCannotBeReachedIsSkippedAtOnce() throws {
        io.results = [.refused]
        start(query("y.up.test.", .a))
        // The refused try counts against its server; the next one is asked.
        #expect(io.sent.count == 1)
        #expect(io.sent[0].server == SocketAddress(ip: "127.0.0.1", port: 5302)!)
        #expect(engine.servers.states.contains { $0.failures >= 2 })
    }

    @Test func forwardWithFallbackAnswersFromTheLocalZoneWithoutAA() throws {
        start(query("host.g10.lo.", .a), group: 1)
        engine.failed(io.sent[0].id, hard: true, now: 1_100_000_000)
        #expect(io.delivered.count == 1)
        let m = try Message(bytes: io.delivered[0].1)
        #expect(!m.header.aa && m.header.ra && m.answers.count == 1)
        #expect(h.local.fallbackAnswers == 1)
    }

    @Test func staleCacheEntriesAnswerWhenEveryServerFails() throws {
        let q = query("old.up.test.", .a)
        h.store(q, reply(to: q, answers: [a("old.up.test.", 9, ttl: 10)]), now: 1)
        start(q, now: 100_000_000_000)
        engine.timedOut(io.sent[0].id, now: 100_000_000_000)
        // The timeout moved on to the second server; it times out too.
        #expect(io.sent.count == 2)
        engine.timedOut(io.sent[1].id, now: 100_000_000_000)
        #expect(io.delivered.count == 1)
        let m = try Message(bytes: io.delivered[0].1)
        #expect(m.answers.first?.ttl == 30)
        #expect(h.local.staleAnswers == 1)
    }

    @Test func tooMuchInFlightIsShedWithServfail() throws {
        for i in 0..<ForwardEngine<FakeIO>.maxPending {
            start(query("n\(i).up.test.", .a))
        }
        #expect(engine.pendingCount == ForwardEngine<FakeIO>.maxPending)
        start(query("one-more.up.test.", .a))
        #expect(io.delivered.count == 1)
        engine.cancelAll()
        #expect(engine.pendingCount == 0)
        #expect(io.closed.count == ForwardEngine<FakeIO>.maxPending)
    }
}
