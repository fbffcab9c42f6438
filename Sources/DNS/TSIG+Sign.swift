// TSIG (RFC 8945) signing: requests, responses, refusals (§5.3.2) and the
// messages of a TCP answer (§5.3.1); checking a stream. See TSIG.swift.

import Core

extension TSIGKey {
    /// Signs a request (a query, a NOTIFY, an SOA check) in place: appends
    /// the TSIG RR to `buffer[0..<length]` and bumps ARCOUNT. `.noRoom`
    /// when the RR does not fit in `buffer` (left as it was).
    @_optimize(size)
    public func sign(_ buffer: UnsafeMutableRawBufferPointer, length: Int, timeSigned: UInt64,
                     fudge: UInt16 = TSIG.defaultFudge) throws(DNSError) -> TSIGSigned {
        try TSIG.sign(buffer, length: length, key: self, prior: nil, timersOnly: false, timeSigned: timeSigned,
                      fudge: fudge)
    }

    /// Signs a response to the request whose verified MAC is `requestMAC`.
    @_optimize(size)
    public func sign(response buffer: UnsafeMutableRawBufferPointer, length: Int, requestMAC: TSIGMAC,
                     timeSigned: UInt64, fudge: UInt16 = TSIG.defaultFudge) throws(DNSError) -> TSIGSigned {
        try TSIG.sign(buffer, length: length, key: self, prior: requestMAC, timersOnly: false, timeSigned: timeSigned,
                      fudge: fudge)
    }

    /// Either of the above on an array, which grows by the RR (allocates:
    /// cold paths, tools, tests). Returns the MAC.
    @_optimize(size)
    public func sign(_ message: inout [UInt8], requestMAC: TSIGMAC? = nil, timeSigned: UInt64,
                     fudge: UInt16 = TSIG.defaultFudge) throws(DNSError) -> TSIGMAC {
        let length = message.count
        message.append(contentsOf: [UInt8](repeating: 0, count: TSIG.size(for: self)))
        let r = message.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) -> Result<TSIGSigned, DNSError> in
            do throws(DNSError) {
                return .success(try TSIG.sign(b, length: length, key: self, prior: requestMAC, timersOnly: false,
                                              timeSigned: timeSigned, fudge: fudge))
            } catch {
                return .failure(error)
            }
        }
        switch r {
        case .success(let s):
            message.removeLast(message.count &- s.length)
            return s.mac
        case .failure(let e):
            message.removeLast(message.count &- length)
            throw e
        }
    }
}

extension TSIGRejection {
    /// Writes the answer to `request` into `buffer` and returns its length:
    /// the request's ID, opcode, RD and question (when readable), QR, and
    /// `rcode`. NOTAUTH answers end with a TSIG RR carrying `error` (§5.3.2):
    /// unsigned (MAC Size 0; the request's key and algorithm names and Time
    /// Signed) for BADKEY and BADSIG; signed with `key` over the request MAC
    /// for BADTIME (Time Signed the request's, Other Data `now`, the server's
    /// clock) and BADTRUNC (Time Signed `now`).
    @_optimize(size)
    public func writeResponse(to request: UnsafeRawBufferPointer, now: UInt64,
                              into buffer: UnsafeMutableRawBufferPointer) throws(DNSError) -> Int {
        guard let q = Header.peek(request) else { throw .formErr(offset: 0, reason: "no header") }
        var h = Header(id: q.id)
        h.qr = true
        h.opcode = q.opcode
        h.rd = q.rd
        h.rcode = rcode.headerBits
        var w = try MessageWriter(buffer: buffer, header: h)
        if var p = try? MessageParser(request), let question = try? p.nextQuestion() { try w.writeQuestion(question) }
        let length = w.finish()
        guard rcode == .notAuth else { return length }
        if let k = key {
            let badTime = error == .badTime
            var clock = (now & 0xFFFF_FFFF_FFFF).bigEndian
            let s = try Swift.withUnsafeBytes(of: &clock) {
                (c: UnsafeRawBufferPointer) throws(DNSError) -> TSIGSigned in
                try TSIG.sign(buffer, length: length, key: k, prior: requestMAC, timersOnly: false,
                              timeSigned: badTime ? timeSigned : now, fudge: TSIG.defaultFudge, error: error,
                              other: badTime ? UnsafeRawBufferPointer(rebasing: c[2..<8]) : TSIG.empty)
            }
            return s.length
        }
        // Unsigned: the request's names, lowercased.
        guard case .found(let f) = TSIG.locate(request) else { return length }
        return try withUnsafeTemporaryAllocation(byteCount: 512, alignment: 1) {
            (names: UnsafeMutableRawBufferPointer) throws(DNSError) -> Int in
            let o = UnsafeMutableRawBufferPointer(rebasing: names[0..<256])
            let a = UnsafeMutableRawBufferPointer(rebasing: names[256..<512])
            guard let on = f.owner.copyWire(into: o), let an = f.algorithm.copyWire(into: a) else { return length }
            var i = 0
            while i < on { o[i] = asciiLower(o[i]); i &+= 1 }
            i = 0
            while i < an { a[i] = asciiLower(a[i]); i &+= 1 }
            var out = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[length...]))
            try TSIG.writeRR(&out, owner: UnsafeRawBufferPointer(rebasing: o[0..<on]),
                             algorithm: UnsafeRawBufferPointer(rebasing: a[0..<an]), timeSigned: f.timeSigned,
                             fudge: TSIG.defaultFudge, mac: TSIGMAC(), originalID: q.id, error: error.rawValue,
                             other: TSIG.empty)
            Header.patch(buffer, length: length) { $0.arCount &+= 1 }
            return length &+ out.count
        }
    }
}

