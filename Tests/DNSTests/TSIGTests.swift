// TSIG (RFC 8945) against real peers' bytes (TSIGFixtures.swift: kdig and
// dig queries, knotd's answers and a three-message AXFR), rejected with the
// wrong secret (BADSIG), key name (BADKEY) or clock (BADTIME), and under
// every single-byte corruption and every truncation.
//
// The other direction was checked once against the same tools, by a script
// outside the build (xcheck.py driving `tsigtool`, a command-line wrapper of
// this library compiled with swiftc from Sources/Core and Sources/DNS):
// - queries signed here, sent to the knotd of TSIGFixtures.swift: SOA and
//   NOTIFY answered NOERROR with a TSIG this library verifies; an AXFR
//   answered in 3 messages, all verified by TSIGStreamVerifier; the same
//   SOA query signed with a wrong secret, an unknown key name or a clock
//   1000 s off answered NOTAUTH with BADSIG, BADKEY, BADTIME (the last
//   signed, verified here, knot's clock read from Other Data);
// - answers signed here (a python server handing each query to tsigtool):
//   `kdig -y …` and `dig -y …` SOA accepted them silently, and warned
//   ("failed to verify TSIG", "Some TSIG could not be validated") when one
//   byte of the MAC was flipped; a 3-message AXFR from TSIGStreamSigner was
//   accepted by dig (which checks every message: flipping a MAC byte in the
//   second or third made it warn), by kdig (which checks only the first: a
//   flipped byte there made it fail, one in the last went unnoticed) and by
//   dnspython's xfr (which refused a flipped second message); a BADTIME
//   answer from writeResponse was reported by kdig as "TSIG out of time
//   window" (MAC good) and as "failed to verify TSIG" with a MAC byte
//   flipped; the unsigned BADSIG/BADKEY answers were shown as such by kdig
//   and dig.

import AllocCounter
import Testing
@testable import DNS

