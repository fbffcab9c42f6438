// The secondary's sans-I/O parts: the transfer reader (AXFR, IXFR, "up to
// date", and every way a stream can be wrong), applying differences, and
// the SOA refresh/retry/expire clock.

import Testing
import DNS
import Zone
@testable import Authority

private let origin = try! DomainName("example.net.")

private func rr(_ line: String) -> ResourceRecord {
    try! ResourceRecord(line, origin: origin)
}

private func soa(_ serial: UInt32) -> ResourceRecord {
    rr("@ 300 IN SOA ns1 hostmaster \(serial) 3600 600 86400 60")
}

/// A response message with `records` in the answer section.
private func message(id: UInt16 = 7, rcode: RCode = .noError, question: Bool = true,
                     qtype: RRType = .axfr, _ records: [ResourceRecord]) -> [UInt8] {
    var buf = [UInt8](repeating: 0, count: 65535)
    let n = buf.withUnsafeMutableBytes { b -> Int in
        var h = Header(id: id)
        h.qr = true
        h.aa = true
        h.rcode = rcode.headerBits
        var w = try! MessageWriter(buffer: b, header: h)
        if question { try! w.writeQuestion(origin, type: qtype, rrClass: .in) }
        for r in records { try! w.writeRecord(.answer, owner: r.owner, ttl: r.ttl, rdata: r.rdata) }
        return w.finish()
    }
    return Array(buf[0..<n])
}

private func feed(_ reader: inout XfrReader, _ messages: [[UInt8]]) -> XfrReader.Step {
    var last = XfrReader.Step.more
    for m in messages {
        last = m.withUnsafeBytes { reader.consume($0) }
        if case .more = last { continue }
        return last
    }
    return last
}

private let body = [rr("@ 300 IN NS ns1"), rr("ns1 300 IN A 192.0.2.53"), rr("www 300 IN A 192.0.2.1")]

@Test func axfrOverSeveralMessages() {
    var r = XfrReader(zone: origin, id: 7, ixfrFrom: nil)
    let step = feed(&r, [message([soa(5), body[0]]), message(question: false, [body[1], body[2], soa(5)])])
    #expect(step == .done(.full([soa(5)] + body)))
    #expect(r.messages == 2)
}

@Test func ixfrDifferencesInOrder() {
    var r = XfrReader(zone: origin, id: 7, ixfrFrom: 1)
    let added = rr("new 300 IN A 192.0.2.42")
    let stream = [soa(3), soa(1), body[2], soa(2), added, soa(2), added, soa(3), soa(3)]
    let step = feed(&r, [message(qtype: .ixfr, stream)])
    let d1 = ZoneDiff(fromSerial: 1, toSOA: soa(2), removed: [body[2]], added: [added], fromSOA: soa(1))
    let d2 = ZoneDiff(fromSerial: 2, toSOA: soa(3), removed: [added], added: [], fromSOA: soa(2))
    #expect(step == .done(.incremental([d1, d2])))
    guard case .done(.incremental(let diffs)) = step else { return }
    let applied = try! XfrReader.apply(diffs, to: [soa(1)] + body).get()
    #expect(applied.first == soa(3))
    #expect(Set(applied.dropFirst().map { $0.description }) == Set(body.dropLast().map { $0.description }))
}

@Test func ixfrAnsweredWithTheWholeZone() {
    var r = XfrReader(zone: origin, id: 7, ixfrFrom: 1)
    #expect(feed(&r, [message(qtype: .ixfr, [soa(4)] + body + [soa(4)])]) == .done(.full([soa(4)] + body)))
}

@Test func ixfrUpToDate() {
    var r = XfrReader(zone: origin, id: 7, ixfrFrom: 9)
    #expect(feed(&r, [message(qtype: .ixfr, [soa(9)])]) == .done(.upToDate(serial: 9)))
    var older = XfrReader(zone: origin, id: 7, ixfrFrom: 9)
    #expect(feed(&older, [message(qtype: .ixfr, [soa(8)])]) == .done(.upToDate(serial: 8)))
}

@Test func aStreamWithoutItsClosingSOAIsNotDone() {
    var r = XfrReader(zone: origin, id: 7, ixfrFrom: nil)
    #expect(feed(&r, [message([soa(5)] + body)]) == .more)
}

