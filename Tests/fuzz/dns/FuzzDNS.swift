// libFuzzer target for the DNS message decoder (STYLE.md habit 12; issue 3).
//
// Built by scripts/fuzz.sh together with Sources/DNS/*.swift as ONE module,
// so internal API is visible. For every input:
// - the borrowed parsers (Query.parse, a MessageParser walk over every
//   record and its RDATA) return or throw, never trap;
// - when the owned parser accepts the message, encoding it and parsing the
//   result gives the same message (compression may differ, meaning may not),
//   and every record's RDATA survives presentation → parse;
// - Query.parse's question-only fast path, where it answers, gives what the
//   full parse gives;
// - when Query.parse accepts it, the question name read as a view equals the
//   owned name (same case-insensitive hash), and writing an answer into a
//   512-byte buffer either fits or stops cleanly with .noRoom, leaving a
//   message that parses with the same question;
// - TSIG (RFC 8945) with a fixed key and time: verifying the input as a
//   request, a response and stream messages gives a verdict; the answer to
//   a rejection parses; an input without TSIG, signed, verifies (request,
//   response and stream), with the MAC the signer returned.
// A broken invariant calls fatalError, which libFuzzer reports as a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    FuzzDNS.run(raw)
    return 0
}

enum FuzzDNS {
    static func fail(_ what: String, _ raw: UnsafeRawBufferPointer) -> Never {
        var hex = ""
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        for b in raw.prefix(600) {
            hex.append(digits[Int(b >> 4)])
            hex.append(digits[Int(b & 15)])
        }
        fatalError("invariant broken: \(what); input \(hex)")
    }

    static func run(_ raw: UnsafeRawBufferPointer) {
        walk(raw)
        ownedRoundTrip(raw)
        queryAndAnswer(raw)
        tsig(raw)
    }

    /// The borrowed parser over all sections, reading every RDATA.
    static func walk(_ raw: UnsafeRawBufferPointer) {
        do throws(DNSError) {
            var p = try MessageParser(raw)
            while try p.nextQuestion() != nil {}
            while let (_, rr) = try p.nextRecord() {
                _ = try? rr.rdata()
            }
            try p.checkNoTrailingData()
        } catch {
            _ = error.isWireError
        }
    }

    static func ownedRoundTrip(_ raw: UnsafeRawBufferPointer) {
        let m: Message
        do throws(DNSError) { m = try Message.parse(raw) } catch { return }
        let encoded: [UInt8]
        do throws(DNSError) { encoded = try m.encode() } catch {
            // Every parsed message fits in 64 KiB again: names can only compress better.
            fail("encode of a parsed message failed: \(error)", raw)
        }
        do throws(DNSError) {
            let again = try Message(bytes: encoded)
            if again != m { fail("parse(encode(m)) != m", raw) }
        } catch {
            fail("our own encoding does not parse: \(error)", raw)
        }
        for rr in m.answers + m.authority + m.additional where rr.type != .opt {
            let text = rr.rdata.presentation
            do throws(DNSError) {
                let back = try RData(type: rr.type, text: text)
                if back != rr.rdata { fail("RDATA presentation round trip: \(text)", raw) }
            } catch {
                fail("RDATA presentation does not parse back: \(text): \(error)", raw)
            }
        }
    }

