// TSIG (RFC 8945): transaction signatures for zone transfers (AXFR, IXFR)
// and NOTIFY, with HMAC-SHA256. Sans-I/O: messages in, messages out, the
// time given by the caller.
//
//   TSIG RR (§4.2), the last record of the additional section:
//   NAME = key name | TYPE = 250 | CLASS = ANY | TTL = 0 | RDLENGTH | RDATA:
//   Algorithm Name | Time Signed (48) | Fudge (16) | MAC Size (16) | MAC |
//   Original ID (16) | Error (16) | Other Len (16) | Other Data
//
//   MAC (§4.3): HMAC over [the request MAC (size, MAC), in a response]
//   + the message without its TSIG (Original ID back in the header, ARCOUNT
//   one less) + the TSIG variables (§4.3.3: key and algorithm names in
//   canonical form, CLASS, TTL, Time Signed, Fudge, Error, Other Len, Other
//   Data). In a TCP answer (§5.3.1) each later message is MACed over the
//   prior MAC (size, MAC) + the messages since the last TSIG + the timers
//   (Time Signed, Fudge) only.
//
// Contracts:
// - No clock is read here: `timeSigned` and `now` are seconds since the
//   epoch (48 bits on the wire).
// - Verifying never traps and never reads outside the message: every input
//   ends in a `TSIGCheck`. Signing throws only `DNSError` (no room, no
//   message), leaving the buffer as it was.
// - Signing and verifying allocate nothing: the keyed HMAC state and MACs
//   are inline. Keys are parsed (and allocate) once, from configuration.
// - The TSIG RR never goes through name compression; its names are written
//   lowercased, and digested in canonical (lowercase) form whatever case a
//   peer sent.
// - All of it is cold next to the query path: optimized for size.

import Core

/// A TSIG algorithm this library implements.
public enum TSIGAlgorithm: UInt8, Sendable, CustomStringConvertible {
    case hmacSHA256

    /// Names (IANA "TSIG Algorithm Names", RFC 8945 §6) and full MAC sizes.
    /// hmac-sha512: a case, a row, a `TSIGHMAC` case, and SHA512 in Core.
    static let table: [(algorithm: TSIGAlgorithm, name: DomainName, macSize: Int)] = [
        (.hmacSHA256, wireName("hmac-sha256"), SHA256.digestSize),
    ]

    @_optimize(size) static func wireName(_ label: StaticString) -> DomainName {
        var w: [UInt8] = [UInt8(truncatingIfNeeded: label.utf8CodeUnitCount)]
        w.append(contentsOf: UnsafeBufferPointer(start: label.utf8Start, count: label.utf8CodeUnitCount))
        w.append(0)
        return DomainName(trustedWire: w)
    }

    var row: Int {
        var i = 0
        while i < TSIGAlgorithm.table.count && TSIGAlgorithm.table[i].algorithm != self { i &+= 1 }
        return i
    }

    /// The name on the wire ("hmac-sha256.", lowercase).
    public var name: DomainName { TSIGAlgorithm.table[row].name }
    /// Bytes of a full MAC.
    public var macSize: Int { TSIGAlgorithm.table[row].macSize }
    /// The shortest MAC RFC 8945 §5.2.2.1 allows: max(10, half the hash).
    public var minimumMACSize: Int { max(10, macSize / 2) }
    /// "hmac-sha256", as configuration spells it.
    public var description: String { String(name.description.dropLast()) }

    /// The algorithm of a name (any case); nil when not implemented.
    @_optimize(size) public init?(name: DomainName) {
        var i = 0
        while i < TSIGAlgorithm.table.count && TSIGAlgorithm.table[i].name != name { i &+= 1 }
        guard i < TSIGAlgorithm.table.count else { return nil }
        self = TSIGAlgorithm.table[i].algorithm
    }

    /// "hmac-sha256" or "hmac-sha256.", any case; nil for others.
    @_optimize(size) public init?(_ text: String) {
        guard let n = try? DomainName(text) else { return nil }
        self.init(name: n)
    }

    /// Index loops here and on every verify: at -Onone `for in` and
    /// `firstIndex(where:)` allocate.
    @_optimize(size) static func find(_ name: NameView) -> TSIGAlgorithm? {
        var i = 0
        while i < table.count {
            if name.equals(table[i].name) { return table[i].algorithm }
            i &+= 1
        }
        return nil
    }
}

