// SHA-256 (FIPS 180-4 §6.2) and HMAC (RFC 2104) over it: the MAC of TSIG
// (RFC 8945). Both are incremental values (init, update any number of
// times, finalize), so one MAC can cover several buffers — a header copy,
// the rest of a message, a record's fields — without concatenating them.
//
// Contracts:
// - `update` and `finalize` never allocate (state and the partial block
//   live inline in the value); copying a value forks the computation.
// - After `finalize` the value is spent: start again with `init`.
// - Loops, not unrolled rounds: the firmware budget counts bytes. The 64
//   round constants are the only table.

/// A hash function as HMAC uses it. Adding SHA-512 later means one more
/// conforming type; `HMAC` and TSIG's algorithm table take it from there.
public protocol HashFunction {
    /// Bytes of a digest (SHA-256: 32).
    static var digestSize: Int { get }
    /// Bytes of an input block (SHA-256: 64); HMAC pads its key to this.
    static var blockSize: Int { get }
    init()
    mutating func update(_ bytes: UnsafeRawBufferPointer)
    /// Writes the digest into `out[0..<min(out.count, digestSize)]`.
    mutating func finalize(into out: UnsafeMutableRawBufferPointer)
}

extension HashFunction {
    /// The digest as an array (allocates: tests and tools).
    public mutating func finalize() -> [UInt8] {
        var d = [UInt8](repeating: 0, count: Self.digestSize)
        d.withUnsafeMutableBytes { finalize(into: $0) }
        return d
    }

    /// The digest of `bytes` in one call (allocates).
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = Self()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalize()
    }
}

/// SHA-256 (FIPS 180-4 §6.2). A plain value of ~110 bytes.
public struct SHA256: HashFunction, Sendable {
    public static let digestSize = 32
    public static let blockSize = 64

    /// H(i), FIPS 180-4 §5.3.3 initially.
    var state: InlineArray<8, UInt32> = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    /// The partial block; `used` bytes of it are input.
    var block: InlineArray<64, UInt8> = .init(repeating: 0)
    var used = 0
    /// Input bytes so far (the length appended by the padding, §5.1.1).
    var total: UInt64 = 0

    public init() {}

    /// The round constants K (FIPS 180-4 §4.2.2).
    static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    @inline(__always)
    static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x &>> n | x &<< (32 &- n) }

    /// One block of the computation (§6.2.2), message schedule kept as a
    /// rolling window of 16 words.
    static func compress(_ h: inout InlineArray<8, UInt32>, _ p: UnsafeRawBufferPointer, at o: Int) {
        var w = InlineArray<16, UInt32>(repeating: 0)
        var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
        var t = 0
        while t < 64 {
            var wt: UInt32
            if t < 16 {
                let q = o &+ t &* 4
                wt = UInt32(p[q]) << 24 | UInt32(p[q &+ 1]) << 16 | UInt32(p[q &+ 2]) << 8 | UInt32(p[q &+ 3])
            } else {
                let w15 = w[(t &- 15) & 15], w2 = w[(t &- 2) & 15]
                let s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 &>> 3)
                let s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 &>> 10)
                wt = w[t & 15] &+ s0 &+ w[(t &- 7) & 15] &+ s1
            }
            w[t & 15] = wt
            let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[t] &+ wt
            let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            hh = g; g = f; f = e; e = d &+ t1
            d = c; c = b; b = a; a = t1 &+ t2
            t &+= 1
        }
        h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d
        h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
    }

    /// Hashes the buffered block (full).
    mutating func compressBlock() {
        withUnsafeBytes(of: &block) { SHA256.compress(&state, $0, at: 0) }
        used = 0
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        let n = bytes.count
        total &+= UInt64(n)
        // Top up a partial block first, then whole blocks straight from the input.
        while used != 0 && i < n {
            block[used] = bytes[i]
            used &+= 1
            i &+= 1
            if used == 64 { compressBlock() }
        }
        while n &- i >= 64 {
            SHA256.compress(&state, bytes, at: i)
            i &+= 64
        }
        while i < n {
            block[used] = bytes[i]
            used &+= 1
            i &+= 1
        }
    }

    /// Pads (§5.1.1: 0x80, zeros, the bit length) and writes the digest.
    public mutating func finalize(into out: UnsafeMutableRawBufferPointer) {
        let bits = total &<< 3
        block[used] = 0x80
        used &+= 1
        if used > 56 {
            while used < 64 { block[used] = 0; used &+= 1 }
            compressBlock()
        }
        while used < 56 { block[used] = 0; used &+= 1 }
        var s: UInt64 = 56
        while used < 64 {
            block[used] = UInt8(truncatingIfNeeded: bits &>> s)
            used &+= 1
            s &-= 8
        }
        compressBlock()
        var j = 0
        while j < 32 && j < out.count {
            out[j] = UInt8(truncatingIfNeeded: state[j &>> 2] &>> UInt32(24 &- (j & 3) &* 8))
            j &+= 1
        }
    }
}

