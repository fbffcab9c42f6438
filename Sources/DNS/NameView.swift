// A domain name borrowed from a received message, possibly compressed
// (RFC 1035 §4.1.4). Reading validates the whole pointer chain once; later
// walks over the labels can then not fail. Nothing here allocates.

/// A validated name inside a message the caller keeps alive.
///
/// Decompression rules enforced by `read(_:)`:
/// - label lengths are 0…63 (top bits 00) or a pointer (top bits 11); 01
///   and 10 are `badLabelType`;
/// - a pointer must target the message body (>= 12, past the header) and a
///   position strictly before the start of the segment that contains it.
///   Segment starts therefore strictly decrease, so no loop is possible;
///   targets at or after the pointer itself are `badPointer`, other targets
///   inside the current segment are `pointerLoop`;
/// - at most `maxHops` pointers are followed;
/// - the uncompressed name is at most 255 octets (RFC 1035 §2.3.4).
///
/// Hot-path safe: every member is allocation-free except `domainName`.
import Core

public struct NameView {
    /// The whole message the name lives in.
    public let message: UnsafeRawBufferPointer
    /// Offset of the name's first byte in `message`.
    public let offset: Int
    /// Length of the uncompressed wire form, including the root byte (1…255).
    public let wireLength: Int
    /// Number of labels, not counting the root.
    public let labelCount: Int
    /// True when the name is stored uncompressed: its `wireLength` bytes
    /// from `offset` are the whole name (no pointer to follow).
    public let isContiguous: Bool

    /// Pointers followed at most while reading one name.
    public static let maxHops = 128
    /// Offsets below this are the header: no name starts there.
    public static let headerSize = 12

    /// Reads and validates the name at `reader.offset`, advancing the reader
    /// past the name's in-place part (through its first pointer or root byte).
    public static func read(_ reader: inout ByteReader) throws(DNSError) -> NameView {
        let start = reader.offset
        // Labels in place up to the root byte, no pointer: nearly every
        // question name. Anything else (a pointer, a reserved label type,
        // too long, past the limit) is walked again below, which decides.
        let m = reader.bytes
        let limit = reader.limit <= m.count ? reader.limit : m.count
        var at = start
        var inPlace = 1
        var count = 0
        while at >= 0 && at < limit {
            let n = Int(m[at])
            if n == 0 {
                try reader.seek(to: at &+ 1)
                return NameView(message: m, offset: start, wireLength: inPlace, labelCount: count, isContiguous: true)
            }
            if n > 63 { break }
            inPlace &+= n &+ 1
            if inPlace > 255 { break }
            at &+= n &+ 1
            count &+= 1
        }
        var pos = start
        var segmentStart = start
        var length = 1          // the root byte
        var labels = 0
        var hops = 0
        var inPlaceEnd = -1     // where the reader resumes
        while true {
            guard pos < reader.limit || inPlaceEnd >= 0, let b = reader.byte(at: pos) else {
                throw .truncated(offset: pos)
            }
            switch b & 0xC0 {
            case 0x00:
                if b == 0 {
                    if inPlaceEnd < 0 { inPlaceEnd = pos &+ 1 }
                    try reader.seek(to: inPlaceEnd)
                    return NameView(message: reader.bytes, offset: start, wireLength: length, labelCount: labels,
                                    isContiguous: hops == 0)
                }
                let n = Int(b)
                length &+= n &+ 1
                guard length <= 255 else { throw .nameTooLong(offset: start) }
                let next = pos &+ 1 &+ n
                // Labels in place must fit before the reader's limit; labels
                // reached through a pointer must fit in the message.
                guard next < (inPlaceEnd < 0 ? reader.limit : reader.bytes.count) else {
                    throw .truncated(offset: inPlaceEnd < 0 ? reader.limit : reader.bytes.count)
                }
                labels &+= 1
                pos = next
            case 0xC0:
                guard let b2 = reader.byte(at: pos &+ 1), pos &+ 1 < (inPlaceEnd < 0 ? reader.limit : reader.bytes.count) else {
                    throw .truncated(offset: pos &+ 1)
                }
                let target = Int(b & 0x3F) << 8 | Int(b2)
                guard target >= headerSize, target < pos else { throw .badPointer(offset: pos) }
                guard target < segmentStart else { throw .pointerLoop(offset: start) }
                hops &+= 1
                guard hops <= maxHops else { throw .pointerLoop(offset: start) }
                if inPlaceEnd < 0 { inPlaceEnd = pos &+ 2 }
                pos = target
                segmentStart = target
            default:
                throw .badLabelType(offset: pos)
            }
        }
    }

