// AXFR/IXFR messages and NOTIFY, checked by decoding what was written.

import DNS
import Testing
import Zone
@testable import Authority

@Suite struct TransferTests {
    static func zone(_ records: Int) throws -> Zone {
        var text = "$TTL 300\n@ SOA ns1 h 42 3600 600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\n"
        for i in 0..<records { text += "h\(i) A 10.0.\(i / 256 % 256).\(i % 256)\n" }
        return try Zone.parse(Array(text.utf8), file: "t.zone", origin: try DomainName("x.test."))
    }

    static func request(_ type: RRType, clientSerial: UInt32? = nil) throws -> [UInt8] {
        var h = Header(id: 0x77)
        h.rd = false
        var m = Message(header: h, questions: [Question(name: try DomainName("X.test."), type: type, rrClass: .in)])
        if let s = clientSerial {
            m.authority = [ResourceRecord(owner: try DomainName("x.test."), ttl: 0, rdata: .soa(SOA(
                mname: try DomainName("a."), rname: try DomainName("b."), serial: s, refresh: 0, retry: 0, expire: 0, minimum: 0)))]
        }
        return try m.encode()
    }

    /// Every message of a transfer, decoded.
    static func run(_ zone: Zone, _ query: [UInt8], capacity: Int = 65535) throws -> [Message] {
        let compiled = try #require(Snapshot(zones: [zone]).zone(named: zone.origin))
        var t = try #require(query.withUnsafeBytes { ZoneTransfer(zone: compiled, query: $0) })
        var out: [Message] = []
        var buf = [UInt8](repeating: 0, count: 65535)
        while !t.isFinished {
            let n = buf.withUnsafeMutableBytes { t.nextMessage(into: $0, capacity: capacity) }
            #expect(n > 0)
            if n == 0 { break }
            out.append(try Message(bytes: Array(buf[0..<n])))
        }
        return out
    }

    @Test func axfrIsSOAThenEveryRecordThenSOAOverSeveralMessages() throws {
        let z = try Self.zone(2000)
        let msgs = try Self.run(z, try Self.request(.axfr), capacity: 8192)
        #expect(msgs.count > 4)
        let all = msgs.flatMap(\.answers)
        #expect(all.count == z.records.count + 1)
        #expect(all.first?.type == .soa && all.last?.type == .soa)
        let sent = Set(all.dropFirst().dropLast().map(\.description))
        let want = Set(z.records.filter { $0.type != .soa }.map(\.description))
        #expect(sent.symmetricDifference(want).isEmpty, "differ: \(sent.symmetricDifference(want).prefix(5))")
        #expect(msgs[0].questions.first?.name.description == "X.test.")   // the question as asked
        #expect(msgs.dropFirst().allSatisfy { $0.questions.isEmpty })
        #expect(msgs.allSatisfy { $0.header.id == 0x77 && $0.header.qr && $0.header.aa })
    }

    @Test func ixfrFromAnOlderSerialIsAFullTransferAndFromOursJustTheSOA() throws {
        let z = try Self.zone(3)
        let older = try Self.run(z, try Self.request(.ixfr, clientSerial: 41))
        #expect(older.flatMap(\.answers).count == z.records.count + 1)
        let same = try Self.run(z, try Self.request(.ixfr, clientSerial: 42))
        #expect(same.count == 1 && same[0].answers.count == 1 && same[0].answers[0].type == .soa)
        // RFC 1982: 42 is newer than 4294967290, so that client needs a transfer.
        let wrapped = try Self.run(z, try Self.request(.ixfr, clientSerial: 4_294_967_290))
        #expect(wrapped.flatMap(\.answers).count == z.records.count + 1)
        #expect(ZoneTransfer.serial(1, isNewerThan: 0xFFFF_FFFF))
        #expect(!ZoneTransfer.serial(5, isNewerThan: 5))
    }

    @Test func notifyMessageAndItsReply() throws {
        let z = try Self.zone(1)
        let bytes = Notify.message(id: 0x1234, zone: try #require(Snapshot(zones: [z]).zone(named: z.origin)))
        let m = try Message(bytes: bytes)
        #expect(m.header.opcode == .notify && m.header.aa && !m.header.qr)
        #expect(m.questions.first?.type == .soa && m.questions.first?.name == z.origin)
        #expect(m.answers.first?.type == .soa)
        // The answerer of a primary acknowledges it.
        let a = Answerer(snapshot: Snapshot(zones: [z]))
        var out = [UInt8](repeating: 0, count: 512)
        let n = bytes.withUnsafeBytes { q in out.withUnsafeMutableBytes { a.respond(to: q, into: $0, udp: true) } }
        let reply = Array(out[0..<n])
        #expect(reply.withUnsafeBytes { Notify.isReply($0, id: 0x1234, zone: z.origin) })
        #expect(!reply.withUnsafeBytes { Notify.isReply($0, id: 0x1235, zone: z.origin) })
        #expect(try Message(bytes: reply).header.rcode == 0)
        // A NOTIFY for a zone we do not have: NOTAUTH.
        var y = try Self.zone(1)
        y = Zone(origin: try DomainName("y.test."), records: y.records.map {
            ResourceRecord(owner: try! DomainName(String($0.owner.description.dropLast("x.test.".count)) + "y.test."), ttl: $0.ttl, rdata: $0.rdata)
        })
        let other = Notify.message(id: 9, zone: try #require(Snapshot(zones: [y]).zone(named: y.origin)))
        let n2 = other.withUnsafeBytes { q in out.withUnsafeMutableBytes { a.respond(to: q, into: $0, udp: true) } }
        #expect(try Message(bytes: Array(out[0..<n2])).header.rcode == RCode.notAuth.headerBits)
    }
}