/// HMAC (RFC 2104) over any `HashFunction`. The keyed inner and outer
/// states are computed once by `init(key:)`; copy the value to MAC many
/// messages under one key without redoing that.
public struct HMAC<H: HashFunction> {
    var inner: H
    var outer: H

    /// Keys longer than a block are hashed first (RFC 2104 §2). Block
    /// sizes up to 128 bytes (SHA-512's).
    @_optimize(size)
    public init(key: UnsafeRawBufferPointer) {
        var i = H()
        var o = H()
        var buffer = InlineArray<128, UInt8>(repeating: 0)
        withUnsafeMutableBytes(of: &buffer) { (all: UnsafeMutableRawBufferPointer) in
            let pad = UnsafeMutableRawBufferPointer(rebasing: all[0..<min(H.blockSize, all.count)])
            var j = 0
            if key.count > H.blockSize {
                var h = H()
                h.update(key)
                h.finalize(into: pad)
            } else {
                while j < key.count && j < pad.count { pad[j] = key[j]; j &+= 1 }
            }
            j = 0
            while j < pad.count { pad[j] ^= 0x36; j &+= 1 }
            i.update(UnsafeRawBufferPointer(pad))
            j = 0
            while j < pad.count { pad[j] ^= 0x36 ^ 0x5C; j &+= 1 }
            o.update(UnsafeRawBufferPointer(pad))
            j = 0
            while j < pad.count { pad[j] = 0; j &+= 1 }
        }
        inner = i
        outer = o
    }

    public init(key: [UInt8]) {
        self = key.withUnsafeBytes { HMAC(key: $0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { inner.update(bytes) }

    /// Writes the MAC (`H.digestSize` bytes, fewer if `out` is shorter).
    /// Digests up to 64 bytes (SHA-512's).
    public mutating func finalize(into out: UnsafeMutableRawBufferPointer) {
        var buffer = InlineArray<64, UInt8>(repeating: 0)
        withUnsafeMutableBytes(of: &buffer) { (all: UnsafeMutableRawBufferPointer) in
            let d = UnsafeMutableRawBufferPointer(rebasing: all[0..<min(H.digestSize, all.count)])
            inner.finalize(into: d)
            outer.update(UnsafeRawBufferPointer(d))
        }
        outer.finalize(into: out)
    }

    /// The MAC as an array (allocates).
    public mutating func finalize() -> [UInt8] {
        var d = [UInt8](repeating: 0, count: H.digestSize)
        d.withUnsafeMutableBytes { finalize(into: $0) }
        return d
    }
}

extension HMAC: Sendable where H: Sendable {}

/// Comparisons whose time does not depend on where inputs differ, so a MAC
/// check leaks nothing about how much of a forged MAC was right.
public enum ConstantTime {
    /// True when `a` and `b` hold the same bytes. Only the lengths (which
    /// are public) decide how long it takes.
    @inline(never)
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        var i = 0
        while i < a.count {
            diff |= a[i] ^ b[i]
            i &+= 1
        }
        return diff == 0
    }
}
