// The signing side of TSIG (RFC 8945) and what the verifier refuses that no
// captured peer sent: sign → verify round trips, streams with unsigned
// messages, the error answers of §5.3.2, MAC truncation (§5.2.2.1),
// misplaced records (§5.2), key configuration, and the allocation contract.

import AllocCounter
import Testing
@testable import DNS

private let key = try! TSIGKey(name: TSIGFixtures.keyName, algorithm: "hmac-sha256", secret: TSIGFixtures.secret)
private let t0: UInt64 = 1_796_298_430

private func check(_ m: [UInt8], keys: [TSIGKey] = [key], now: UInt64 = t0) -> TSIGCheck {
    m.withUnsafeBytes { TSIG.verify($0, keys: keys, now: now) }
}

private func checkResponse(_ m: [UInt8], key k: TSIGKey = key, requestMAC: TSIGMAC, now: UInt64 = t0) -> TSIGCheck {
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

/// An unsigned message: `example.` SOA, plus `answers` A records (a
/// response when there are any).
private func message(id: UInt16 = 0x1234, answers: Int = 0) -> [UInt8] {
    var m = Message(header: Header(id: id))
    m.header.qr = answers > 0
    m.questions = [Question(name: try! DomainName("example."), type: answers > 0 ? .axfr : .soa)]
    for i in 0..<answers {
        m.answers.append(ResourceRecord(owner: try! DomainName("h\(i).example."), ttl: 60, rdata: .a(0xC000_0200 | UInt32(i))))
    }
    return try! m.encode()
}

private func signed(_ m: [UInt8], requestMAC: TSIGMAC? = nil, key k: TSIGKey = key, time: UInt64 = t0) -> ([UInt8], TSIGMAC) {
    var b = m
    let mac = try! k.sign(&b, requestMAC: requestMAC, timeSigned: time)
    return (b, mac)
}

/// The message with its TSIG's MAC cut to `n` bytes (RDLENGTH and MAC Size
/// patched): what a signer truncating its HMAC sends.
private func truncatingMAC(_ m: [UInt8], to n: Int) -> [UInt8] {
    let tsig = m.count - (13 + 10 + 13 + 16 + 32)
    var out = Array(m[0..<(tsig + 21)])                       // owner, TYPE, CLASS, TTL
    let rdLength = 13 + 16 + n
    out += [UInt8(rdLength >> 8), UInt8(rdLength & 0xFF)]
    out += m[(tsig + 23)..<(tsig + 23 + 13 + 8)]              // algorithm, time, fudge
    out += [UInt8(n >> 8), UInt8(n & 0xFF)]
    let macAt = tsig + 23 + 13 + 10
    out += n <= 32 ? Array(m[macAt..<(macAt + n)]) : Array(m[macAt..<(macAt + 32)]) + [UInt8](repeating: 0, count: n - 32)
    out += m[(macAt + 32)...]
    return out
}

@Suite struct TSIGSigningTests {
    @Test func signedRequestAndResponseVerify() throws {
        let (q, qmac) = signed(message())
        let v = try #require(verified(check(q)))
        #expect(v.mac == qmac)
        #expect(v.originalID == 0x1234)
        #expect(v.tsigOffset == message().count)
        // ARCOUNT went up by one; the RR is the last thing in the message.
        #expect(q[11] == 1)
        let (r, _) = signed(message(answers: 3), requestMAC: v.mac)
        #expect(verified(checkResponse(r, requestMAC: v.mac)) != nil)
        // A response is not a request: without the request MAC it fails.
        #expect(rejection(check(r))?.error == .badSig)
    }

    @Test func theRecordIsUncompressedAndLowercase() throws {
        // The question name ends in "example."; the TSIG owner does too, and
        // must not point at it. A key configured in capitals is written
        // (and digested) lowercased.
        let upper = TSIGKey(name: try DomainName("KEY.Example."), secret: key.secret)
        let (q, _) = signed(message(), key: upper)
        let tsig = Array(q[message().count...])
        #expect(Array(tsig[0..<13]) == [3] + Array("key".utf8) + [7] + Array("example".utf8) + [0])
        #expect(Array(tsig[23..<36]) == [11] + Array("hmac-sha256".utf8) + [0])
        #expect(!tsig[0..<36].contains(0xC0), "no compression pointer")
        #expect(verified(check(q)) != nil)
    }

    @Test func namesAreDigestedInCanonicalForm() throws {
        // A peer may send the key and algorithm names in any case (§4.3.3).
        var (q, _) = signed(message())
        let tsig = message().count
        for i in [tsig + 1, tsig + 5, tsig + 24, tsig + 30] { q[i] &= 0xDF }   // k, e, h, s → K, E, H, S
        #expect(verified(check(q)) != nil)
    }

    @Test func streamSignerMatchesStreamVerifier() throws {
        let (q, _) = signed(message())
        let req = try #require(verified(check(q))).mac
        var signer = TSIGStreamSigner(key: key, requestMAC: req)
        var verifier = TSIGStreamVerifier(key: key, requestMAC: req)
        for n in [5, 40, 1, 0] {
            var b = [UInt8](repeating: 0, count: 4096)
            let m = message(answers: n)
            b.replaceSubrange(0..<m.count, with: m)
            let len = try b.withUnsafeMutableBytes { try signer.sign($0, length: m.count, timeSigned: t0 + UInt64(n)) }
            let out = Array(b[0..<len])
            #expect(verified(out.withUnsafeBytes { verifier.verify($0, now: t0) }) != nil, "\(n) answers")
            #expect(verifier.canEnd)
        }
        #expect(verifier.messages == 4)
    }

    /// A stream whose middle messages are unsigned (allowed for up to 99 in
    /// a row, §5.3.1): the next signed message covers them all.
    @Test func unsignedMessagesInsideAStream() throws {
        let (q, _) = signed(message())
        let req = try #require(verified(check(q))).mac
        let (first, firstMAC) = signed(message(answers: 2), requestMAC: req)
        let middle = [message(answers: 3), message(answers: 4)]
        let last = message(answers: 5)
        // The last message's TSIG: prior MAC + both unsigned messages + it, timers only.
        var joined = middle[0] + middle[1] + last + [UInt8](repeating: 0, count: 200)
        let n = middle[0].count + middle[1].count + last.count
        let s = try joined.withUnsafeMutableBytes {
            try TSIG.sign($0, length: n, key: key, prior: firstMAC, timersOnly: true, timeSigned: t0, fudge: 300)
        }
        var signedLast = last + Array(joined[n..<s.length])
        signedLast[11] &+= 1

        var v = TSIGStreamVerifier(key: key, requestMAC: req)
        #expect(verified(first.withUnsafeBytes { v.verify($0, now: t0) }) != nil)
        for m in middle {
            guard case .unsigned = m.withUnsafeBytes({ v.verify($0, now: t0) }) else { Issue.record("not accepted"); return }
            #expect(!v.canEnd)
        }
        #expect(verified(signedLast.withUnsafeBytes { v.verify($0, now: t0) }) != nil)
        #expect(v.canEnd)

        // Dropping an unsigned message breaks the chain.
        var gap = TSIGStreamVerifier(key: key, requestMAC: req)
        _ = first.withUnsafeBytes { gap.verify($0, now: t0) }
        _ = middle[0].withUnsafeBytes { gap.verify($0, now: t0) }
        #expect(rejection(signedLast.withUnsafeBytes { gap.verify($0, now: t0) })?.error == .badSig)

        // The first message must be signed; 100 unsigned in a row are too many.
        var bare = TSIGStreamVerifier(key: key, requestMAC: req)
        #expect(rejection(middle[0].withUnsafeBytes { bare.verify($0, now: t0) })?.rcode == .formErr)
        var long = TSIGStreamVerifier(key: key, requestMAC: req)
        _ = first.withUnsafeBytes { long.verify($0, now: t0) }
        for i in 0..<100 {
            let c = middle[0].withUnsafeBytes { long.verify($0, now: t0) }
            if i < 99 { if case .unsigned = c {} else { Issue.record("message \(i) refused") } }
            else { #expect(rejection(c)?.rcode == .formErr) }
        }
    }

    // MARK: error answers (§5.3.2)

    func answer(_ r: TSIGRejection, to request: [UInt8], now: UInt64 = t0) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 1024)
        let n = try request.withUnsafeBytes { req in
            try out.withUnsafeMutableBytes { try r.writeResponse(to: req, now: now, into: $0) }
        }
        return Array(out[0..<n])
    }

    @Test func badKeyAndBadSigAnswersAreUnsigned() throws {
        let (q, qmac) = signed(message())
        let example = try DomainName("example.")
        let keyName = try DomainName("key.example.")
        let stranger = try TSIGKey(name: "key.example.", algorithm: "hmac-sha256", secret: "c2VjcmV0")
        for (keys, error) in [([TSIGKey](), TSIGError.badKey), ([stranger], TSIGError.badSig)] {
            let r = try #require(rejection(check(q, keys: keys)))
            #expect(r.error == error)
            let a = try answer(r, to: q)
            let m = try Message(bytes: a)
            #expect(m.header.qr && m.header.id == 0x1234 && m.rcode == .notAuth)
            #expect(m.questions.first?.name == example)
            let tsig = try #require(m.additional.last)
            #expect(tsig.type == TSIG.type && tsig.owner == keyName && tsig.rrClass == .any)
            // The client learns the error; the answer proves nothing.
            let p = try #require(peerError(checkResponse(a, requestMAC: qmac)))
            #expect(p.error == error && !p.authenticated)
        }
    }

    @Test func badTimeAnswerIsSignedWithTheServersTime() throws {
        let (q, qmac) = signed(message(), time: t0)
        let serverNow = t0 + 1000
        let r = try #require(rejection(check(q, now: serverNow)))
        #expect(r.error == .badTime && r.key != nil)
        let a = try answer(r, to: q, now: serverNow)
        // The client, whose clock says t0, verifies it and reads the server's time.
        let p = try #require(peerError(checkResponse(a, requestMAC: qmac, now: t0)))
        #expect(p.error == .badTime && p.authenticated && p.peerTime == serverNow)
        // Time Signed is the request's (the client's clock), Other Data the server's.
        let tsig = Array(a[(a.count - 6 - 6 - 32 - 10 - 13 - 10 - 13)...])
        #expect(Array(tsig[36..<42]) == [0, 0, 0x6B, 0x11, 0x56, 0xBE], "t0")
        #expect(Array(tsig[84..<90]) == [0, 0, 0x6B, 0x11, 0x5A, 0xA6], "t0 + 1000")
        #expect(rejection(checkResponse(a, key: TSIGKey(name: key.name, secret: [1]), requestMAC: qmac))?.error == .badSig)
    }

    @Test func formErrAnswerHasNoTSIG() throws {
        let r = TSIGRejection.formErr("test")
        let a = try answer(r, to: message())
        let m = try Message(bytes: a)
        #expect(m.rcode == .formErr && m.additional.isEmpty && m.questions.count == 1)
        // A request too broken to have a question still gets a header.
        let b = try answer(r, to: Array(message()[0..<14]))
        #expect(b.count == 12 && b[3] & 0xF == 1)
    }

    // MARK: truncation (§5.2.2.1, §5.2.4)

    @Test func macTruncation() throws {
        let (q, qmac) = signed(message())
        // 16 bytes (half of SHA-256) is the shortest allowed; the local
        // policy may demand more (BADTRUNC, a signed answer).
        let half = truncatingMAC(q, to: 16)
        let v = try #require(verified(check(half)))
        #expect(v.mac.bytes == Array(qmac.bytes[0..<16]))
        let strict = TSIGKey(name: key.name, secret: key.secret, minimumMACSize: 32)
        let r = try #require(rejection(check(half, keys: [strict])))
        #expect(r.error == .badTrunc && r.rcode == .notAuth)
        let a = try answer(r, to: half)
        let p = try #require(peerError(checkResponse(a, key: strict, requestMAC: v.mac)))
        #expect(p.error == .badTrunc && p.authenticated)
        // Shorter than 16, or longer than the hash, or empty: FORMERR.
        for n in [0, 9, 10, 15, 33] {
            #expect(rejection(check(truncatingMAC(q, to: n)))?.rcode == .formErr, "MAC of \(n) bytes")
        }
        // A wrong truncated MAC is still BADSIG.
        var wrong = truncatingMAC(q, to: 20)
        wrong[wrong.count - 7] ^= 1
        #expect(rejection(check(wrong))?.error == .badSig)
    }

    // MARK: placement (§5.2)

    @Test func tsigMustBeTheOnlyAndLastRecord() throws {
        let (q, _) = signed(message())
        let tsigRR = Array(q[message().count...])
        // Another record after the TSIG.
        var after = q + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        after[11] += 1
        #expect(rejection(check(after))?.reason.description == "TSIG is not the last record")
        // Two TSIGs.
        var twice = q + tsigRR
        twice[11] += 1
        #expect(rejection(check(twice))?.rcode == .formErr)
        // A TSIG in the answer section: counted as an answer.
        var answer = q
        answer[7] = 1
        answer[11] = 0
        #expect(rejection(check(answer))?.reason.description == "TSIG outside the additional section")
        // RDATA shorter than its fields.
        var short = q
        short[q.count - (13 + 16 + 32) - 1] -= 1
        short.removeLast()
        #expect(rejection(check(short))?.rcode == .formErr)
        // An unknown algorithm is BADKEY.
        var alg = q
        alg[message().count + 23 + 11] = UInt8(ascii: "5")                 // hmac-sha255
        #expect(rejection(check(alg))?.error == .badKey)
        // No TSIG at all.
        guard case .unsigned = check(message()) else { Issue.record("not unsigned"); return }
    }

    @Test func signingNeedsRoomAndAMessage() throws {
        let m = message()
        var b = m + [UInt8](repeating: 0xEE, count: TSIG.size(for: key) - 1)
        #expect(throws: DNSError.noRoom) {
            _ = try b.withUnsafeMutableBytes { try key.sign($0, length: m.count, timeSigned: t0) }
        }
        #expect(Array(b[0..<m.count]) == m, "unchanged, ARCOUNT too")
        var tiny = [UInt8](repeating: 0, count: 100)
        #expect(throws: DNSError.self) {
            _ = try tiny.withUnsafeMutableBytes { try key.sign($0, length: 11, timeSigned: t0) }
        }
    }

    // MARK: keys

    @Test func keysFromConfiguration() throws {
        let k = try TSIGKey(name: "Key.Example", algorithm: "HMAC-SHA256.", secret: " gV9A0VfiHAQ9qP8ayZtbXDiEHNLweZnBRnxmvthwqoQ= ")
        #expect(k.name.wire == (try DomainName("key.example.")).wire)
        #expect(k.algorithm == .hmacSHA256 && k.secret.count == 32)
        #expect(k.minimumMACSize == 16)
        #expect(try TSIGKey(name: "k.", algorithm: "hmac-sha256", secret: "YQ==").secret == [0x61])
        #expect(try TSIGKey(name: "k.", algorithm: "hmac-sha256", secret: "YWI=").secret == [0x61, 0x62])
        #expect(try TSIGKey(name: "k.", algorithm: "hmac-sha256", secret: "YWJj").secret == [0x61, 0x62, 0x63])
        for bad in ["", "YQ", "YQ=", "Y===", "YR==", "YQ==YQ==", "YW*j", "===="] {
            #expect(throws: TSIGKeyError.badSecret, "'\(bad)'") {
                _ = try TSIGKey(name: "k.", algorithm: "hmac-sha256", secret: bad)
            }
        }
        #expect(throws: TSIGKeyError.unsupportedAlgorithm("hmac-md5")) {
            _ = try TSIGKey(name: "k.", algorithm: "hmac-md5", secret: "YQ==")
        }
        #expect(TSIGKeyError.unsupportedAlgorithm("hmac-sha512").description
            == "TSIG algorithm 'hmac-sha512' is not supported (supported: hmac-sha256)")
        #expect(throws: TSIGKeyError.badName("a..b")) {
            _ = try TSIGKey(name: "a..b", algorithm: "hmac-sha256", secret: "YQ==")
        }
        #expect(TSIGAlgorithm("hmac-sha1") == nil)
        #expect(TSIGAlgorithm.hmacSHA256.macSize == 32 && TSIGAlgorithm.hmacSHA256.minimumMACSize == 16)
    }

    // MARK: allocations

    @Test func signingAndVerifyingAllocateNothing() throws {
        #expect(alloc_counter_active() == 1)
        let keys = [key]
        let unsigned = message(answers: 20)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        defer { buffer.deallocate() }
        let request = signed(message()).0
        var ok = 0
        func round() throws(DNSError) {
            let v = request.withUnsafeBytes { TSIG.verify($0, keys: keys, now: t0) }
            guard case .verified(let rv) = v else { return }
            unsigned.withUnsafeBytes { buffer.copyMemory(from: $0) }
            let s = try key.sign(response: buffer, length: unsigned.count, requestMAC: rv.mac, timeSigned: t0)
            var stream = TSIGStreamVerifier(key: key, requestMAC: rv.mac)
            if case .verified = stream.verify(UnsafeRawBufferPointer(rebasing: buffer[0..<s.length]), now: t0) { ok &+= 1 }
        }
        try round()
        let before = alloc_count_this_thread()
        for _ in 0..<2000 { try round() }
        let allocated = alloc_count_this_thread() - before
        #expect(ok == 2001)
        #expect(allocated == 0, "allocations for 2,000 verify + sign + verify rounds: \(allocated)")
    }
}
