// Presentation (master file) form of names (RFC 1035 §5.1): labels separated
// by dots, "\." and "\\" for literal characters, "\DDD" for any octet by its
// decimal value; a trailing dot marks an absolute name, "." alone is the
// root, and "@" is the origin.

extension DomainName {
    /// Parses `text`. A name without a trailing dot is relative and gets
    /// `origin` appended (the root when `origin` is nil); "@" is `origin`.
    @_optimize(size) public init(_ text: String, origin: DomainName? = nil) throws(DNSError) {
        self = try DomainName.parse(Array(text.utf8), origin: origin)
    }

    /// Byte-level parser behind `init(_:origin:)`; `text` is UTF-8 and may
    /// still contain escapes.
    @_optimize(size) public static func parse(_ text: [UInt8], origin: DomainName?) throws(DNSError) -> DomainName {
        let base = origin ?? .root
        if text.isEmpty { throw .badPresentation("empty name") }
        if text == [0x40] { return base }                  // "@"
        if text == [0x2E] { return .root }                 // "."
        var wire: [UInt8] = []
        wire.reserveCapacity(text.count &+ base.wire.count &+ 2)
        wire.append(0)                                     // placeholder length byte
        var labelStart = 0
        var absolute = false
        var i = 0
        @_optimize(size) func fail(_ why: String) -> DNSError {
            .badPresentation("bad name '\(String(decoding: text, as: UTF8.self))': \(why)")
        }
        while i < text.count {
            let c = text[i]
            if c == 0x2E {                                 // "."
                let n = wire.count &- labelStart &- 1
                guard n > 0 else { throw fail("empty label") }
                guard n <= 63 else { throw .labelTooLong(offset: -1) }
                wire[labelStart] = UInt8(n)
                i &+= 1
                if i == text.count { absolute = true; break }
                labelStart = wire.count
                wire.append(0)
                continue
            }
            var byte = c
            if c == 0x5C {                                 // "\"
                guard let (v, used) = decodeEscape(text, at: i) else { throw fail("bad escape") }
                byte = v
                i &+= used
            } else {
                i &+= 1
            }
            wire.append(byte)
            guard wire.count <= 256 else { throw .nameTooLong(offset: -1) }
        }
        if !absolute {
            let n = wire.count &- labelStart &- 1
            guard n > 0 else { throw fail("empty label") }
            guard n <= 63 else { throw .labelTooLong(offset: -1) }
            wire[labelStart] = UInt8(n)
            guard wire.count &+ base.wire.count <= 255 else { throw .nameTooLong(offset: -1) }
            wire.append(contentsOf: base.wire)
        } else {
            wire.append(0)
            guard wire.count <= 255 else { throw .nameTooLong(offset: -1) }
        }
        return DomainName(trustedWire: wire)
    }

    /// Absolute presentation form with trailing dot ("www.example.com.", "."),
    /// case preserved, special characters escaped.
    public var description: String {
        if isRoot { return "." }
        var out: [UInt8] = []
        out.reserveCapacity(wire.count &+ 8)
        var i = 0
        while i < wire.count, wire[i] != 0 {
            let n = Int(wire[i])
            for k in (i &+ 1)..<(i &+ 1 &+ n) { appendEscaped(wire[k], to: &out) }
            out.append(0x2E)
            i &+= n &+ 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The name relative to `origin` when it is a subdomain of it ("www",
    /// "@" for the origin itself), else the absolute form.
    @_optimize(size) public func relativeDescription(to origin: DomainName) -> String {
        guard isSubdomain(of: origin) else { return description }
        if wire.count == origin.wire.count { return "@" }
        let keep = wire.count &- origin.wire.count
        var out: [UInt8] = []
        var i = 0
        while i < keep {
            let n = Int(wire[i])
            if i > 0 { out.append(0x2E) }
            for k in (i &+ 1)..<(i &+ 1 &+ n) { appendEscaped(wire[k], to: &out) }
            i &+= n &+ 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Decodes the escape starting at `text[at]` (a backslash): "\DDD" (three
/// decimal digits, <= 255) or "\X" for any other single byte X. Returns the
/// byte and how many input bytes it used, or nil when malformed.
@_optimize(size) func decodeEscape(_ text: [UInt8], at: Int) -> (UInt8, Int)? {
    guard at &+ 1 < text.count else { return nil }
    let c = text[at &+ 1]
    if c >= 0x30 && c <= 0x39 {
        guard at &+ 3 < text.count else { return nil }
        var v = 0
        for k in 1...3 {
            let d = text[at &+ k]
            guard d >= 0x30 && d <= 0x39 else { return nil }
            v = v &* 10 &+ Int(d &- 0x30)
        }
        guard v <= 255 else { return nil }
        return (UInt8(v), 4)
    }
    return (c, 2)
}

/// Appends a name-label byte in presentation form: printable ASCII as is,
/// except the characters special in master files (". \ ( ) ; @ $ \"") which
/// get a backslash; everything else as "\DDD".
@_optimize(size) func appendEscaped(_ b: UInt8, to out: inout [UInt8]) {
    switch b {
    case 0x2E, 0x5C, 0x28, 0x29, 0x3B, 0x40, 0x24, 0x22:
        out.append(0x5C)
        out.append(b)
    case 0x21...0x7E:
        out.append(b)
    default:
        appendDDD(b, to: &out)
    }
}

/// Appends "\DDD" for `b`.
@_optimize(size) func appendDDD(_ b: UInt8, to out: inout [UInt8]) {
    out.append(0x5C)
    out.append(0x30 &+ b / 100)
    out.append(0x30 &+ (b / 10) % 10)
    out.append(0x30 &+ b % 10)
}
