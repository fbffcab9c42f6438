// Patching a message in place: what a forwarder does to an upstream's reply
// before relaying it (the client's ID and flags, our OPT payload, no OPT for
// a client without EDNS). Header fields go through `Header`'s typed
// accessors; the OPT record is found by parsing, never by offset guessing.

import Core

extension Header {
    /// The header at the start of `message`, or nil when it is shorter than 12 bytes.
    public static func peek(_ message: UnsafeRawBufferPointer) -> Header? {
        var r = ByteReader(message)
        return try? Header.read(&r)
    }

    /// Writes this header over the first 12 bytes of `message` (no-op when shorter).
    public func store(into message: UnsafeMutableRawBufferPointer) {
        guard message.count >= Header.size else { return }
        var w = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: message[0..<Header.size]))
        try? write(&w)
    }

    /// Reads the header of `message[0..<length]`, lets `body` change it and
    /// writes it back. False when there is no header.
    @discardableResult
    public static func patch(_ message: UnsafeMutableRawBufferPointer, length: Int, _ body: (inout Header) -> Void) -> Bool {
        guard length >= Header.size, length <= message.count,
              var h = peek(UnsafeRawBufferPointer(rebasing: message[0..<length])) else { return false }
        body(&h)
        h.store(into: message)
        return true
    }
}

/// The OPT record (RFC 6891 §6.1) of a message when it is the last record
/// and the only OPT: where it starts, so it can be cut off or its payload
/// size changed. A reply with an OPT anywhere else is left as it is.
public struct TrailingOPT {
    /// Offset of the OPT's owner name (the root, one zero byte).
    public let offset: Int

    /// Finds it in `message`; nil when there is none, it is not last, or
    /// the message does not parse.
    public static func find(in message: UnsafeRawBufferPointer) throws(DNSError) -> TrailingOPT? {
        var p = try MessageParser(message)
        var at = -1
        var count = 0
        var lastEnd = 0
        while let (section, rr) = try p.nextRecord() {
            if rr.type == .opt && section == .additional {
                at = rr.owner.offset
                count += 1
            }
            lastEnd = rr.rdataOffset + rr.rdLength
        }
        guard at >= 0, count == 1, lastEnd == message.count, message[at] == 0 else { return nil }
        return TrailingOPT(offset: at)
    }

    /// Drops the OPT from `message` (ARCOUNT one less); the new length.
    public func remove(from message: UnsafeMutableRawBufferPointer, length: Int) -> Int {
        Header.patch(message, length: length) { $0.arCount &-= 1 }
        return offset
    }

    /// Sets the OPT's UDP payload size (its CLASS field, after the root
    /// owner and TYPE).
    public func setPayloadSize(_ size: UInt16, in message: UnsafeMutableRawBufferPointer) {
        guard offset + 5 <= message.count else { return }
        var w = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: message[(offset + 3)..<(offset + 5)]))
        try? w.writeU16(size)
    }
}

extension Header {
    /// The RCODE header bits and the first question's TYPE of a message
    /// whose question name is uncompressed (every response dnsd writes):
    /// what the per-response counters need. nil without a header; a nil
    /// type when there is no readable question. Hot-path safe: it reads
    /// the flags, QDCOUNT and the labels' length bytes, nothing else.
    @inline(__always)
    public static func rcodeAndQuestionType(_ message: UnsafeRawBufferPointer) -> (rcode: UInt8, type: UInt16?)? {
        var r = ByteReader(message, offset: 2)
        guard let flags = try? r.readU16(), let qd = try? r.readU16() else { return nil }
        let rcode = UInt8(truncatingIfNeeded: flags & 0xF)
        guard qd >= 1, (try? r.skip(6)) != nil else { return (rcode, nil) }
        while let len = try? r.readU8(), len != 0 {
            guard len < 64, (try? r.skip(Int(len))) != nil else { return (rcode, nil) }
        }
        return (rcode, try? r.readU16())
    }
}
