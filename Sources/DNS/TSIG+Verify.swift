// TSIG (RFC 8945) checking of requests, responses and streams, and the
// signing both directions share; the types and contracts are in TSIG.swift.

import Core

public enum TSIG {
    /// TYPE TSIG (RFC 8945 §4.2).
    public static let type = RRType(250)
    /// Seconds of clock difference tolerated (§10 recommends 300).
    public static let defaultFudge: UInt16 = 300

    /// Bytes TSIG adds to a message signed with `key` (room to reserve).
    @_optimize(size) public static func size(for key: TSIGKey) -> Int {
        key.name.wire.count &+ 10 &+ key.algorithm.name.wire.count &+ 16 &+ key.algorithm.macSize
    }

    /// Checks a request (§5.2) against the configured `keys`. `.verified`
    /// carries the MAC to sign the response over.
    @_optimize(size)
    public static func verify(_ message: UnsafeRawBufferPointer, keys: [TSIGKey], now: UInt64) -> TSIGCheck {
        keys.withUnsafeBufferPointer { check(message, keys: $0, prior: nil, running: nil, now: now, response: false) }
    }

    /// Checks the response to a request signed with `key` whose MAC was
    /// `requestMAC`.
    @_optimize(size) public static func verify(response message: UnsafeRawBufferPointer, key: TSIGKey,
                                               requestMAC: TSIGMAC, now: UInt64) -> TSIGCheck {
        withUnsafePointer(to: key) {
            check(message, keys: UnsafeBufferPointer(start: $0, count: 1), prior: requestMAC, running: nil, now: now,
                  response: true)
        }
    }

    /// A TSIG RR where it belongs, borrowed from the message.
    struct Found {
        var header: Header
        /// Where the RR (its owner name) starts.
        var start: Int
        var owner: NameView
        var rawClass: UInt16
        var ttl: UInt32
        var algorithm: NameView
        var timeSigned: UInt64
        var fudge: UInt16
        var mac: UnsafeRawBufferPointer
        var originalID: UInt16
        var error: UInt16
        var other: UnsafeRawBufferPointer
    }

    enum Located {
        case absent
        case found(Found)
        /// FORMERR: the message does not parse, a TSIG is not the one and
        /// last record of the additional section (§5.2), or its RDATA is malformed.
        case malformed(StaticString)
    }

    @_optimize(size) static func locate(_ m: UnsafeRawBufferPointer) -> Located {
        do throws(DNSError) {
            var p = try MessageParser(m)
            var rr: RecordView? = nil
            while let (section, r) = try p.nextRecord() {
                guard rr == nil else { return .malformed("TSIG is not the last record") }
                if r.type == TSIG.type {
                    guard section == .additional else { return .malformed("TSIG outside the additional section") }
                    rr = r
                }
            }
            try p.checkNoTrailingData()
            guard let t = rr else { return .absent }
            var r = ByteReader(m, offset: t.rdataOffset)
            let f = try r.withLimit(t.rdLength, type: TSIG.type.rawValue) {
                (r: inout ByteReader) throws(DNSError) -> Found in
                let alg = try NameView.read(&r)
                let time = try UInt64(r.readU16()) << 32 | UInt64(r.readU32())
                let fudge = try r.readU16()
                let mac = try r.readBytes(Int(r.readU16()))
                let id = try r.readU16()
                let error = try r.readU16()
                let other = try r.readBytes(Int(r.readU16()))
                return Found(header: p.header, start: t.owner.offset, owner: t.owner, rawClass: t.rawClass, ttl: t.ttl,
                             algorithm: alg, timeSigned: time, fudge: fudge, mac: mac, originalID: id, error: error,
                             other: other)
            }
            return .found(f)
        } catch {
            return .malformed("malformed message or TSIG RDATA")
        }
    }

    /// The message up to its TSIG, with the Original ID and ARCOUNT less
    /// one in the header (§4.3.2).
    @_optimize(size) static func digestStripped(_ h: inout TSIGHMAC, _ m: UnsafeRawBufferPointer, _ f: Found) {
        let hd = f.header
        let ar = hd.arCount &- 1
        h.update(UInt64(f.originalID) << 48 | UInt64(hd.flags) << 32 | UInt64(hd.qdCount) << 16 | UInt64(hd.anCount),
                 bytes: 8)
        h.update(UInt64(hd.nsCount) << 16 | UInt64(ar), bytes: 4)
        h.update(UnsafeRawBufferPointer(rebasing: m[Header.size..<f.start]))
    }