private let key = try! TSIGKey(name: TSIGFixtures.keyName, algorithm: "hmac-sha256", secret: TSIGFixtures.secret)
private let wrongSecret = try! TSIGKey(name: TSIGFixtures.keyName, algorithm: "hmac-sha256",
                                       secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
private let wrongName = try! TSIGKey(name: "other.example.", algorithm: "hmac-sha256", secret: TSIGFixtures.secret)

private func verify(_ m: [UInt8], keys: [TSIGKey] = [key], now: UInt64) -> TSIGCheck {
    m.withUnsafeBytes { TSIG.verify($0, keys: keys, now: now) }
}

private func verify(response m: [UInt8], key k: TSIGKey = key, requestMAC: TSIGMAC, now: UInt64) -> TSIGCheck {
    m.withUnsafeBytes { TSIG.verify(response: $0, key: k, requestMAC: requestMAC, now: now) }
}

private func verified(_ c: TSIGCheck) -> TSIGVerified? {
    if case .verified(let v) = c { return v }
    return nil
}

private func rejection(_ c: TSIGCheck) -> TSIGRejection? {
    if case .rejected(let r) = c { return r }
    return nil
}

private func peerError(_ c: TSIGCheck) -> TSIGPeerError? {
    if case .peerError(let p) = c { return p }
    return nil
}

/// The MAC of a fixture query, as the verifier returns it.
private func requestMAC(_ query: [UInt8], _ time: UInt64) -> TSIGMAC {
    verified(verify(query, now: time))?.mac ?? TSIGMAC()
}

/// The three requests captured from real tools, with their signing times.
private let requests: [String: ([UInt8], UInt64)] = [
    "kdigSOAQuery": (TSIGFixtures.kdigSOAQuery, TSIGFixtures.kdigSOAQueryTime),
    "digAXFRQuery": (TSIGFixtures.digAXFRQuery, TSIGFixtures.digAXFRQueryTime),
    "kdigAXFRQuery": (TSIGFixtures.kdigAXFRQuery, TSIGFixtures.kdigAXFRQueryTime),
]

/// A stream verifier past the first `n` messages of knot's AXFR.
private func streamAfter(_ n: Int, key k: TSIGKey = key) -> TSIGStreamVerifier {
    var s = TSIGStreamVerifier(key: k, requestMAC: requestMAC(TSIGFixtures.kdigAXFRQuery, TSIGFixtures.kdigAXFRQueryTime))
    for i in 0..<n { _ = TSIGFixtures.knotAXFRStream[i].withUnsafeBytes { s.verify($0, now: TSIGFixtures.knotAXFRTimes[i]) } }
    return s
}

@Suite struct TSIGRealPeerTests {
    @Test(arguments: ["kdigSOAQuery", "digAXFRQuery", "kdigAXFRQuery"])
    func requestFromARealToolVerifies(_ name: String) throws {
        let (m, time) = try #require(requests[name])
        let v = try #require(verified(verify(m, keys: [wrongName, key], now: time)))
        #expect(v.keyIndex == 1)
        #expect(v.timeSigned == time)
        #expect(v.fudge == 300)
        #expect(v.mac.count == 32)
        #expect(v.originalID == UInt16(m[0]) << 8 | UInt16(m[1]))
        // The TSIG RR: key.example. + 10 + hmac-sha256. + 16 + MAC.
        #expect(v.tsigOffset == m.count - (13 + 10 + 13 + 16 + 32))
    }

    @Test func knotResponseVerifiesOverKdigsRequestMAC() throws {
        let mac = requestMAC(TSIGFixtures.kdigSOAQuery, TSIGFixtures.kdigSOAQueryTime)
        let v = try #require(verified(verify(response: TSIGFixtures.knotSOAResponse, requestMAC: mac,
                                             now: TSIGFixtures.knotSOAResponseTime)))
        #expect(v.timeSigned == TSIGFixtures.knotSOAResponseTime)
        // Another request's MAC does not fit.
        let other = requestMAC(TSIGFixtures.kdigAXFRQuery, TSIGFixtures.kdigAXFRQueryTime)
        #expect(rejection(verify(response: TSIGFixtures.knotSOAResponse, requestMAC: other,
                                 now: TSIGFixtures.knotSOAResponseTime))?.error == .badSig)
    }

    @Test func knotAXFRStreamVerifiesMessageByMessage() throws {
        var s = streamAfter(0)
        #expect(!s.canEnd)
        var macs: [TSIGMAC] = []
        for (i, m) in TSIGFixtures.knotAXFRStream.enumerated() {
            let v = try #require(verified(m.withUnsafeBytes { s.verify($0, now: TSIGFixtures.knotAXFRTimes[i]) }), "message \(i)")
            #expect(s.canEnd)
            macs.append(v.mac)
        }
        #expect(s.messages == 3)
        // Later messages are digested over the prior MAC and the timers
        // only (§5.3.1): as standalone responses they do not verify.
        let reqMAC = requestMAC(TSIGFixtures.kdigAXFRQuery, TSIGFixtures.kdigAXFRQueryTime)
        #expect(rejection(verify(response: TSIGFixtures.knotAXFRStream[1], requestMAC: macs[0],
                                 now: TSIGFixtures.knotAXFRTimes[1]))?.error == .badSig)
        #expect(verified(verify(response: TSIGFixtures.knotAXFRStream[0], requestMAC: reqMAC,
                                now: TSIGFixtures.knotAXFRTimes[0])) != nil)
        // Out of order: message 3 where 2 belongs.
        var skip = streamAfter(1)
        #expect(rejection(TSIGFixtures.knotAXFRStream[2].withUnsafeBytes { skip.verify($0, now: TSIGFixtures.knotAXFRTimes[2]) })?
            .error == .badSig)
        // A failure is final.
        #expect(rejection(TSIGFixtures.knotAXFRStream[1].withUnsafeBytes { skip.verify($0, now: TSIGFixtures.knotAXFRTimes[1]) }) != nil)
        #expect(!skip.canEnd)
    }

    // MARK: BADSIG, BADKEY, BADTIME on each captured message

    @Test(arguments: ["kdigSOAQuery", "digAXFRQuery", "kdigAXFRQuery"])
    func requestRejections(_ name: String) throws {
        let (m, t) = try #require(requests[name])
        let sig = try #require(rejection(verify(m, keys: [wrongSecret], now: t)))
        #expect(sig.error == .badSig && sig.rcode == .notAuth)
        let bad = try #require(rejection(verify(m, keys: [wrongName], now: t)))
        #expect(bad.error == .badKey && bad.rcode == .notAuth)
        #expect(rejection(verify(m, keys: [], now: t))?.error == .badKey)
        for skew: Int64 in [-301, 301, -100_000, 100_000] {
            let r = try #require(rejection(verify(m, now: UInt64(Int64(t) + skew))), "skew \(skew)")
            #expect(r.error == .badTime && r.rcode == .notAuth, "skew \(skew)")
            #expect(r.requestMAC == requestMAC(m, t), "a BADTIME answer is signed over the verified MAC")
        }
        for skew: Int64 in [-300, 300] {
            #expect(verified(verify(m, now: UInt64(Int64(t) + skew))) != nil, "skew \(skew) is within the fudge")
        }
    }

    @Test func responseRejections() throws {
        let m = TSIGFixtures.knotSOAResponse, t = TSIGFixtures.knotSOAResponseTime
        let mac = requestMAC(TSIGFixtures.kdigSOAQuery, TSIGFixtures.kdigSOAQueryTime)
        #expect(rejection(verify(response: m, key: wrongSecret, requestMAC: mac, now: t))?.error == .badSig)
        #expect(rejection(verify(response: m, key: wrongName, requestMAC: mac, now: t))?.error == .badKey)
        #expect(rejection(verify(response: m, requestMAC: mac, now: t + 301))?.error == .badTime)
        #expect(rejection(verify(response: m, requestMAC: mac, now: t - 301))?.error == .badTime)
    }

    @Test func streamRejections() throws {
        let m = TSIGFixtures.knotAXFRStream, t = TSIGFixtures.knotAXFRTimes
        var s = streamAfter(0, key: wrongSecret)
        #expect(rejection(m[0].withUnsafeBytes { s.verify($0, now: t[0]) })?.error == .badSig)
        s = streamAfter(0, key: wrongName)
        #expect(rejection(m[0].withUnsafeBytes { s.verify($0, now: t[0]) })?.error == .badKey)
        for i in 0..<3 {
            s = streamAfter(i)
            #expect(rejection(m[i].withUnsafeBytes { s.verify($0, now: t[i] + 301) })?.error == .badTime, "message \(i)")
            s = streamAfter(i, key: wrongSecret)
            #expect(verified(m[i].withUnsafeBytes { s.verify($0, now: t[i]) }) == nil, "message \(i)")
        }
    }

    // MARK: damage

    /// Every byte but the ID (not covered: the digest uses Original ID),
    /// flipped two ways, must not verify.
    func expectEveryCorruptionFails(_ m: [UInt8], masks: [UInt8] = [0x01, 0xFF], positions: [Int]? = nil,
                                    _ check: ([UInt8]) -> TSIGCheck) {
        var bad = m
        var caught = 0
        for i in positions ?? Array(2..<m.count) {
            for mask in masks {
                bad[i] ^= mask
                let c = check(bad)
                if verified(c) != nil { Issue.record("byte \(i) ^ \(mask) still verifies") } else { caught += 1 }
                bad[i] ^= mask
            }
        }
        #expect(caught > 0)
    }

    @Test(arguments: ["kdigSOAQuery", "digAXFRQuery", "kdigAXFRQuery"])
    func everyCorruptionOfARequestFails(_ name: String) throws {
        let (m, t) = try #require(requests[name])
        expectEveryCorruptionFails(m) { verify($0, now: t) }
        // The ID itself is not signed: the original ID stands in for it.
        var other = m
        other[0] ^= 0x55
        #expect(verified(verify(other, now: t))?.originalID == UInt16(m[0]) << 8 | UInt16(m[1]))
    }

    @Test func everyCorruptionOfKnotsResponseFails() {
        let mac = requestMAC(TSIGFixtures.kdigSOAQuery, TSIGFixtures.kdigSOAQueryTime)
        expectEveryCorruptionFails(TSIGFixtures.knotSOAResponse) {
            verify(response: $0, requestMAC: mac, now: TSIGFixtures.knotSOAResponseTime)
        }
    }

    /// All bytes of the stream's messages, except that inside runs of one
    /// repeated byte (the TXT filler that makes knot split the transfer)
    /// every 37th is flipped: ~2 s instead of ~30 s at -Onone.
    @Test func everyCorruptionOfKnotsStreamFails() {
        for k in 0..<3 {
            let m = TSIGFixtures.knotAXFRStream[k]
            var positions: [Int] = []
            var i = 2
            while i < m.count {
                var j = i
                while j < m.count && m[j] == m[i] { j += 1 }
                if j - i >= 16 {
                    positions += stride(from: i, to: j, by: 37)
                } else {
                    positions += Array(i..<j)
                }
                i = j
            }
            let before = streamAfter(k)
            expectEveryCorruptionFails(m, masks: [0x01], positions: positions) { bad in
                var s = before
                return bad.withUnsafeBytes { s.verify($0, now: TSIGFixtures.knotAXFRTimes[k]) }
            }
        }
    }

    @Test func truncationsAndGarbageNeverVerifyOrTrap() {
        let all = [TSIGFixtures.kdigSOAQuery, TSIGFixtures.digAXFRQuery, TSIGFixtures.knotSOAResponse]
        let mac = requestMAC(TSIGFixtures.kdigSOAQuery, TSIGFixtures.kdigSOAQueryTime)
        for m in all {
            for n in 0..<m.count {
                let cut = Array(m[0..<n])
                #expect(verified(verify(cut, now: TSIGFixtures.kdigSOAQueryTime)) == nil)
                #expect(verified(verify(response: cut, requestMAC: mac, now: TSIGFixtures.kdigSOAQueryTime)) == nil)
            }
            // Trailing bytes after the TSIG: FORMERR.
            #expect(rejection(verify(m + [0], now: TSIGFixtures.kdigSOAQueryTime))?.rcode == .formErr)
        }
    }
}