    /// True for the root name ".".
    public var isRoot: Bool { labelCount == 0 }

    /// Iterates the labels, leftmost first, as borrowed bytes (case as sent).
    public struct Labels: Sequence, IteratorProtocol {
        let message: UnsafeRawBufferPointer
        var pos: Int
        var left: Int
        public mutating func next() -> UnsafeRawBufferPointer? {
            // The chain was validated by `read`; the checks below only keep a
            // hand-built view from trapping.
            var hops = 0
            guard left > 0, NameView.followPointers(message, &pos, &hops) else { return nil }
            let n = Int(message[pos] & 0x3F)
            guard pos &+ 1 &+ n <= message.count else { return nil }
            let label = UnsafeRawBufferPointer(rebasing: message[(pos &+ 1)..<(pos &+ 1 &+ n)])
            pos &+= 1 &+ n
            left &-= 1
            return label
        }
    }

    public var labels: Labels { Labels(message: message, pos: offset, left: labelCount) }

    /// Moves `pos` past any compression pointers to the next label's length
    /// byte. False when the chain leaves `message` or exceeds `maxHops`
    /// (only a hand-built view can do that; `read` validated the rest).
    @inline(__always)
    static func followPointers(_ message: UnsafeRawBufferPointer, _ pos: inout Int, _ hops: inout Int) -> Bool {
        while pos >= 0, pos < message.count {
            let b = message[pos]
            guard b & 0xC0 == 0xC0 else { return true }
            guard pos &+ 1 < message.count, hops < NameView.maxHops else { return false }
            pos = Int(b & 0x3F) << 8 | Int(message[pos &+ 1])
            hops &+= 1
        }
        return false
    }

    /// The name without its first `k` labels ("example.com" for k = 1 of
    /// "www.example.com"), still borrowed; nil when `k` exceeds
    /// `labelCount`. Used to find the closest enclosing zone without copying.
    public func dropping(labels k: Int) -> NameView? {
        guard k >= 0, k <= labelCount else { return nil }
        var pos = offset
        var length = wireLength
        var dropped = 0
        var hops = 0
        while dropped < k {
            guard NameView.followPointers(message, &pos, &hops) else { return nil }
            let b = message[pos]
            pos &+= Int(b) &+ 1
            length &-= Int(b) &+ 1
            dropped &+= 1
        }
        return NameView(message: message, offset: pos, wireLength: length, labelCount: labelCount &- k,
                        isContiguous: isContiguous)
    }

    /// True when the name equals `zone` or lies below it (label-wise,
    /// case-insensitive). Allocation-free.
    public func isSubdomain(of zone: DomainName) -> Bool {
        let zoneLabels = zone.labelCount
        guard zoneLabels <= labelCount, let suffix = dropping(labels: labelCount &- zoneLabels) else { return false }
        return suffix.equals(zone)
    }

    /// Copies the uncompressed wire form (case preserved) into `out`, which
    /// must hold `wireLength` bytes; returns the bytes written, or nil if
    /// `out` is too small.
    public func copyWire(into out: UnsafeMutableRawBufferPointer) -> Int? {
        guard out.count >= wireLength else { return nil }
        var i = 0
        for label in labels {
            out[i] = UInt8(truncatingIfNeeded: label.count)
            i &+= 1
            for b in label {
                out[i] = b
                i &+= 1
            }
        }
        out[i] = 0
        return i &+ 1
    }

