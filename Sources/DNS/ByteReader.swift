// Bounds-checked big-endian reads over borrowed bytes (RFC 1035 §2.3.2:
// network byte order). The one place where read offsets are computed: call
// sites never do offset arithmetic on input.

/// A cursor over bytes the caller owns and keeps alive while the reader is
/// used. Every read checks bounds and throws `DNSError.truncated(offset:)`
/// at the offset where data ran out; on a throw, `offset` is unchanged.
///
/// Hot-path safe: no method allocates.
public struct ByteReader {
    /// The whole buffer (a DNS message). Offsets are relative to its start.
    public let bytes: UnsafeRawBufferPointer
    /// The next byte to read. Invariant: `0 <= offset <= limit`.
    public private(set) var offset: Int
    /// Reads stop here (exclusive); at most `bytes.count`. Used to confine
    /// RDATA parsing to RDLENGTH.
    public private(set) var limit: Int

    /// A reader over all of `bytes`, starting at `offset` (clamped to the buffer).
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.limit = bytes.count
        self.offset = offset < 0 ? 0 : (offset > bytes.count ? bytes.count : offset)
    }

    /// Bytes left before `limit`.
    @inline(__always)
    public var remaining: Int { limit &- offset }

    /// True when nothing is left before `limit`.
    @inline(__always)
    public var isAtEnd: Bool { offset >= limit }

    /// The byte at absolute position `at`, or nil when outside the buffer
    /// (ignores `limit`: name decompression may point anywhere earlier).
    @inline(__always)
    public func byte(at position: Int) -> UInt8? {
        guard position >= 0, position < bytes.count else { return nil }
        return bytes[position]
    }

    /// Throws unless `count` bytes are available.
    @inline(__always)
    public func require(_ count: Int) throws(DNSError) {
        guard count >= 0, count <= limit &- offset else { throw .truncated(offset: offset) }
    }

    public mutating func readU8() throws(DNSError) -> UInt8 {
        try require(1)
        let v = bytes[offset]
        offset &+= 1
        return v
    }

    public mutating func readU16() throws(DNSError) -> UInt16 {
        try require(2)
        let v = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset &+ 1])
        offset &+= 2
        return v
    }

    public mutating func readU32() throws(DNSError) -> UInt32 {
        try require(4)
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[offset &+ i]) }
        offset &+= 4
        return v
    }

    /// The next `count` bytes, borrowed (no copy), and advances past them.
    public mutating func readBytes(_ count: Int) throws(DNSError) -> UnsafeRawBufferPointer {
        try require(count)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ count)])
        offset &+= count
        return slice
    }

    /// Advances `count` bytes without reading them.
    public mutating func skip(_ count: Int) throws(DNSError) {
        try require(count)
        offset &+= count
    }

    /// Moves to absolute position `to`, which must lie within `0...limit`.
    public mutating func seek(to position: Int) throws(DNSError) {
        guard position >= 0, position <= limit else { throw .truncated(offset: position) }
        offset = position
    }

    /// Runs `body` with reads confined to the next `count` bytes (e.g. one
    /// RDATA), then requires that `body` consumed exactly those bytes: fewer
    /// or more is `badRData(type, offset)` where offset is the RDATA start.
    public mutating func withLimit<T>(_ count: Int, type: UInt16,
                                      _ body: (inout ByteReader) throws(DNSError) -> T) throws(DNSError) -> T {
        try require(count)
        let start = offset
        let end = offset &+ count
        var sub = self
        sub.limit = end
        let value: T
        do {
            value = try body(&sub)
        } catch {
            if case .truncated = error { throw .badRData(type: type, offset: start) }
            throw error
        }
        guard sub.offset == end else { throw .badRData(type: type, offset: start) }
        offset = end
        return value
    }
}