@Test func everyWrongStreamFails() {
    func fails(_ serial: UInt32?, _ messages: [[UInt8]], _ why: String) {
        var r = XfrReader(zone: origin, id: 7, ixfrFrom: serial)
        guard case .failed(let reason) = feed(&r, messages) else {
            Issue.record("expected a failure with '\(why)'")
            return
        }
        #expect(reason.contains(why), "\(reason)")
    }
    fails(nil, [message(id: 8, [soa(5)])], "does not answer our query")
    fails(nil, [message(rcode: .refused, [])], "REFUSED")
    fails(nil, [message(body)], "does not start with the zone's SOA")
    fails(nil, [message([soa(5), rr("www.elsewhere.test. 300 IN A 192.0.2.9")])], "outside the zone")
    fails(nil, [message([soa(5), rr("sub 300 IN SOA a b 1 2 3 4 5")])], "not at the apex")
    fails(nil, [message([soa(5), body[0], soa(6)])], "another serial")
    var ended = XfrReader(zone: origin, id: 7, ixfrFrom: nil)
    _ = feed(&ended, [message([soa(5), body[0], soa(5)])])
    #expect(feed(&ended, [message([body[1]])]) == .failed("data after the end of the transfer"))
    fails(1, [message(qtype: .ixfr, [soa(3), soa(2), soa(3), soa(3)])], "we hold 1")
    fails(1, [message(qtype: .ixfr, [soa(4), soa(1), soa(2), soa(3), soa(4), soa(4)])], "do not chain")
    fails(nil, [[0x00, 0x07, 0x80]], "bad message")
    var limited = XfrReader(zone: origin, id: 7, ixfrFrom: nil, maxRecords: 2)
    guard case .failed(let why) = feed(&limited, [message([soa(5)] + body + [soa(5)])]) else {
        Issue.record("the record limit")
        return
    }
    #expect(why.contains("more than 2 records"))
}

@Test func applyingADifferenceThatRemovesWhatWeDoNotHoldFails() {
    let d = ZoneDiff(fromSerial: 1, toSOA: soa(2), removed: [rr("gone 300 IN A 192.0.2.99")], added: [])
    guard case .failure(let e) = XfrReader.apply([d], to: [soa(1)] + body) else {
        Issue.record("expected a failure")
        return
    }
    #expect(e.message.contains("do not hold"))
}

@Test func requestsCarryTheSerialForIXFR() throws {
    let q = XfrRequest.make(id: 9, zone: origin, ixfrFrom: 42)
    try q.withUnsafeBytes { b in
        var p = try MessageParser(b)
        #expect(p.header.id == 9 && !p.header.qr)
        let question = try p.nextQuestion()
        #expect(question?.type == .ixfr)
        let auth = try p.nextRecord()
        guard case .soa(let s)? = try auth?.record.rdata() else {
            Issue.record("no SOA in the authority section")
            return
        }
        #expect(s.serial == 42 && auth?.section == .authority)
    }
    let a = XfrRequest.make(id: 9, zone: origin, ixfrFrom: nil)
    try a.withUnsafeBytes { b in
        var p = try MessageParser(b)
        #expect(try p.nextQuestion()?.type == .axfr)
        #expect(p.header.nsCount == 0)
    }
}

@Test func refreshRetryExpire() {
    var t = RefreshTimers()
    #expect(t.isExpired(0))   // nothing loaded
    let s = SOA(mname: origin, rname: origin, serial: 1, refresh: 100, retry: 10, expire: 1000, minimum: 60)
    t.succeeded(soa: s, now: 5000)
    #expect(t.nextCheck == 5100 && t.expiresAt == 6000 && !t.isExpired(5999) && t.isExpired(6000))
    t.failed(now: 5100)
    #expect(t.nextCheck == 5110)
    t.failed(now: 5110)
    #expect(t.nextCheck == 5130)   // the retry doubles while failing…
    for k in 0..<10 { t.failed(now: 5200 + UInt64(k)) }
    #expect(t.nextCheck == 5209 + 100)   // …up to the refresh interval
    t.checkNow(5300)
    #expect(t.nextCheck == 5300)
    // A zero refresh does not hammer the primary; expire is at least refresh.
    var z = RefreshTimers()
    z.succeeded(soa: SOA(mname: origin, rname: origin, serial: 1, refresh: 0, retry: 0, expire: 0, minimum: 0), now: 10)
    #expect(z.nextCheck == 10 + RefreshTimers.minimumInterval && z.expiresAt == 10 + RefreshTimers.minimumInterval)
}

// Found by the xfr fuzz target: both were served, then refused by the zone
// parser when the stored copy was loaded after a restart.
@Test func metaTypesFailATransferAndHugeTTLsReadAsZero() {
    var huge = rr("www 300 IN A 192.0.2.1")
    huge.ttl = 0x8000_0000
    var r = XfrReader(zone: origin, id: 7, ixfrFrom: nil)
    guard case .done(.full(let got)) = feed(&r, [message([soa(1), huge, soa(1)])]) else {
        Issue.record("not a whole zone"); return
    }
    #expect(got.map(\.ttl) == [300, 0])
    let opt = ResourceRecord(owner: try! DomainName("www.example.net."), ttl: 0, rdata: .unknown(type: .opt, data: [0xC0, 0, 2, 1]))
    var m = XfrReader(zone: origin, id: 7, ixfrFrom: nil)
    guard case .failed(let why) = feed(&m, [message([soa(1), opt, soa(1)])]) else { Issue.record("OPT accepted"); return }
    #expect(why.contains("meta type"))
}
