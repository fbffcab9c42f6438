// DNS reads through the shared bounds-checked reader (module Core), with
// DNS's error type: running out of bytes is `DNSError.truncated(offset:)`
// at the offset where data ran out (RFC 1035 §2.3.2: network byte order).

import Core

/// The reader every DNS decoder uses (see `WireReader`).
public typealias ByteReader = WireReader<DNSError>

extension DNSError: WireFailure {
    public static func truncated(at offset: Int) -> DNSError { .truncated(offset: offset) }

    public var isTruncation: Bool {
        if case .truncated = self { return true }
        return false
    }
}

extension WireReader where Failure == DNSError {
    /// Reads confined to one RDATA of `type`: running out inside it, or not
    /// consuming all of it, is `badRData(type, offset)` at the RDATA's start.
    @inlinable
    public mutating func withLimit<T>(_ count: Int, type: UInt16,
                                      _ body: (inout ByteReader) throws(DNSError) -> T) throws(DNSError) -> T {
        try withLimit(count, mismatch: { DNSError.badRData(type: type, offset: $0) }, body)
    }
}
