// Address prefix sets for access checks on the hot path.

/// A set of address prefixes (who may recurse, transfer a zone, use the
/// API). Matching allocates nothing; an IPv4-mapped IPv6 peer matches as IPv4.
public struct AccessList {
    struct Entry {
        var v4: Bool
        var addr: (UInt64, UInt64)
        var mask: (UInt64, UInt64)
    }
    var entries: [Entry] = []

    public init() {}

    /// Adds a prefix: 4 or 16 address bytes and a prefix length in bits.
    public mutating func add(bytes: [UInt8], prefix: Int) {
        guard bytes.count == 4 || bytes.count == 16 else { return }
        var a: (UInt64, UInt64) = (0, 0)
        var m: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &a) { dst in for i in 0..<bytes.count { dst[i] = bytes[i] } }
        withUnsafeMutableBytes(of: &m) { dst in
            var bits = max(0, min(prefix, bytes.count * 8))
            var i = 0
            while bits > 0 {
                dst[i] = bits >= 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                bits -= 8
                i += 1
            }
        }
        entries.append(Entry(v4: bytes.count == 4, addr: (a.0 & m.0, a.1 & m.1), mask: m))
    }

    public var isEmpty: Bool { entries.isEmpty }

    public func contains(_ peer: SocketAddress) -> Bool {
        var raw = peer.rawBytes
        var v4 = peer.family == .v4
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is IPv4.
        if !v4 && raw.0 == 0 && (raw.1 & 0xFFFF_FFFF) == 0xFFFF_0000 {
            raw = (raw.1 >> 32, 0)
            v4 = true
        }
        for e in entries where e.v4 == v4 {
            if raw.0 & e.mask.0 == e.addr.0 && raw.1 & e.mask.1 == e.addr.1 { return true }
        }
        return false
    }
}