    /// The TSIG variables (§4.3.3); the names are the key's, canonical.
    @_optimize(size) static func digestVariables(_ h: inout TSIGHMAC, key: TSIGKey, rawClass: UInt16, ttl: UInt32,
                                                 timeSigned: UInt64, fudge: UInt16, error: UInt16,
                                                 other: UnsafeRawBufferPointer) {
        key.name.wire.withUnsafeBytes { h.update($0) }
        h.update(UInt64(rawClass) << 32 | UInt64(ttl), bytes: 6)
        key.algorithm.name.wire.withUnsafeBytes { h.update($0) }
        h.update(timeSigned, bytes: 6)
        h.update(UInt64(fudge) << 32 | UInt64(error) << 16 | UInt64(other.count), bytes: 6)
        h.update(other)
    }

    /// The checks of §5.2 in order: placement and format (FORMERR), key
    /// (BADKEY), MAC size (§5.2.2.1, FORMERR), MAC (BADSIG), the peer's
    /// error, time (BADTIME), local truncation policy (BADTRUNC). With
    /// `running`, a later message of a stream (§5.3.1): the digest so far
    /// goes on with it and the timers.
    @_optimize(size) static func check(_ m: UnsafeRawBufferPointer, keys: UnsafeBufferPointer<TSIGKey>, prior: TSIGMAC?,
                                       running: TSIGHMAC?, now: UInt64, response: Bool) -> TSIGCheck {
        let f: Found
        switch locate(m) {
        case .malformed(let why): return .rejected(.formErr(why))
        case .absent: return .unsigned
        case .found(let found): f = found
        }
        // §4.2; a stream's later MACs do not cover these two either.
        guard f.rawClass == RRClass.any.rawValue, f.ttl == 0 else {
            return .rejected(.formErr("TSIG CLASS is not ANY or TTL not 0"))
        }
        let alg = TSIGAlgorithm.find(f.algorithm)
        var k = 0
        while k < keys.count && !(keys[k].algorithm == alg && f.owner.equals(keys[k].name)) { k &+= 1 }
        guard let alg, k < keys.count else {
            return .rejected(.notAuth(.badKey, "unknown key or algorithm", timeSigned: f.timeSigned))
        }
        let key = keys[k]
        let peer = TSIGError(rawValue: f.error)
        if response && f.mac.count == 0 && peer != .noError {
            return .peerError(TSIGPeerError(error: peer, authenticated: false, peerTime: nil))
        }
        // Nothing of a later message's TSIG but the timers is MACed.
        if running != nil && (peer != .noError || f.other.count != 0) {
            return .rejected(.formErr("error or other data in a later message of a stream"))
        }
        guard f.mac.count <= alg.macSize else { return .rejected(.formErr("MAC longer than the hash")) }
        guard f.mac.count >= alg.minimumMACSize else { return .rejected(.formErr("MAC truncated below the minimum")) }
        var h: TSIGHMAC
        if let r = running {
            h = r
        } else {
            h = key.keyed
            if let p = prior { h.update(mac: p) }
        }
        digestStripped(&h, m, f)
        if running != nil {
            h.update(f.timeSigned, bytes: 6)
            h.update(UInt64(f.fudge), bytes: 2)
        } else {
            digestVariables(&h, key: key, rawClass: f.rawClass, ttl: f.ttl, timeSigned: f.timeSigned, fudge: f.fudge,
                            error: f.error, other: f.other)
        }
        // A truncated MAC is compared with as many leading bytes of ours.
        let ours = h.finalize()
        let n = f.mac.count
        guard ours.withUnsafeBytes({ ConstantTime.equals(UnsafeRawBufferPointer(rebasing: $0[0..<n]), f.mac) }) else {
            return .rejected(.notAuth(.badSig, "MAC does not verify", timeSigned: f.timeSigned))
        }
        let mac = TSIGMAC(f.mac) ?? TSIGMAC()
        if response && peer != .noError {
            var t: UInt64? = nil
            if f.other.count == 6 {
                var v: UInt64 = 0
                var i = 0
                while i < 6 { v = v << 8 | UInt64(f.other[i]); i &+= 1 }
                t = v
            }
            return .peerError(TSIGPeerError(error: peer, authenticated: true, peerTime: t))
        }
        let skew = now >= f.timeSigned ? now &- f.timeSigned : f.timeSigned &- now
        guard skew <= UInt64(f.fudge) else {
            return .rejected(.notAuth(.badTime, "time signed outside the fudge", key: key, requestMAC: mac,
                                      timeSigned: f.timeSigned))
        }
        guard f.mac.count >= key.minimumMACSize else {
            return .rejected(.notAuth(.badTrunc, "MAC shorter than local policy", key: key, requestMAC: mac,
                                      timeSigned: f.timeSigned))
        }
        return .verified(TSIGVerified(keyIndex: k, mac: mac, timeSigned: f.timeSigned, fudge: f.fudge,
                                      originalID: f.originalID, tsigOffset: f.start))
    }

