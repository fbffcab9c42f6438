// Errors of the DNS wire library. Every case says where the problem is: a
// byte offset into the message being read (wire errors) or a description of
// the offending text (presentation errors). Nothing in this module traps on
// input; every malformed input ends in one of these cases.

/// A failure to read, write or parse DNS data.
///
/// Wire offsets are counted from the first byte of the message (or of the
/// buffer given to `ByteReader`), so a log line can point at the byte.
public enum DNSError: Error, Equatable, CustomStringConvertible {
    /// A read of `needed` bytes at `offset` ran past the end of the data.
    case truncated(offset: Int)
    /// A label length byte at `offset` has the reserved top bits 01 or 10
    /// (RFC 1035 §4.1.4, RFC 6891 §5: extended label types are not supported).
    case badLabelType(offset: Int)
    /// A compression pointer at `offset` points at or after itself, into the
    /// header, or past the end (RFC 1035 §4.1.4 allows prior occurrences only).
    case badPointer(offset: Int)
    /// Following compression pointers from the name at `offset` exceeded the
    /// hop limit: a loop or an absurd chain.
    case pointerLoop(offset: Int)
    /// The name starting at `offset` is longer than 255 octets in wire form
    /// (RFC 1035 §2.3.4). For presentation input the offset is -1.
    case nameTooLong(offset: Int)
    /// A label longer than 63 octets (RFC 1035 §2.3.4) at `offset`
    /// (-1 for presentation input).
    case labelTooLong(offset: Int)
    /// The RDATA of a record of `type` at `offset` does not match its
    /// declared RDLENGTH or the type's format.
    case badRData(type: UInt16, offset: Int)
    /// Bytes remain after the last record announced by the header counts.
    case trailingData(offset: Int)
    /// A section count is larger than the message can hold, or a record
    /// appears where the protocol forbids it (e.g. a second OPT, RFC 6891 §6.1.1).
    case formErr(offset: Int, reason: StaticString)
    /// The caller's output buffer has no room for the next item. The writer
    /// state is unchanged: the caller may stop at the previous record
    /// boundary and set TC (RFC 2181 §9).
    case noRoom
    /// Text in presentation format could not be parsed; the string names the
    /// offending token and why.
    case badPresentation(String)

    public var description: String {
        switch self {
        case .truncated(let o): return "message truncated at offset \(o)"
        case .badLabelType(let o): return "bad label type at offset \(o)"
        case .badPointer(let o): return "bad compression pointer at offset \(o)"
        case .pointerLoop(let o): return "compression pointer loop in name at offset \(o)"
        case .nameTooLong(let o): return o < 0 ? "name longer than 255 octets" : "name longer than 255 octets at offset \(o)"
        case .labelTooLong(let o): return o < 0 ? "label longer than 63 octets" : "label longer than 63 octets at offset \(o)"
        case .badRData(let t, let o): return "bad RDATA for \(RRType(rawValue: t).mnemonic) at offset \(o)"
        case .trailingData(let o): return "trailing data at offset \(o)"
        case .formErr(let o, let r): return "malformed message at offset \(o): \(r.description)"
        case .noRoom: return "no room in output buffer"
        case .badPresentation(let s): return s
        }
    }

    @_optimize(size) public static func == (a: DNSError, b: DNSError) -> Bool {
        switch (a, b) {
        case (.truncated(let x), .truncated(let y)),
             (.badLabelType(let x), .badLabelType(let y)),
             (.badPointer(let x), .badPointer(let y)),
             (.pointerLoop(let x), .pointerLoop(let y)),
             (.nameTooLong(let x), .nameTooLong(let y)),
             (.labelTooLong(let x), .labelTooLong(let y)),
             (.trailingData(let x), .trailingData(let y)):
            return x == y
        case (.badRData(let t1, let o1), .badRData(let t2, let o2)):
            return t1 == t2 && o1 == o2
        case (.formErr(let o1, _), .formErr(let o2, _)):
            return o1 == o2
        case (.noRoom, .noRoom):
            return true
        case (.badPresentation(let x), .badPresentation(let y)):
            // Byte comparison: no Unicode normalisation tables needed.
            return x.utf8.elementsEqual(y.utf8)
        default:
            return false
        }
    }

    /// True for errors that mean "the peer sent a malformed message" (answer
    /// FORMERR), as opposed to `noRoom` or presentation errors.
    public var isWireError: Bool {
        switch self {
        case .noRoom, .badPresentation: return false
        default: return true
        }
    }
}
