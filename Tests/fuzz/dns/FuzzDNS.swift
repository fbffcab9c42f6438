// libFuzzer target for the DNS message decoder (STYLE.md habit 12; issue 3).
//
// Built by scripts/fuzz.sh together with Sources/DNS/*.swift as ONE module,
// so internal API is visible. For every input:
// - the borrowed parsers (Query.parse, a MessageParser walk over every
//   record and its RDATA) return or throw, never trap;
// - when the owned parser accepts the message, encoding it and parsing the
//   result gives the same message (compression may differ, meaning may not),
//   and every record's RDATA survives presentation → parse;
// - when Query.parse accepts it, the question name read as a view equals the
//   owned name (same case-insensitive hash), and writing an answer into a
//   512-byte buffer either fits or stops cleanly with .noRoom, leaving a
//   message that parses with the same question.
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
}
