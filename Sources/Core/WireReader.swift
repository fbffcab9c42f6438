// Bounds-checked big-endian reads over borrowed bytes: the one place where
// read offsets into untrusted input are computed. Every wire decoder (DNS,
// DHCP, and the protocols to come) reads through it; call sites never do
// offset arithmetic on input.

/// The error a decoder throws when its input runs out: each wire format
/// has its own error type, and `WireReader` builds that type's
/// "truncated at offset" case.
public protocol WireFailure: Error {
    /// Input ended before a read of bytes at `offset` could be satisfied.
    static func truncated(at offset: Int) -> Self
    /// True for the value `truncated(at:)` builds.
    var isTruncation: Bool { get }
}

/// A cursor over bytes the caller owns and keeps alive while the reader is
/// used. Every read checks bounds and throws `Failure.truncated(at:)` at
/// the offset where data ran out; on a throw, `offset` is unchanged.
///
/// Hot-path safe: no method allocates. Inlinable so that each decoder gets
/// a specialized copy (no generic dispatch per byte).
@frozen
public struct WireReader<Failure: WireFailure> {
    /// The whole buffer (a message). Offsets are relative to its start.
    public let bytes: UnsafeRawBufferPointer
    @usableFromInline var position: Int
    @usableFromInline var end: Int

    /// The next byte to read. Invariant: `0 <= offset <= limit`.
    @inlinable public var offset: Int { position }
    /// Reads stop here (exclusive); at most `bytes.count`. Confines a
    /// sub-parse (one RDATA, one option) to its declared length.
    @inlinable public var limit: Int { end }

    /// A reader over all of `bytes`, starting at `offset` (clamped to the buffer).
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        end = bytes.count
        position = offset < 0 ? 0 : (offset > bytes.count ? bytes.count : offset)
    }

    /// Bytes left before `limit`.
    @inlinable @inline(__always)
    public var remaining: Int { limit &- offset }

    /// True when nothing is left before `limit`.
    @inlinable @inline(__always)
    public var isAtEnd: Bool { offset >= limit }

    /// The byte at absolute position `at`, or nil when outside the buffer
    /// (ignores `limit`: DNS name decompression may point anywhere earlier).
    @inlinable @inline(__always)
    public func byte(at position: Int) -> UInt8? {
        guard position >= 0, position < bytes.count else { return nil }
        return bytes[position]
    }

    /// Throws unless `count` bytes are available.
    @inlinable @inline(__always)
    public func require(_ count: Int) throws(Failure) {
        guard count >= 0, count <= limit &- offset else { throw Failure.truncated(at: offset) }
    }

    @inlinable
    public mutating func readU8() throws(Failure) -> UInt8 {
        try require(1)
        let v = bytes[offset]
        position &+= 1
        return v
    }

    @inlinable
    public mutating func readU16() throws(Failure) -> UInt16 {
        try require(2)
        let v = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset &+ 1])
        position &+= 2
        return v
    }

    @inlinable
    public mutating func readU32() throws(Failure) -> UInt32 {
        try require(4)
        var v: UInt32 = 0
        var i = 0
        while i < 4 {
            v = v << 8 | UInt32(bytes[offset &+ i])
            i &+= 1
        }
        position &+= 4
        return v
    }

    /// The next `count` bytes, borrowed (no copy), and advances past them.
    @inlinable
    public mutating func readBytes(_ count: Int) throws(Failure) -> UnsafeRawBufferPointer {
        try require(count)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ count)])
        position &+= count
        return slice
    }

    /// Advances `count` bytes without reading them.
    @inlinable
    public mutating func skip(_ count: Int) throws(Failure) {
        try require(count)
        position &+= count
    }

    /// Moves to absolute position `to`, which must lie within `0...limit`.
    @inlinable
    public mutating func seek(to position: Int) throws(Failure) {
        guard position >= 0, position <= limit else { throw Failure.truncated(at: position) }
        self.position = position
    }

    /// Runs `body` with reads confined to the next `count` bytes (e.g. one
    /// RDATA or one option), then requires that `body` consumed exactly
    /// those bytes. Running out inside, or stopping short, throws
    /// `mismatch(start)` where start is the offset of the confined region.
    @inlinable
    public mutating func withLimit<T>(_ count: Int, mismatch: (Int) -> Failure,
                                      _ body: (inout WireReader) throws(Failure) -> T) throws(Failure) -> T {
        try require(count)
        let start = offset
        let end = offset &+ count
        var sub = self
        sub.end = end
        let value: T
        do {
            value = try body(&sub)
        } catch {
            if error.isTruncation { throw mismatch(start) }
            throw error
        }
        guard sub.offset == end else { throw mismatch(start) }
        position = end
        return value
    }
}
