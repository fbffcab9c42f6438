// Bounds-checked big-endian writes into a buffer the caller owns. Running out
// of room is an ordinary outcome (`DNSError.noRoom`), never a trap: the DNS
// server answers it by truncating at a record boundary and setting TC.

/// A cursor writing into caller-owned memory.
///
/// Contract: a write that does not fit throws `.noRoom` and leaves both the
/// buffer contents before `count` and `count` itself unchanged. Callers that
/// need "all or nothing" across several writes save `count` and call
/// `truncate(to:)` on failure.
///
/// Hot-path safe: no method allocates.
public struct ByteWriter {
    public let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far; the next write goes here.
    public private(set) var count: Int = 0
    /// Writes may not go beyond this (<= buffer.count): e.g. the client's
    /// advertised UDP payload size.
    public private(set) var capacity: Int

    public init(_ buffer: UnsafeMutableRawBufferPointer, capacity: Int? = nil) {
        self.buffer = buffer
        let c = capacity ?? buffer.count
        self.capacity = c < 0 ? 0 : (c > buffer.count ? buffer.count : c)
    }

    /// Bytes still free before `capacity`.
    @inline(__always)
    public var free: Int { capacity &- count }

    /// The bytes written so far.
    public var written: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }

    /// Lowers or raises the limit (never above the buffer, never below `count`).
    public mutating func setCapacity(_ c: Int) {
        capacity = c < count ? count : (c > buffer.count ? buffer.count : c)
    }

    /// Drops everything written after `position` (which must be <= count).
    public mutating func truncate(to position: Int) {
        if position >= 0 && position <= count { count = position }
    }

    @inline(__always)
    public func ensure(_ n: Int) throws(DNSError) {
        guard n >= 0, n <= capacity &- count else { throw .noRoom }
    }

    public mutating func writeU8(_ v: UInt8) throws(DNSError) {
        try ensure(1)
        buffer[count] = v
        count &+= 1
    }

    public mutating func writeU16(_ v: UInt16) throws(DNSError) {
        try ensure(2)
        buffer[count] = UInt8(truncatingIfNeeded: v >> 8)
        buffer[count &+ 1] = UInt8(truncatingIfNeeded: v)
        count &+= 2
    }

    public mutating func writeU32(_ v: UInt32) throws(DNSError) {
        try ensure(4)
        buffer[count] = UInt8(truncatingIfNeeded: v >> 24)
        buffer[count &+ 1] = UInt8(truncatingIfNeeded: v >> 16)
        buffer[count &+ 2] = UInt8(truncatingIfNeeded: v >> 8)
        buffer[count &+ 3] = UInt8(truncatingIfNeeded: v)
        count &+= 4
    }

    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) throws(DNSError) {
        try ensure(bytes.count)
        if bytes.count > 0, let base = bytes.baseAddress, let dst = buffer.baseAddress {
            (dst + count).copyMemory(from: base, byteCount: bytes.count)
        }
        count &+= bytes.count
    }

    public mutating func writeBytes(_ bytes: [UInt8]) throws(DNSError) {
        try ensure(bytes.count)
        // An index loop: unoptimised builds allocate in Array's iterator.
        var i = 0
        while i < bytes.count {
            buffer[count] = bytes[i]
            count &+= 1
            i &+= 1
        }
    }

    /// Overwrites two bytes at `position` (< count), e.g. a count or
    /// RDLENGTH patched after the fact. Out of range is ignored.
    public mutating func patchU16(_ v: UInt16, at position: Int) {
        guard position >= 0, position <= count &- 2 else { return }
        buffer[position] = UInt8(truncatingIfNeeded: v >> 8)
        buffer[position &+ 1] = UInt8(truncatingIfNeeded: v)
    }

    /// The byte already written at `position`, or nil outside `0..<count`.
    @inline(__always)
    public func byte(at position: Int) -> UInt8? {
        guard position >= 0, position < count else { return nil }
        return buffer[position]
    }
}