    static func queryAndAnswer(_ raw: UnsafeRawBufferPointer) {
        // The question-only fast path agrees with the full parse.
        if let fast = Query.parseQuestionOnly(raw) {
            let full: Query
            do throws(DNSError) { full = try Query.parseMessage(raw) } catch {
                fail("fast query parse accepted what the full parse rejects: \(error)", raw)
            }
            let a = fast.question, b = full.question
            if fast.header != full.header || a.type != b.type || a.rrClass != b.rrClass
                || a.name.offset != b.name.offset || a.name.wireLength != b.name.wireLength
                || a.name.labelCount != b.name.labelCount || a.name.isContiguous != b.name.isContiguous
                || fast.questionEnd != full.questionEnd || fast.hasTSIG != full.hasTSIG || full.edns != nil {
                fail("fast and full query parses disagree", raw)
            }
        }
        let q: Query
        do throws(DNSError) { q = try Query.parse(raw) } catch { return }
        let owned = q.question.name.domainName
        if !q.question.name.equals(owned) || q.question.name.caseInsensitiveHash != owned.caseInsensitiveHash {
            fail("question view and owned name disagree", raw)
        }
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { buf.deallocate() }
        var h = Header(id: q.header.id, flags: 0x8400)
        h.rd = q.header.rd
        var n = 0
        do throws(DNSError) {
            var w = try MessageWriter(buffer: buf, capacity: 512, header: h)
            try w.writeQuestion(q.question)
            var i = 0
            while i < 40 {
                do throws(DNSError) {
                    try w.writeRecord(.answer, owner: q.question.name, ttl: 60, rdata: .a(0xC000_0200 | UInt32(i)))
                } catch {
                    if case .noRoom = error { w.header.tc = true; break }
                    fail("writeRecord failed with \(error)", raw)
                }
                i += 1
            }
            n = w.finish()
        } catch {
            // A name too long for 512 bytes: the question alone may not fit.
            if case .noRoom = error { return }
            fail("answer writer failed with \(error)", raw)
        }
        let out = Array(UnsafeRawBufferPointer(start: buf.baseAddress, count: n))
        do throws(DNSError) {
            let m = try Message(bytes: out)
            if m.questions.count != 1 || m.questions[0].name != owned {
                fail("answer's question differs", raw)
            }
        } catch {
            fail("our answer does not parse: \(error)", raw)
        }
    }

    /// The key and time of the captured kdig query (Tests/DNSTests/TSIGFixtures.swift),
    /// which is in the corpus: mutations start from a message that verifies.
    static let tsigKey = try! TSIGKey(name: "key.example.", algorithm: "hmac-sha256",
                                      secret: "gV9A0VfiHAQ9qP8ayZtbXDiEHNLweZnBRnxmvthwqoQ=")
    static let tsigNow: UInt64 = 1_796_298_430

    static func tsig(_ raw: UnsafeRawBufferPointer) {
        let keys = [tsigKey]
        let someMAC = TSIGMAC(UnsafeRawBufferPointer(rebasing: raw.prefix(32))) ?? TSIGMAC()
        let asRequest = TSIG.verify(raw, keys: keys, now: tsigNow)
        _ = TSIG.verify(response: raw, key: tsigKey, requestMAC: someMAC, now: tsigNow)
        var stream = TSIGStreamVerifier(key: tsigKey, requestMAC: someMAC)
        _ = stream.verify(raw, now: tsigNow)
        _ = stream.verify(raw, now: tsigNow)

        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: raw.count + 4096, alignment: 8)
        defer { buf.deallocate() }
        switch asRequest {
        case .rejected(let r):
            do throws(DNSError) {
                let n = try r.writeResponse(to: raw, now: tsigNow, into: buf)
                let m = try Message(bytes: Array(UnsafeRawBufferPointer(rebasing: buf[0..<n])))
                if m.rcode != r.rcode || !m.header.qr { fail("TSIG error answer has RCODE \(m.rcode)", raw) }
            } catch {
                if raw.count >= Header.size { fail("TSIG error answer failed: \(error)", raw) }
            }
        case .unsigned:
            // Sign it as a request, then as a response and a stream message.
            guard let h = Header.peek(raw), h.arCount < 0xFFFF else { return }
            for response in [false, true] {
                buf.copyMemory(from: raw)
                let s: TSIGSigned
                do throws(DNSError) {
                    s = response
                        ? try tsigKey.sign(response: buf, length: raw.count, requestMAC: someMAC, timeSigned: tsigNow)
                        : try tsigKey.sign(buf, length: raw.count, timeSigned: tsigNow)
                } catch {
                    fail("signing a message without TSIG failed: \(error)", raw)
                }
                let signed = UnsafeRawBufferPointer(rebasing: buf[0..<s.length])
                let c = response
                    ? TSIG.verify(response: signed, key: tsigKey, requestMAC: someMAC, now: tsigNow)
                    : TSIG.verify(signed, keys: keys, now: tsigNow)
                guard case .verified(let v) = c, v.mac == s.mac, v.tsigOffset == raw.count else {
                    fail("a message we signed does not verify (response: \(response))", raw)
                }
                if response {
                    var sv = TSIGStreamVerifier(key: tsigKey, requestMAC: someMAC)
                    guard case .verified = sv.verify(signed, now: tsigNow), sv.canEnd else {
                        fail("a message we signed does not verify as a stream's first", raw)
                    }
                }
            }
        default:
            break
        }
    }
}
