import Core
import Testing

enum TestFailure: WireFailure, Equatable {
    case short(Int)
    case bad(Int)
    static func truncated(at offset: Int) -> TestFailure { .short(offset) }
    var isTruncation: Bool { if case .short = self { return true } else { return false } }
}

@Suite struct WireReaderTests {
    @Test func readsBigEndianAndStopsAtTheEnd() throws {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
            var r = WireReader<TestFailure>(raw)
            #expect(try r.readU8() == 1)
            #expect(try r.readU16() == 0x0203)
            #expect(try r.readU32() == 0x0405_0607)
            #expect(r.isAtEnd)
            #expect(throws: TestFailure.short(7)) { try r.readU8() }
            // A failed read leaves the position alone.
            #expect(r.offset == 7)
        }
    }

    @Test func borrowsBytesWithoutCopying() throws {
        let bytes: [UInt8] = [9, 8, 7, 6]
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
            var r = WireReader<TestFailure>(raw, offset: 1)
            let slice = try r.readBytes(2)
            #expect(slice.baseAddress == raw.baseAddress! + 1)
            #expect(Array(slice) == [8, 7])
            #expect(throws: TestFailure.short(3)) { try r.readBytes(2) }
        }
    }

    @Test func withLimitConfinesAndRequiresExactUse() throws {
        let bytes: [UInt8] = [0, 2, 0xAA, 0xBB, 0xCC]
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
            var r = WireReader<TestFailure>(raw)
            let len = Int(try r.readU16())
            let v = try r.withLimit(len, mismatch: { TestFailure.bad($0) }) { (s: inout WireReader<TestFailure>) throws(TestFailure) -> UInt16 in
                try s.readU16()
            }
            #expect(v == 0xAABB)
            #expect(r.offset == 4)
            var again = WireReader<TestFailure>(raw, offset: 2)
            // Reading past the confined region is the mismatch, at its start.
            #expect(throws: TestFailure.bad(2)) {
                try again.withLimit(1, mismatch: { TestFailure.bad($0) }) { (s: inout WireReader<TestFailure>) throws(TestFailure) in
                    _ = try s.readU16()
                }
            }
            // Stopping short is a mismatch too.
            #expect(throws: TestFailure.bad(2)) {
                try again.withLimit(2, mismatch: { TestFailure.bad($0) }) { (s: inout WireReader<TestFailure>) throws(TestFailure) in
                    _ = try s.readU8()
                }
            }
        }
    }

    @Test func offsetsOutsideTheBufferAreClampedOrRefused() throws {
        let bytes: [UInt8] = [1, 2]
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
            var r = WireReader<TestFailure>(raw, offset: 99)
            #expect(r.offset == 2)
            #expect(r.byte(at: -1) == nil)
            #expect(r.byte(at: 1) == 2)
            #expect(throws: TestFailure.short(5)) { try r.seek(to: 5) }
            #expect(throws: TestFailure.short(2)) { try r.skip(-1) }
        }
    }
}

@Suite struct BackoffTests {
    @Test func doublesFromTheInitialDelayUpToTheCap() {
        var b = Backoff(initialMs: 500, maxMs: 30_000)
        #expect(b.delay == 0)
        #expect([b.fail(), b.fail(), b.fail(), b.fail()] == [500, 1000, 2000, 4000])
        for _ in 0..<20 { b.fail() }
        #expect(b.delay == 30_000)
        b.reset()
        #expect(b.fail() == 500)
    }

    @Test func hugeFailureCountsDoNotOverflow() {
        let b = Backoff(initialMs: 1000, maxMs: 8000)
        #expect(b.delay(afterFailures: 64) == 8000)
        #expect(b.delay(afterFailures: Int.max) == 8000)
    }
}

@Suite struct TokenBucketTests {
    @Test func startsFullRefillsAtItsRateAndCapsTheBurst() {
        var t = TokenBucket(ratePerSecond: 10, burst: 10, now: 0)
        for _ in 0..<10 { do { let ok = t.take(now: 0); #expect(ok) } }
        do { let ok = t.take(now: 0); #expect(!ok) }
        do { let w = t.wait(now: 0); #expect(w == 100_000_000) }
        do { let ok = t.take(now: 50_000_000); #expect(!ok) }
        do { let ok = t.take(now: 100_000_000); #expect(ok) }
        // An hour idle saves up only the burst.
        var n = 0
        while t.take(now: 3_600_000_000_000) { n += 1 }
        #expect(n == 10)
    }

    @Test func pacesThirtyTwoAMillisecond() {
        var t = TokenBucket(ratePerSecond: 32_000, burst: 128, now: 0)
        var sent = 0
        while t.take(now: 0) { sent += 1 }
        #expect(sent == 128)
        while t.take(now: 1_000_000) { sent += 1 }
        #expect(sent == 160)
    }
}

@Suite struct TextTests {
    @Test func macAddressesRoundTrip() {
        #expect(Text.mac([0xAA, 0x0B, 0, 1, 0xFF, 0x10]) == "aa:0b:00:01:ff:10")
        #expect(Text.parseMAC("aa:0b:00:01:ff:10") == [0xAA, 0x0B, 0, 1, 0xFF, 0x10])
        #expect(Text.parseMAC("aa:0b:00:01:ff") == nil)
        #expect(Text.parseMAC("aa:0b:00:01:ff:1") == nil)
        #expect(Text.parseMAC("zz:0b:00:01:ff:10") == nil)
    }

    @Test func asciiCaseOnly() {
        #expect(Text.lowercased("WwW.Example.COM.") == "www.example.com.")
        #expect(Text.uppercased("aaaa-ß") == "AAAA-ß")
        #expect(Text.trimmed(" \tx y \t"[...]) == "x y")
    }
}