/// A TSIG Error field value (RFC 8945 §3; they share the RCODE registry).
public struct TSIGError: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @_optimize(size) public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = TSIGError(rawValue: 0)
    public static let badSig = TSIGError(rawValue: 16)
    public static let badKey = TSIGError(rawValue: 17)
    public static let badTime = TSIGError(rawValue: 18)
    public static let badTrunc = TSIGError(rawValue: 22)

    public var description: String {
        switch rawValue {
        case 0: return "NOERROR"
        case 16: return "BADSIG"
        case 17: return "BADKEY"
        case 18: return "BADTIME"
        case 22: return "BADTRUNC"
        default: return "TSIG error \(rawValue)"
        }
    }
}

/// A MAC, received or computed, held inline (up to 64 bytes: SHA-512's).
public struct TSIGMAC: Equatable, Sendable {
    public static let capacity = 64
    var storage: InlineArray<64, UInt8> = .init(repeating: 0)
    public internal(set) var count = 0

    @_optimize(size) public init() {}

    /// A copy of `bytes`; nil when longer than `capacity`.
    @_optimize(size) public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= TSIGMAC.capacity else { return nil }
        var i = 0
        while i < bytes.count { storage[i] = bytes[i]; i &+= 1 }
        count = bytes.count
    }

    @_optimize(size) public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        Swift.withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// The MAC as an array (allocates).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Constant time in the bytes.
    @_optimize(size) public static func == (a: TSIGMAC, b: TSIGMAC) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in ConstantTime.equals(x, y) } }
    }
}

/// The keyed HMAC of one algorithm: the one switch over algorithms.
struct TSIGHMAC: Sendable {
    enum State: Sendable { case sha256(HMAC<SHA256>) }
    var state: State

    @_optimize(size) init(algorithm: TSIGAlgorithm, secret: [UInt8]) {
        switch algorithm {
        case .hmacSHA256: state = .sha256(HMAC<SHA256>(key: secret))
        }
    }

    @_optimize(size) mutating func update(_ b: UnsafeRawBufferPointer) {
        switch state {
        case .sha256(var h): h.update(b); state = .sha256(h)
        }
    }