/// Signs the messages of one TCP answer (AXFR, IXFR; RFC 8945 §5.3.1): the
/// first over the request MAC with all the TSIG variables, each later one
/// over the previous MAC with the timers only. Every message is signed.
public struct TSIGStreamSigner: Sendable {
    public let key: TSIGKey
    public let fudge: UInt16
    var prior: TSIGMAC
    var first = true

    @_optimize(size) public init(key: TSIGKey, requestMAC: TSIGMAC, fudge: UInt16 = TSIG.defaultFudge) {
        self.key = key
        self.fudge = fudge
        prior = requestMAC
    }

    /// Signs the next message in place (as `TSIGKey.sign`); the new length.
    @_optimize(size)
    public mutating func sign(_ buffer: UnsafeMutableRawBufferPointer, length: Int,
                              timeSigned: UInt64) throws(DNSError) -> Int {
        let s = try TSIG.sign(buffer, length: length, key: key, prior: prior, timersOnly: !first,
                              timeSigned: timeSigned, fudge: fudge)
        prior = s.mac
        first = false
        return s.length
    }
}

/// Verifies the messages of one TCP answer in order (§5.3.1). The first
/// must be signed; up to 99 unsigned messages may follow a signed one
/// (their bytes go into the next one's digest); the transfer may end only
/// on a signed message (`canEnd`). A failure is final: later calls repeat it.
public struct TSIGStreamVerifier: Sendable {
    public let key: TSIGKey
    var prior: TSIGMAC
    /// The digest of the prior MAC and the unsigned messages since.
    var running: TSIGHMAC? = nil
    var unsignedRun = 0
    var failed: TSIGCheck? = nil
    /// Messages checked so far.
    public private(set) var messages = 0

    /// Unsigned messages accepted in a row (§5.3.1).
    public static let maxUnsigned = 99

    @_optimize(size) public init(key: TSIGKey, requestMAC: TSIGMAC) {
        self.key = key
        prior = requestMAC
    }

    /// True after a signed message: the transfer may end here.
    public var canEnd: Bool { messages > 0 && unsignedRun == 0 && failed == nil }

    /// Checks the next message: `.verified`, `.unsigned` (accepted for
    /// now), or a failure.
    @_optimize(size) public mutating func verify(_ message: UnsafeRawBufferPointer, now: UInt64) -> TSIGCheck {
        if let f = failed { return f }
        let r = withUnsafePointer(to: key) {
            TSIG.check(message, keys: UnsafeBufferPointer(start: $0, count: 1), prior: prior, running: running,
                       now: now, response: true)
        }
        messages &+= 1
        switch r {
        case .verified(let v):
            prior = v.mac
            var h = key.keyed
            h.update(mac: v.mac)
            running = h
            unsignedRun = 0
        case .unsigned:
            guard running != nil else {
                failed = .rejected(.formErr("the first message of the stream is unsigned"))
                return failed ?? r
            }
            guard unsignedRun < TSIGStreamVerifier.maxUnsigned else {
                failed = .rejected(.formErr("more than 99 unsigned messages in a row"))
                return failed ?? r
            }
            running?.update(message)
            unsignedRun &+= 1
        default:
            failed = r
        }
        return r
    }
}
