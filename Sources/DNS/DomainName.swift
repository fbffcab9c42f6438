// An owned domain name in uncompressed wire form (RFC 1035 §3.1): a sequence
// of length-prefixed labels ending with the zero-length root label. Case is
// preserved as given; equality, hashing and ordering ignore ASCII case
// (RFC 4343) and ordering is canonical DNS order (RFC 4034 §6.1).

/// An owned, validated domain name.
///
/// Invariants: `wire` is 1…255 bytes, every label is 1…63 bytes, and the
/// last byte is the root label 0.
public struct DomainName: Hashable, Comparable, CustomStringConvertible, Sendable {
    /// Uncompressed wire form, case preserved.
    public private(set) var wire: [UInt8]

    /// The root name ".".
    public static let root = DomainName(trustedWire: [0])

    /// Wraps bytes already known to satisfy the invariants.
    init(trustedWire: [UInt8]) { self.wire = trustedWire }

    /// Validates uncompressed wire bytes (no pointers allowed).
    public init(wire bytes: [UInt8]) throws(DNSError) {
        var i = 0
        while true {
            guard i < bytes.count else { throw .truncated(offset: i) }
            let n = Int(bytes[i])
            if n == 0 { break }
            guard n & 0xC0 == 0 else { throw .badLabelType(offset: i) }
            i &+= n &+ 1
            guard i < 255 else { throw .nameTooLong(offset: 0) }
        }
        guard i &+ 1 == bytes.count else { throw .trailingData(offset: i &+ 1) }
        self.wire = bytes
    }

    public var isRoot: Bool { wire.count == 1 }

    /// Number of labels, not counting the root ("www.example.com." has 3).
    public var labelCount: Int {
        var n = 0
        var i = 0
        while i < wire.count, wire[i] != 0 {
            n &+= 1
            i &+= Int(wire[i]) &+ 1
        }
        return n
    }

    /// The labels, leftmost first (allocates).
    public var labels: [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < wire.count, wire[i] != 0 {
            let n = Int(wire[i])
            out.append(Array(wire[(i &+ 1)..<(i &+ 1 &+ n)]))
            i &+= n &+ 1
        }
        return out
    }

    /// Offsets in `wire` where each label's length byte is, leftmost first.
    /// Offset `k` starts the suffix that drops the first `k` labels.
    public var labelOffsets: [Int] {
        var out: [Int] = []
        var i = 0
        while i < wire.count, wire[i] != 0 {
            out.append(i)
            i &+= Int(wire[i]) &+ 1
        }
        return out
    }

    /// The name without its leftmost label; nil for the root.
    public var parent: DomainName? {
        guard !isRoot else { return nil }
        let n = Int(wire[0])
        return DomainName(trustedWire: Array(wire[(n &+ 1)...]))
    }

    /// The name with `label` prepended; throws if the label is empty, longer
    /// than 63 octets, or the result longer than 255.
    public func prepending(label: [UInt8]) throws(DNSError) -> DomainName {
        guard !label.isEmpty else { throw .badPresentation("empty label") }
        guard label.count <= 63 else { throw .labelTooLong(offset: -1) }
        guard wire.count &+ label.count &+ 1 <= 255 else { throw .nameTooLong(offset: -1) }
        return DomainName(trustedWire: [UInt8(label.count)] + label + wire)
    }

    /// `self` followed by `suffix` (for relative names): `self` must not be
    /// absolute in intent; its root byte is dropped.
    public func appending(_ suffix: DomainName) throws(DNSError) -> DomainName {
        let total = wire.count &- 1 &+ suffix.wire.count
        guard total <= 255 else { throw .nameTooLong(offset: -1) }
        return DomainName(trustedWire: Array(wire.dropLast()) + suffix.wire)
    }

