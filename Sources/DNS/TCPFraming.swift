// DNS over TCP (RFC 1035 §4.2.2, RFC 7766 §8): a stream of messages, each
// preceded by its length as two bytes in network order. The one place that
// does the prefix arithmetic: dnsd's TCP server, its upstream TCP queries
// and zone transfers all frame and unframe through it.

public enum TCPFraming {
    /// The largest message a 2-byte prefix can announce.
    public static let maxMessage = 65535
    public static let prefixSize = 2

    /// The next whole message in `bytes[from...]`: the range of its bytes
    /// (after the prefix), or nil when it has not fully arrived.
    public static func message(in bytes: UnsafeRawBufferPointer, from start: Int) -> Range<Int>? {
        guard start >= 0, bytes.count - start >= prefixSize else { return nil }
        let len = Int(bytes[start]) << 8 | Int(bytes[start &+ 1])
        let first = start &+ prefixSize
        guard bytes.count - first >= len else { return nil }
        return first..<(first &+ len)
    }

    /// The same over an array.
    public static func message(in bytes: [UInt8], from start: Int) -> Range<Int>? {
        bytes.withUnsafeBytes { message(in: $0, from: start) }
    }

    /// Appends `message` with its prefix; false (nothing appended) when it
    /// is longer than a prefix can say.
    @discardableResult
    public static func append(_ message: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        guard message.count <= maxMessage else { return false }
        out.append(UInt8(truncatingIfNeeded: message.count >> 8))
        out.append(UInt8(truncatingIfNeeded: message.count))
        out.append(contentsOf: message)
        return true
    }

    @discardableResult
    public static func append(_ message: [UInt8], to out: inout [UInt8]) -> Bool {
        message.withUnsafeBytes { append($0, to: &out) }
    }

    /// `message` with its prefix.
    public static func framed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + prefixSize)
        append(message, to: &out)
        return out
    }
}
