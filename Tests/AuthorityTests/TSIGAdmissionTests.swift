// TSIG on the answer path: which transfers a keyed zone admits, that the
// stream it sends verifies message by message, and signed queries.

import DNS
import Sys
import Testing
import Zone
@testable import Authority

@Suite struct TSIGAdmissionTests {
    static let now: UInt64 = 1_800_000_000
    static let key = try! TSIGKey(name: "xfr.", algorithm: "hmac-sha256", secret: "gV9A0VfiHAQ9qP8ayZtbXDiEHNLweZnBRnxmvthwqoQ=")
    static let other = try! TSIGKey(name: "other.", algorithm: "hmac-sha256", secret: "YWJjZGVmZ2hpamtsbW5vcA==")
    static let peer = SocketAddress(ip: "127.0.0.1", port: 5353)!

    static func answerer(keyed: Bool = true) throws -> Answerer {
        var policy = ZonePolicy()
        policy.allowTransfer.add(bytes: [127, 0, 0, 0], prefix: 8)
        if keyed { policy.tsigKey = key }
        let z = try TransferTests.zone(3000)
        return Answerer(snapshot: Snapshot([SnapshotZone(.zone(z), policy: policy)]), tsigKeys: [key, other],
                        clock: { now })
    }

    static func signed(_ q: [UInt8], _ k: TSIGKey) throws -> ([UInt8], TSIGMAC) {
        var m = q
        let mac = try k.sign(&m, timeSigned: now)
        return (m, mac)
    }

    @Test func keyedZoneAdmitsOnlyItsKeyAndSignsEveryMessage() throws {
        let a = try Self.answerer()
        let axfr = try TransferTests.request(.axfr)
        func admit(_ q: [UInt8]) -> TransferAdmission { q.withUnsafeBytes { a.admitTransfer($0, peer: Self.peer) } }
        guard case .refused(_, let why) = admit(axfr) else { Issue.record("unsigned admitted"); return }
        #expect("\(why)" == "not signed with the zone's tsig_key")
        guard case .refused = admit(try Self.signed(axfr, Self.other).0) else { Issue.record("other key admitted"); return }
        let (good, mac) = try Self.signed(axfr, Self.key)
        guard case .start(var t) = admit(good) else { Issue.record("signed request refused"); return }
        var v = TSIGStreamVerifier(key: Self.key, requestMAC: mac)
        var buf = [UInt8](repeating: 0, count: 65535)
        var messages = 0
        while !t.isFinished {
            let n = buf.withUnsafeMutableBytes { t.nextMessage(into: $0, capacity: 8192) }
            #expect(n > 0 && n <= 8192)
            if n == 0 { break }
            let check = buf.withUnsafeBytes { v.verify(UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: Self.now) }
            guard case .verified = check else { Issue.record("message \(messages) does not verify: \(check)"); return }
            messages += 1
        }
        #expect(messages > 2 && v.canEnd)
    }

    @Test func signedQueryGetsSignedAnswerAndBadOnesTheirError() throws {
        let a = try Self.answerer(keyed: false)
        let q = try queryBytes("h1.x.test.", .a)
        let (good, mac) = try Self.signed(q, Self.key)
        let out = respond(a, good)
        let check = out.withUnsafeBytes { TSIG.verify(response: $0, key: Self.key, requestMAC: mac, now: Self.now) }
        guard case .verified = check else { Issue.record("answer not signed: \(check)"); return }
        #expect(try Message(bytes: out).answers.count == 1)
        // Unknown key: NOTAUTH, BADKEY in an unsigned TSIG.
        let unknown = try TSIGKey(name: "nobody.", algorithm: "hmac-sha256", secret: "YWJjZGVmZ2hpamtsbW5vcA==")
        let bad = respond(a, try Self.signed(q, unknown).0)
        #expect(bad[3] & 0x0F == 9)
        guard case .peerError(let p) = bad.withUnsafeBytes({ TSIG.verify(response: $0, key: unknown, requestMAC: TSIGMAC(), now: Self.now) })
        else { Issue.record("no TSIG error"); return }
        #expect(p.error == .badKey)
    }
}
