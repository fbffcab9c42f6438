// Hostile input: pointer loops, forward pointers, pointers into the header,
// over-long names and labels, reserved label types, every truncation of real
// messages, random bytes and mutations. Each must throw a DNSError; none may
// trap (a trap would crash the test process).

import Testing
@testable import DNS

/// Header with QDCOUNT = 1 followed by `body` (a question name + type/class).
private func message(_ body: [UInt8]) -> [UInt8] {
    [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00] + body
}

private func readName(_ bytes: [UInt8], at offset: Int = 12) throws -> NameView.Summary {
    try bytes.withUnsafeBytes { raw in
        var r = ByteReader(raw, offset: offset)
        let v = try NameView.read(&r)
        return NameView.Summary(end: r.offset, length: v.wireLength, labels: v.labelCount, text: v.domainName.description)
    }
}

extension NameView {
    struct Summary: Equatable {
        let end: Int, length: Int, labels: Int, text: String
    }
}

/// A small deterministic PRNG (SplitMix64), so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs every decoder over `bytes`; returns whether the whole message parsed.
@discardableResult
func decodeEverything(_ bytes: [UInt8]) -> Bool {
    let query = bytes.withUnsafeBytes { raw in (try? Query.parse(raw)) != nil }
    let whole = (try? Message(bytes: bytes)) != nil
    // The cursor walk must agree with the owned parse on success.
    _ = bytes.withUnsafeBytes { raw -> Bool in
        guard var p = try? MessageParser(raw) else { return false }
        while let q = try? p.nextQuestion() { _ = q.name.domainName }
        while let rr = try? p.nextRecord() { _ = try? rr.record.rdata() }
        return true
    }
    _ = query
    return whole
}

@Suite struct DecompressionSafetyTests {
    @Test func plainAndCompressedNames() throws {
        let m = message([3, 119, 119, 119, 0, 0, 1, 0, 1] + [1, 97, 0xC0, 12])
        #expect(try readName(m) == .init(end: 17, length: 5, labels: 1, text: "www."))
        #expect(try readName(m, at: 21) == .init(end: 25, length: 7, labels: 2, text: "a.www."))
    }

    @Test func pointerToItselfIsRejected() {
        let m = message([0xC0, 12])
        #expect(throws: DNSError.badPointer(offset: 12)) { try readName(m) }
    }

    @Test func forwardPointerIsRejected() {
        let m = message([1, 97, 0xC0, 18, 0, 0, 1, 97, 0])
        #expect(throws: DNSError.badPointer(offset: 14)) { try readName(m) }
    }

    @Test func pointerIntoHeaderIsRejected() {
        for target: UInt8 in 0..<12 {
            let m = message([1, 97, 0xC0, target])
            #expect(throws: DNSError.badPointer(offset: 14)) { try readName(m) }
        }
    }

    @Test func loopsThroughLabelsAreRejected() throws {
        // 12: "a" → 14: pointer to 16? No: build a cycle that only goes
        // backwards per hop: name at 16 points to 12, whose labels run into
        // the pointer at 16 again.
        let m = message([1, 97, 1, 98, 0xC0, 12])
        #expect(throws: DNSError.pointerLoop(offset: 16)) { try readName(m, at: 16) }
        // Two pointers pointing at each other's labels.
        let n = message([1, 97, 0xC0, 16, 1, 98, 0xC0, 12])
        #expect(throws: DNSError.self) { try readName(n, at: 16) }
        #expect(throws: DNSError.self) { try readName(n) }
        // A pointer to a pointer to a pointer … each strictly earlier is fine.
        let chain = message([1, 97, 0, 0xC0, 12, 0xC0, 15, 0xC0, 17])
        #expect(try readName(chain, at: 19).text == "a.")
    }

    @Test func reservedLabelTypesAreRejected() {
        #expect(throws: DNSError.badLabelType(offset: 12)) { try readName(message([0x40, 0])) }
        #expect(throws: DNSError.badLabelType(offset: 12)) { try readName(message([0x80, 0])) }
    }

    @Test func longNamesAndLabels() throws {
        // 64-octet label: its length byte has the 0x40 bit set.
        #expect(throws: DNSError.badLabelType(offset: 12)) {
            try readName(message([64] + [UInt8](repeating: 97, count: 64) + [0]))
        }
        // 255 octets is the maximum; 256 is refused.
        let l63 = [63] + [UInt8](repeating: 97, count: 63)
        let max = l63 + l63 + l63 + [61] + [UInt8](repeating: 98, count: 61) + [0]
        #expect(max.count == 255)
        #expect(try readName(message(max)).length == 255)
        let over = l63 + l63 + l63 + [62] + [UInt8](repeating: 98, count: 62) + [0]
        #expect(over.count == 256)
        #expect(throws: DNSError.nameTooLong(offset: 12)) { try readName(message(over)) }
        // 256 octets built with pointers: 4 × 64 through a chain.
        var m = message(l63 + [0])                          // 12: 63 a's, root
        m += l63 + [0xC0, 12]                               // 77
        m += l63 + [0xC0, 77]                               // 143
        m += [62] + [UInt8](repeating: 99, count: 62) + [0xC0, 143]
        #expect(throws: DNSError.nameTooLong(offset: 209)) { try readName(m, at: 209) }
        #expect(try readName(m, at: 143).length == 193)
    }

    @Test func manyLabelsAndHops() throws {
        // 127 one-octet labels is the most a 255-octet name can hold.
        let labels = [UInt8]((0..<127).flatMap { _ in [1, 120] as [UInt8] }) + [0]
        #expect(try readName(message(labels)).labels == 127)
        // One label per hop, 126 hops, each strictly backwards: valid.
        var m = message([1, 120, 0])
        var prev = 12
        for _ in 0..<126 {
            let here = m.count
            m += [1, 120, 0xC0 | UInt8(prev >> 8), UInt8(prev & 0xFF)]
            prev = here
        }
        let v = try readName(m, at: prev)
        #expect(v.labels == 127)
        #expect(v.end == m.count)
    }

    @Test func truncatedNamesThrow() {
        for body: [UInt8] in [[], [3], [3, 119], [3, 119, 119, 119], [0xC0], [1, 97, 0xC0]] {
            #expect(throws: DNSError.self) { try readName(message(body)) }
        }
    }

    /// Every strict prefix of every captured message fails cleanly, and the
    /// full message parses.
    @Test(arguments: CapturedPacketsTests.names)
    func everyPrefixOfRealMessagesThrows(_ name: String) throws {
        let c = try #require(Captured.named(name))
        for whole in [c.query, c.response] {
            #expect(decodeEverything(whole))
            for n in 0..<whole.count {
                #expect(!decodeEverything(Array(whole[0..<n])), "prefix \(n) of \(name) parsed")
            }
            // A trailing byte is refused too.
            #expect(!decodeEverything(whole + [0]))
        }
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix(state: 0x5EED)
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 96)
            var b = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Bias towards plausible headers so the sections get exercised.
            if b.count >= 12 { b[4] = 0; b[5] = 1; b[6] = 0; b[7] = UInt8(rng.next() % 3) }
            decodeEverything(b)
        }
    }

    @Test func mutatedRealMessagesNeverTrap() throws {
        var rng = SplitMix(state: 42)
        for c in Captured.all {
            for _ in 0..<400 {
                var b = c.response
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(b.count))
                    switch rng.next() % 3 {
                    case 0: b[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: b[i] = 0xC0 | UInt8(rng.next() % 4)
                    default: b[i] ^= 1 << UInt8(rng.next() % 8)
                    }
                }
                decodeEverything(b)
            }
        }
    }
}