    /// Writes a TSIG RR (§4.2), uncompressed, at the writer's position; all
    /// or nothing.
    @_optimize(size) static func writeRR(_ w: inout ByteWriter, owner: UnsafeRawBufferPointer,
                                         algorithm: UnsafeRawBufferPointer, timeSigned: UInt64, fudge: UInt16,
                                         mac: TSIGMAC, originalID: UInt16, error: UInt16,
                                         other: UnsafeRawBufferPointer) throws(DNSError) {
        let rdLength = algorithm.count &+ 16 &+ mac.count &+ other.count
        guard rdLength <= 0xFFFF else { throw .noRoom }
        try w.ensure(owner.count &+ 10 &+ rdLength)
        try w.writeBytes(owner)
        try w.writeU16(TSIG.type.rawValue)
        try w.writeU16(RRClass.any.rawValue)
        try w.writeU32(0)
        try w.writeU16(UInt16(truncatingIfNeeded: rdLength))
        try w.writeBytes(algorithm)
        try w.writeU16(UInt16(truncatingIfNeeded: timeSigned >> 32))
        try w.writeU32(UInt32(truncatingIfNeeded: timeSigned))
        try w.writeU16(fudge)
        try w.writeU16(UInt16(truncatingIfNeeded: mac.count))
        var i = 0
        while i < mac.count { try w.writeU8(mac.storage[i]); i &+= 1 }
        try w.writeU16(originalID)
        try w.writeU16(error)
        try w.writeU16(UInt16(truncatingIfNeeded: other.count))
        try w.writeBytes(other)
    }

    static let empty = UnsafeRawBufferPointer(start: nil, count: 0)

    /// Appends a TSIG RR to `buffer[0..<length]` and bumps ARCOUNT. The MAC
    /// covers `prior` (when given), the message, and all the variables or,
    /// `timersOnly` (a stream's later messages), the timers.
    @inline(never) @_optimize(size)
    static func sign(_ buffer: UnsafeMutableRawBufferPointer, length: Int, key: TSIGKey, prior: TSIGMAC?,
                     timersOnly: Bool, timeSigned: UInt64, fudge: UInt16, error: TSIGError = .noError,
                     other: UnsafeRawBufferPointer = TSIG.empty) throws(DNSError) -> TSIGSigned {
        guard length >= Header.size, length <= buffer.count,
              let header = Header.peek(UnsafeRawBufferPointer(rebasing: buffer[0..<length])) else {
            throw .formErr(offset: 0, reason: "no message to sign")
        }
        guard header.arCount < 0xFFFF else { throw .noRoom }
        var h = key.keyed
        if let p = prior { h.update(mac: p) }
        h.update(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        if timersOnly {
            h.update(timeSigned, bytes: 6)
            h.update(UInt64(fudge), bytes: 2)
        } else {
            digestVariables(&h, key: key, rawClass: RRClass.any.rawValue, ttl: 0, timeSigned: timeSigned, fudge: fudge,
                            error: error.rawValue, other: other)
        }
        let mac = h.finalize()
        var w = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[length...]))
        let r = key.name.wire.withUnsafeBytes { (o: UnsafeRawBufferPointer) -> Result<Void, DNSError> in
            key.algorithm.name.wire.withUnsafeBytes { (a: UnsafeRawBufferPointer) -> Result<Void, DNSError> in
                do throws(DNSError) {
                    try writeRR(&w, owner: o, algorithm: a, timeSigned: timeSigned, fudge: fudge, mac: mac,
                                originalID: header.id, error: error.rawValue, other: other)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
        }
        try r.get()
        Header.patch(buffer, length: length) { $0.arCount &+= 1 }
        return TSIGSigned(length: length &+ w.count, mac: mac)
    }
}