    /// The low `n` bytes of `v`, big-endian (n <= 8).
    @_optimize(size) mutating func update(_ v: UInt64, bytes n: Int) {
        var be = (v &<< UInt64(64 &- 8 &* n)).bigEndian
        Swift.withUnsafeBytes(of: &be) { update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    /// A request or prior MAC as digested: MAC Size, then the MAC.
    @_optimize(size) mutating func update(mac: TSIGMAC) {
        update(UInt64(mac.count), bytes: 2)
        mac.withUnsafeBytes { update($0) }
    }

    @_optimize(size) mutating func finalize() -> TSIGMAC {
        var mac = TSIGMAC()
        switch state {
        case .sha256(var h):
            Swift.withUnsafeMutableBytes(of: &mac.storage) { h.finalize(into: $0) }
            mac.count = SHA256.digestSize
        }
        return mac
    }
}

/// A shared secret and its name. A class: configured once, then shared by
/// every check and stream, which hold a reference instead of copies of the
/// keyed HMAC state.
public final class TSIGKey: Sendable {
    /// Lowercased: written and digested as is (§4.3.3).
    public let name: DomainName
    public let algorithm: TSIGAlgorithm
    public let secret: [UInt8]
    /// Local policy (§5.2.4): shorter MACs, though RFC 8945 allows them,
    /// get BADTRUNC. At least `algorithm.minimumMACSize`.
    public let minimumMACSize: Int
    /// The HMAC state after the key, copied for each message.
    let keyed: TSIGHMAC

    @_optimize(size)
    public init(name: DomainName, algorithm: TSIGAlgorithm = .hmacSHA256, secret: [UInt8], minimumMACSize: Int? = nil) {
        self.name = name.lowercased
        self.algorithm = algorithm
        self.secret = secret
        self.minimumMACSize = min(max(minimumMACSize ?? 0, algorithm.minimumMACSize), algorithm.macSize)
        keyed = TSIGHMAC(algorithm: algorithm, secret: secret)
    }

    /// A key as configured: its name, an algorithm name ("hmac-sha256"),
    /// the secret in base64 (RFC 4648 §4; spaces and newlines skipped).
    @_optimize(size) @inline(never)
    public convenience init(name: String, algorithm: String, secret: String) throws(TSIGKeyError) {
        let n: DomainName
        do { n = try DomainName(name) } catch { throw .badName(name) }
        guard let alg = TSIGAlgorithm(algorithm) else { throw .unsupportedAlgorithm(algorithm) }
        // Whitespace may break a long secret (as in BIND's and Knot's files);
        // the rest must be canonical base64 (no stray bits under the padding).
        let text = secret.utf8.filter { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        guard let bytes = base64Decode(text), !bytes.isEmpty, Array(base64Encode(bytes[...]).utf8) == text else {
            throw .badSecret
        }
        self.init(name: n, algorithm: alg, secret: bytes)
    }
}

/// Why a configured key was refused.
public enum TSIGKeyError: Error, Equatable, CustomStringConvertible {
    case badName(String)
    case unsupportedAlgorithm(String)
    /// Not base64, or empty.
    case badSecret

    public var description: String {
        switch self {
        case .badName(let n): return "bad TSIG key name '\(n)'"
        case .unsupportedAlgorithm(let a):
            var names = ""
            var i = 0
            while i < TSIGAlgorithm.table.count {
                names += (i == 0 ? "" : ", ") + TSIGAlgorithm.table[i].algorithm.description
                i &+= 1
            }
            return "TSIG algorithm '\(a)' is not supported (supported: \(names))"
        case .badSecret: return "TSIG secret is not base64 or is empty"
        }
    }
}

/// A signed message: its new length, and its MAC (which the response to a
/// request, or the next message of a stream, is signed over).
public struct TSIGSigned: Sendable {
    public let length: Int
    public let mac: TSIGMAC
}

/// A message whose TSIG verified.
public struct TSIGVerified: Sendable {
    /// Which of the keys given signed it.
    public let keyIndex: Int
    /// Its MAC: what the response (or a stream's next message) is signed over.
    public let mac: TSIGMAC
    public let timeSigned: UInt64
    public let fudge: UInt16
    public let originalID: UInt16
    /// Where the TSIG RR starts; the message proper is before it.
    public let tsigOffset: Int
}

/// A TSIG error the peer answered with (§5.3.2). BADTIME and BADTRUNC
/// answers are signed and verified (`authenticated`); BADKEY and BADSIG
/// answers are not and prove nothing. Either way the exchange failed.
public struct TSIGPeerError: Sendable {
    public let error: TSIGError
    public let authenticated: Bool
    /// BADTIME: the peer's clock, from Other Data.
    public let peerTime: UInt64?
}

/// A refused message (RFC 8945 §5.2), with what its answer needs
/// (`writeResponse`).
public struct TSIGRejection: Sendable {
    /// FORMERR (the TSIG is misplaced or malformed, or its MAC longer than
    /// the hash or shorter than §5.2.2.1 allows: answered without TSIG) or
    /// NOTAUTH (answered with `error` in a TSIG).
    public let rcode: RCode
    /// BADKEY, BADSIG, BADTIME or BADTRUNC; NOERROR with FORMERR.
    public let error: TSIGError
    /// Why, for logs.
    public let reason: StaticString
    /// BADTIME, BADTRUNC: the key that verified the request and signs the answer.
    public let key: TSIGKey?
    /// BADTIME, BADTRUNC: the verified request MAC.
    public let requestMAC: TSIGMAC
    /// The request's Time Signed (0 with FORMERR).
    public let timeSigned: UInt64

    @_optimize(size) static func formErr(_ why: StaticString) -> TSIGRejection {
        TSIGRejection(rcode: .formErr, error: .noError, reason: why, key: nil, requestMAC: TSIGMAC(), timeSigned: 0)
    }

    @_optimize(size) static func notAuth(_ error: TSIGError, _ why: StaticString, key: TSIGKey? = nil,
                                         requestMAC: TSIGMAC = TSIGMAC(), timeSigned: UInt64) -> TSIGRejection {
        TSIGRejection(rcode: .notAuth, error: error, reason: why, key: key, requestMAC: requestMAC,
                      timeSigned: timeSigned)
    }
}

/// The outcome of checking one message.
public enum TSIGCheck: Sendable {
    /// No TSIG RR. For a response to a signed request, or the first
    /// message of a stream, that is a failure (§5.3); `TSIGStreamVerifier`
    /// accepts it in the middle of a stream.
    case unsigned
    case verified(TSIGVerified)
    case rejected(TSIGRejection)
    /// A response carrying the peer's TSIG error.
    case peerError(TSIGPeerError)
}

/// Checking messages, and what signing and checking share.