    /// True when `self` equals `other` or lies below it (label-wise,
    /// case-insensitive): "a.b.example" is a subdomain of "example" but
    /// "xexample" is not.
    public func isSubdomain(of other: DomainName) -> Bool {
        let d = wire.count &- other.wire.count
        guard d >= 0 else { return false }
        return wire.withUnsafeBufferPointer { w in
            other.wire.withUnsafeBufferPointer { o in
                // The suffix must start at a label boundary.
                var i = 0
                while i < d { i &+= Int(w[i]) &+ 1 }
                guard i == d else { return false }
                var k = 0
                while k < o.count {
                    if asciiLower(w[d &+ k]) != asciiLower(o[k]) { return false }
                    k &+= 1
                }
                return true
            }
        }
    }

    /// A copy with ASCII letters lowercased (the canonical form of RFC 4034 §6.2).
    public var lowercased: DomainName {
        var w = wire
        var i = 0
        while i < w.count, w[i] != 0 {
            let n = Int(w[i])
            for k in (i &+ 1)..<(i &+ 1 &+ n) { w[k] = asciiLower(w[k]) }
            i &+= n &+ 1
        }
        return DomainName(trustedWire: w)
    }

    /// A hash of the lowercased labels, rightmost label first (the root,
    /// then each label's length and bytes; `hashLabelsRightToLeft`): equal for names that
    /// compare equal and for a `NameView` of the same name, and the hash of
    /// every suffix is an intermediate value (see `SuffixHashes`).
    public var caseInsensitiveHash: UInt64 {
        wire.withUnsafeBytes { w in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 128) { starts in
                var n = 0
                var i = 0
                while i < w.count && n < 128 {
                    let len = Int(w[i])
                    if len == 0 { break }
                    starts[n] = Int32(truncatingIfNeeded: i)
                    n &+= 1
                    i &+= len &+ 1
                }
                return hashLabelsRightToLeft(w, starts: starts, count: n) { _, _ in }
            }
        }
    }

    public static func == (a: DomainName, b: DomainName) -> Bool {
        guard a.wire.count == b.wire.count else { return false }
        return a.wire.withUnsafeBufferPointer { x in
            b.wire.withUnsafeBufferPointer { y in
                if x.baseAddress == y.baseAddress { return true }   // one name, shared
                // Length bytes are < 0x40 and never altered by asciiLower.
                var i = 0
                while i < x.count {
                    if x[i] != y[i] && asciiLower(x[i]) != asciiLower(y[i]) { return false }
                    i &+= 1
                }
                return true
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(caseInsensitiveHash)
    }

    /// Canonical DNS name order (RFC 4034 §6.1): compare labels right to
    /// left as lowercase octet strings; a missing label sorts first.
    public static func < (a: DomainName, b: DomainName) -> Bool {
        canonicalCompare(a, b) < 0
    }

    /// -1, 0 or 1 by canonical order (RFC 4034 §6.1).
    public static func canonicalCompare(_ a: DomainName, _ b: DomainName) -> Int {
        let la = a.labelOffsets
        let lb = b.labelOffsets
        var i = la.count &- 1
        var j = lb.count &- 1
        while i >= 0 && j >= 0 {
            let c = compareLabel(a.wire, la[i], b.wire, lb[j])
            if c != 0 { return c }
            i &-= 1
            j &-= 1
        }
        if i < 0 && j < 0 { return 0 }
        return i < 0 ? -1 : 1
    }

    /// Compares the labels at `x[p]` and `y[q]` as lowercase octet strings.
    static func compareLabel(_ x: [UInt8], _ p: Int, _ y: [UInt8], _ q: Int) -> Int {
        let nx = Int(x[p])
        let ny = Int(y[q])
        let n = nx < ny ? nx : ny
        for k in 1...max(n, 1) where k <= n {
            let cx = asciiLower(x[p &+ k])
            let cy = asciiLower(y[q &+ k])
            if cx != cy { return cx < cy ? -1 : 1 }
        }
        return nx == ny ? 0 : (nx < ny ? -1 : 1)
    }
}