    /// Case-insensitive equality with an owned name (RFC 4343), no allocation.
    public func equals(_ other: DomainName) -> Bool {
        guard other.wire.count == wireLength else { return false }
        return other.wire.withUnsafeBytes { w in
            var i = 0
            for label in labels {
                guard i < w.count, Int(w[i]) == label.count else { return false }
                i &+= 1
                for b in label {
                    guard i < w.count, asciiLower(b) == asciiLower(w[i]) else { return false }
                    i &+= 1
                }
            }
            return i < w.count && w[i] == 0
        }
    }

    /// Case-insensitive equality with another view (maybe in another message).
    public func equals(_ other: NameView) -> Bool {
        guard other.wireLength == wireLength, other.labelCount == labelCount else { return false }
        var a = labels
        var b = other.labels
        while let x = a.next() {
            guard let y = b.next(), x.count == y.count else { return false }
            for i in 0..<x.count where asciiLower(x[i]) != asciiLower(y[i]) { return false }
        }
        return true
    }

    /// The same value as `DomainName.caseInsensitiveHash` for an equal name.
    public var caseInsensitiveHash: UInt64 {
        SuffixHashes(self).hash(droppingLabels: 0)
    }

    /// An owned copy (allocates; not for the hot path).
    public var domainName: DomainName {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(wireLength)
        for label in labels {
            bytes.append(UInt8(truncatingIfNeeded: label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
        return DomainName(trustedWire: bytes)
    }
}

/// ASCII lowercase of one byte; other bytes unchanged (RFC 4343 §3).
@inlinable @inline(__always)
public func asciiLower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

/// The shared name hash of `NameView` and `DomainName` (no seed: the same
/// in every process, never stored). Labels are taken right to left, eight
/// bytes at a time: each label's length byte and its lowercased bytes, in
/// little-endian words (the last one zero-padded), each word multiplied
/// in. A label's words spell it unambiguously (its length comes first),
/// and a suffix's hash is an intermediate value of the whole name's.
/// `starts[0..<n]` are the offsets of the labels' length bytes in
/// `bytes`, leftmost first. Calls `suffix(k, hash)` for k = n (the root)
/// down to 0 (the whole name), and returns the whole name's hash. The one
/// definition behind `DomainName.caseInsensitiveHash` and `SuffixHashes`.
@inline(__always)
func hashLabelsRightToLeft(_ bytes: UnsafeRawBufferPointer, starts: UnsafeMutableBufferPointer<Int32>, count n: Int,
                           _ suffix: (Int, UInt64) -> Void) -> UInt64 {
    var h = NameHash()
    h.add(0)
    suffix(n, h.value)
    guard let base = bytes.baseAddress else { return h.value }
    let count = bytes.count
    var k = n &- 1
    while k >= 0 {
        let p = Int(starts[k])
        guard p >= 0 && p < count else { break }
        // The label's bytes: its length byte and up to 63 more, cut at the
        // end of the buffer (a validated name never is).
        var end = p &+ 1 &+ Int(base.load(fromByteOffset: p, as: UInt8.self))
        if end > count { end = count }
        var at = p
        while at < end {
            let take = end &- at
            var w: UInt64
            if at &+ 8 <= count {
                w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                if take < 8 { w &= (1 &<< UInt64(take &* 8)) &- 1 }
            } else {
                w = 0
                var i = 0
                while i < take && i < 8 {
                    w |= UInt64(base.load(fromByteOffset: at &+ i, as: UInt8.self)) &<< UInt64(i &* 8)
                    i &+= 1
                }
            }
            // Length bytes are < 0x40: lowercasing leaves them alone.
            h.add(asciiLower8(w))
            at &+= 8
        }
        suffix(k, h.value)
        k &-= 1
    }
    return h.value
}

@usableFromInline
struct NameHash {
    @usableFromInline var value: UInt64 = 0xcbf2_9ce4_8422_2325
    @inlinable init() {}
    /// One word in: a multiply, and the high half folded down so that
    /// the low bits (a table's slot index) depend on every input bit.
    @inlinable @inline(__always)
    mutating func add(_ w: UInt64) {
        let m = (value ^ w) &* 0x9E37_79B9_7F4A_7C15
        value = m ^ (m >> 29)
    }
}
