// SHA-256 against the FIPS 180-4 examples (NIST CSRC "SHA256.pdf" and the
// long-message vector), HMAC-SHA256 against RFC 4231 §4.2–§4.8, and the
// incremental interface against one-shot hashing on random splits.

import Core
import Testing

private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

private func bytes(_ hex: String) -> [UInt8] {
    let h = Array(hex.utf8)
    return stride(from: 0, to: h.count, by: 2).map { UInt8(String(decoding: h[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
}

/// SplitMix64: reproducible "random" splits.
private struct Rng {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}

private func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
    var m = HMAC<SHA256>(key: key)
    data.withUnsafeBytes { m.update($0) }
    return m.finalize()
}

@Suite struct SHA256Tests {
    @Test func fipsExamples() {
        #expect(hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // 448 bits: the padding needs a second block.
        #expect(hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // 896 bits.
        #expect(hex(SHA256.hash(Array(("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                                        + "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu").utf8)))
            == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    @Test func oneMillionA() {
        var h = SHA256()
        let chunk = [UInt8](repeating: 0x61, count: 1000)
        chunk.withUnsafeBytes { raw in
            for _ in 0..<1000 { h.update(raw) }
        }
        #expect(hex(h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func paddingBoundaries() {
        // Lengths around 55/56/64 bytes switch between one and two padding
        // blocks; each must match the same bytes hashed one at a time.
        for n in [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128] {
            let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            var h = SHA256()
            for b in data { [b].withUnsafeBytes { h.update($0) } }
            #expect(h.finalize() == SHA256.hash(data), "length \(n)")
        }
    }

    @Test func rfc4231() {
        let key20x0b = [UInt8](repeating: 0x0B, count: 20)
        let key131 = [UInt8](repeating: 0xAA, count: 131)
        // §4.2 test case 1 … §4.8 test case 7.
        let cases: [(key: [UInt8], data: [UInt8], mac: String)] = [
            (key20x0b, Array("Hi There".utf8),
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            ([UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (Array(1...25), [UInt8](repeating: 0xCD, count: 50),
             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            // Test case 5 gives the MAC truncated to 128 bits.
            ([UInt8](repeating: 0x0C, count: 20), Array("Test With Truncation".utf8),
             "a3b6167473100ee06e0c796c2955552b"),
            (key131, Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            (key131, Array(("This is a test using a larger than block-size key and a larger than block-size data. "
                            + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ]
        for (i, c) in cases.enumerated() {
            let mac = hmac(c.key, c.data)
            #expect(hex(Array(mac.prefix(c.mac.utf8.count / 2))) == c.mac, "RFC 4231 test case \(i + 1)")
        }
        // A short output buffer gets the leading bytes (the truncated MAC).
        var m = HMAC<SHA256>(key: [UInt8](repeating: 0x0C, count: 20))
        Array("Test With Truncation".utf8).withUnsafeBytes { m.update($0) }
        var out = [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBytes { m.finalize(into: $0) }
        #expect(out == bytes("a3b6167473100ee06e0c796c2955552b"))
    }

    @Test func incrementalEqualsOneShotOnRandomSplits() {
        var rng = Rng(state: 8945)
        for round in 0..<200 {
            let n = rng.next(700)
            let data = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next(256)) }
            let key = (0..<rng.next(150)).map { _ in UInt8(truncatingIfNeeded: rng.next(256)) }
            var h = SHA256()
            var m = HMAC<SHA256>(key: key)
            var i = 0
            data.withUnsafeBytes { raw in
                while i < n {
                    let k = min(n - i, rng.next(130))
                    let piece = UnsafeRawBufferPointer(rebasing: raw[i..<(i + k)])
                    h.update(piece)
                    m.update(piece)
                    i += k
                }
            }
            #expect(h.finalize() == SHA256.hash(data), "round \(round), \(n) bytes")
            #expect(m.finalize() == hmac(key, data), "round \(round), \(n) bytes")
        }
    }

    @Test func keyedStateCanBeCopied() {
        // One keyed HMAC value serves many messages (what TSIG keys do).
        let keyed = HMAC<SHA256>(key: Array("Jefe".utf8))
        var a = keyed
        var b = keyed
        Array("what do ya want for nothing?".utf8).withUnsafeBytes { a.update($0) }
        Array("Hi There".utf8).withUnsafeBytes { b.update($0) }
        #expect(hex(a.finalize()) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(b.finalize() == hmac(Array("Jefe".utf8), Array("Hi There".utf8)))
    }

    @Test func constantTimeEquals() {
        let a: [UInt8] = [1, 2, 3, 4]
        a.withUnsafeBytes { x in
            ([1, 2, 3, 4] as [UInt8]).withUnsafeBytes { #expect(ConstantTime.equals(x, $0)) }
            ([1, 2, 3, 5] as [UInt8]).withUnsafeBytes { #expect(!ConstantTime.equals(x, $0)) }
            ([9, 2, 3, 4] as [UInt8]).withUnsafeBytes { #expect(!ConstantTime.equals(x, $0)) }
            ([1, 2, 3] as [UInt8]).withUnsafeBytes { #expect(!ConstantTime.equals(x, $0)) }
            #expect(ConstantTime.equals(UnsafeRawBufferPointer(rebasing: x[0..<0]), UnsafeRawBufferPointer(start: nil, count: 0)))
        }
    }
}
