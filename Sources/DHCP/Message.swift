// DHCPv4 messages (RFC 2131 §2, options RFC 2132), sans-I/O: decoding
// untrusted bytes and encoding replies. Options are kept in order of first
// appearance; an option that appears more than once is one option whose
// value is the concatenation (RFC 3396 §7). Option overload (52) puts more
// options in `file` and/or `sname` (RFC 2132 §9.3), read in the order the
// RFC gives: options field, then file, then sname.

import Core

/// Why a message was rejected (the applet logs it and drops the packet).
public enum DHCPError: Error, Equatable, CustomStringConvertible {
    case tooShort(Int)
    case badCookie
    case badOption(offset: Int, reason: String)
    case notBootRequest
    case badHardwareLength(Int)
    /// Input ended at `offset` (inside the fixed part or an option).
    case truncated(Int)

    public var description: String {
        switch self {
        case .tooShort(let n): return "message of \(n) bytes (at least 240 needed)"
        case .badCookie: return "no DHCP magic cookie"
        case .badOption(let at, let why): return "option at offset \(at): \(why)"
        case .notBootRequest: return "not a BOOTREQUEST"
        case .badHardwareLength(let n): return "hardware address length \(n) (at most 16)"
        case .truncated(let at): return "message ends at offset \(at)"
        }
    }
}

/// DHCP decoders read through the shared bounds-checked reader.
typealias DHCPReader = WireReader<DHCPError>

extension DHCPError: WireFailure {
    public static func truncated(at offset: Int) -> DHCPError { .truncated(offset) }

    public var isTruncation: Bool {
        if case .truncated = self { return true }
        return false
    }
}

/// DHCP message types (option 53, RFC 2132 §9.6).
public enum DHCPMessageType: UInt8, CustomStringConvertible, Sendable {
    case discover = 1, offer, request, decline, ack, nak, release, inform

    public var description: String {
        switch self {
        case .discover: return "DISCOVER"
        case .offer: return "OFFER"
        case .request: return "REQUEST"
        case .decline: return "DECLINE"
        case .ack: return "ACK"
        case .nak: return "NAK"
        case .release: return "RELEASE"
        case .inform: return "INFORM"
        }
    }
}

/// Option codes dnsbox reads or writes.
public enum DHCPOption {
    public static let pad: UInt8 = 0
    public static let subnetMask: UInt8 = 1
    public static let router: UInt8 = 3
    public static let dnsServers: UInt8 = 6
    public static let hostName: UInt8 = 12
    public static let domainName: UInt8 = 15
    public static let broadcastAddress: UInt8 = 28
    public static let requestedAddress: UInt8 = 50
    public static let leaseTime: UInt8 = 51
    public static let overload: UInt8 = 52
    public static let messageType: UInt8 = 53
    public static let serverID: UInt8 = 54
    public static let parameterList: UInt8 = 55
    public static let message: UInt8 = 56
    public static let maxMessageSize: UInt8 = 57
    public static let renewalTime: UInt8 = 58
    public static let rebindingTime: UInt8 = 59
    public static let vendorClass: UInt8 = 60
    public static let clientID: UInt8 = 61
    public static let tftpServer: UInt8 = 66
    public static let bootFile: UInt8 = 67
    public static let userClass: UInt8 = 77
    public static let clientFQDN: UInt8 = 81
    public static let relayAgent: UInt8 = 82
    public static let clientArch: UInt8 = 93
    public static let domainSearch: UInt8 = 119
    public static let end: UInt8 = 255
}

/// A DHCPv4 message: the fixed BOOTP part and the options.
public struct DHCPMessage: Equatable, Sendable {
    public static let cookie: [UInt8] = [99, 130, 83, 99]
    /// Fixed part (236) + cookie (4).
    public static let headerSize = 240
    /// The minimum every DHCP client accepts (RFC 2131 §2).
    public static let minimumMaxSize = 576

    public var op: UInt8 = 2
    public var htype: UInt8 = 1
    public var hlen: UInt8 = 6
    public var hops: UInt8 = 0
    public var xid: UInt32 = 0
    public var secs: UInt16 = 0
    public var flags: UInt16 = 0
    public var ciaddr: UInt32 = 0
    public var yiaddr: UInt32 = 0
    public var siaddr: UInt32 = 0
    public var giaddr: UInt32 = 0
    /// 16 bytes; the first `hlen` are the hardware address.
    public var chaddr: [UInt8] = [UInt8](repeating: 0, count: 16)
    /// 64 bytes (server host name) and 128 bytes (boot file), NUL-padded.
    public var sname: [UInt8] = [UInt8](repeating: 0, count: 64)
    public var file: [UInt8] = [UInt8](repeating: 0, count: 128)
    /// (code, value), each code once, in order of first appearance.
    public var options: [(code: UInt8, value: [UInt8])] = []

    public init() {}

    public static func == (a: DHCPMessage, b: DHCPMessage) -> Bool {
        a.op == b.op && a.htype == b.htype && a.hlen == b.hlen && a.hops == b.hops && a.xid == b.xid
            && a.secs == b.secs && a.flags == b.flags && a.ciaddr == b.ciaddr && a.yiaddr == b.yiaddr
            && a.siaddr == b.siaddr && a.giaddr == b.giaddr && a.chaddr == b.chaddr && a.sname == b.sname
            && a.file == b.file && a.options.count == b.options.count
            && zip(a.options, b.options).allSatisfy { $0.code == $1.code && $0.value == $1.value }
    }

    /// The broadcast flag (RFC 2131 §2, figure 2).
    public var broadcast: Bool {
        get { flags & 0x8000 != 0 }
        set { flags = newValue ? flags | 0x8000 : flags & ~0x8000 }
    }

    /// The hardware address (`hlen` bytes of `chaddr`).
    public var hardwareAddress: [UInt8] { Array(chaddr.prefix(Int(min(hlen, 16)))) }

    public func option(_ code: UInt8) -> [UInt8]? {
        for o in options where o.code == code { return o.value }
        return nil
    }

    /// Sets (or replaces) an option.
    public mutating func set(_ code: UInt8, _ value: [UInt8]) {
        if let i = options.firstIndex(where: { $0.code == code }) {
            options[i].value = value
        } else {
            options.append((code, value))
        }
    }

    public var messageType: DHCPMessageType? {
        guard let v = option(DHCPOption.messageType), v.count == 1 else { return nil }
        return DHCPMessageType(rawValue: v[0])
    }

    /// Option 50/54 and friends: a 4-byte address, or nil.
    public func address(_ code: UInt8) -> UInt32? {
        guard let v = option(code), v.count == 4 else { return nil }
        return UInt32(v[0]) << 24 | UInt32(v[1]) << 16 | UInt32(v[2]) << 8 | UInt32(v[3])
    }

    /// The client's identity: option 61 when present (RFC 2131 §4.2),
    /// else the hardware type and address.
    public var clientKey: [UInt8] {
        if let id = option(DHCPOption.clientID), !id.isEmpty { return [0xFF] + id }
        return [htype] + hardwareAddress
    }

    /// The largest message the client accepts (option 57, at least 576).
    public var maxMessageSize: Int {
        guard let v = option(DHCPOption.maxMessageSize), v.count == 2 else { return DHCPMessage.minimumMaxSize }
        return max(DHCPMessage.minimumMaxSize, Int(v[0]) << 8 | Int(v[1]))
    }

    // MARK: decoding

    /// Decodes a message from the received bytes, borrowed (no copy of the
    /// packet). Rejects what is shorter than the fixed part, has no cookie,
    /// or has options that run past their field; PAD and END are honoured,
    /// an overload of an overloaded field is ignored.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(DHCPError) -> DHCPMessage {
        guard bytes.count >= headerSize else { throw .tooShort(bytes.count) }
        var cookie = DHCPReader(bytes, offset: 236)
        guard try cookie.readU32() == 0x6382_5363 else { throw .badCookie }
        var r = DHCPReader(bytes)
        var m = DHCPMessage()
        m.op = try r.readU8()
        m.htype = try r.readU8()
        m.hlen = try r.readU8()
        guard m.hlen <= 16 else { throw .badHardwareLength(Int(m.hlen)) }
        m.hops = try r.readU8()
        m.xid = try r.readU32()
        m.secs = try r.readU16()
        m.flags = try r.readU16()
        m.ciaddr = try r.readU32()
        m.yiaddr = try r.readU32()
        m.siaddr = try r.readU32()
        m.giaddr = try r.readU32()
        m.chaddr = Array(try r.readBytes(16))
        m.sname = Array(try r.readBytes(64))
        m.file = Array(try r.readBytes(128))
        var collected: [(code: UInt8, value: [UInt8])] = []
        try readOptions(bytes, 240, bytes.count, &collected)
        var overload: UInt8 = 0
        for o in collected where o.code == DHCPOption.overload && o.value.count == 1 { overload = o.value[0] }
        if overload & 1 != 0 { try readOptions(bytes, 108, 236, &collected) }
        if overload & 2 != 0 { try readOptions(bytes, 44, 108, &collected) }
        m.options = collected
        return m
    }

    /// Decodes a message from an array (tests, tools).
    public static func decode(_ b: [UInt8]) throws(DHCPError) -> DHCPMessage {
        var result: Result<DHCPMessage, DHCPError> = .failure(.tooShort(0))
        b.withUnsafeBytes { raw in
            do throws(DHCPError) { result = .success(try decode(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Reads the options in bytes[start..<end] into `out`, concatenating
    /// repeats (RFC 3396 §7).
    static func readOptions(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int,
                            _ out: inout [(code: UInt8, value: [UInt8])]) throws(DHCPError) {
        var r = DHCPReader(UnsafeRawBufferPointer(rebasing: bytes[0..<min(end, bytes.count)]), offset: start)
        while !r.isAtEnd {
            let at = r.offset
            let code = try r.readU8()
            if code == DHCPOption.pad { continue }
            if code == DHCPOption.end { return }
            guard let len = try? r.readU8() else { throw .badOption(offset: at, reason: "length missing") }
            guard let value = try? r.readBytes(Int(len)) else {
                throw .badOption(offset: at, reason: "option \(code) runs past its field")
            }
            if let k = out.firstIndex(where: { $0.code == code }) {
                guard out[k].value.count + value.count <= 65535 else {
                    throw .badOption(offset: at, reason: "option \(code) too long")
                }
                out[k].value += value
            } else {
                out.append((code, Array(value)))
            }
        }
    }

    // MARK: encoding

    /// Encodes the message in at most `maxSize` bytes (≥ 300, the BOOTP
    /// minimum, is padded to). Options longer than 255 bytes are split
    /// (RFC 3396). Options that do not fit in the options field go into
    /// `file` then `sname` when those are empty (overload, RFC 2132 §9.3);
    /// what still does not fit is left out, last options first, except the
    /// message type and server identifier, which always come first.
    public func encode(maxSize: Int = 576) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(max(300, min(maxSize, 1500)))
        b.append(op); b.append(htype); b.append(hlen); b.append(hops)
        DHCPMessage.put32(&b, xid)
        b.append(UInt8(secs >> 8)); b.append(UInt8(secs & 0xFF))
        b.append(UInt8(flags >> 8)); b.append(UInt8(flags & 0xFF))
        DHCPMessage.put32(&b, ciaddr); DHCPMessage.put32(&b, yiaddr)
        DHCPMessage.put32(&b, siaddr); DHCPMessage.put32(&b, giaddr)
        b += DHCPMessage.fixed(chaddr, 16)
        let snameAt = b.count
        b += DHCPMessage.fixed(sname, 64)
        let fileAt = b.count
        b += DHCPMessage.fixed(file, 128)
        b += DHCPMessage.cookie
        // Encoded options, message type and server id first.
        var encoded: [[UInt8]] = []
        let first = [DHCPOption.messageType, DHCPOption.serverID]
        for c in first { if let v = option(c) { encoded.append(DHCPMessage.encodeOption(c, v)) } }
        for o in options where !first.contains(o.code) && o.code != DHCPOption.overload {
            encoded.append(DHCPMessage.encodeOption(o.code, o.value))
        }
        let limit = max(DHCPMessage.minimumMaxSize, maxSize)
        // Options field: room for the overload option (3) and END (1).
        var room = limit - b.count - 4
        var main: [UInt8] = []
        var rest: [[UInt8]] = []
        for e in encoded {
            if rest.isEmpty && e.count <= room {
                main += e
                room -= e.count
            } else {
                rest.append(e)
            }
        }
        var overload: UInt8 = 0
        var fileArea: [UInt8] = []
        var snameArea: [UInt8] = []
        if !rest.isEmpty {
            let fileFree = file.allSatisfy { $0 == 0 }
            let snameFree = sname.allSatisfy { $0 == 0 }
            var left: [[UInt8]] = []
            for e in rest {
                if fileFree && fileArea.count + e.count <= 127 {
                    fileArea += e
                    overload |= 1
                } else if snameFree && snameArea.count + e.count <= 63 {
                    snameArea += e
                    overload |= 2
                } else {
                    left.append(e)
                }
            }
            _ = left   // dropped: they fit nowhere
        }
        if overload != 0 {
            b += [DHCPOption.overload, 1, overload]
            if overload & 1 != 0 {
                fileArea.append(DHCPOption.end)
                for (k, v) in fileArea.enumerated() { b[fileAt + k] = v }
                for k in fileArea.count..<128 { b[fileAt + k] = 0 }
            }
            if overload & 2 != 0 {
                snameArea.append(DHCPOption.end)
                for (k, v) in snameArea.enumerated() { b[snameAt + k] = v }
                for k in snameArea.count..<64 { b[snameAt + k] = 0 }
            }
        }
        b += main
        b.append(DHCPOption.end)
        while b.count < 300 { b.append(0) }
        return b
    }

    static func put32(_ b: inout [UInt8], _ v: UInt32) {
        b.append(UInt8(v >> 24)); b.append(UInt8((v >> 16) & 0xFF))
        b.append(UInt8((v >> 8) & 0xFF)); b.append(UInt8(v & 0xFF))
    }

    static func fixed(_ v: [UInt8], _ n: Int) -> [UInt8] {
        var out = Array(v.prefix(n))
        while out.count < n { out.append(0) }
        return out
    }

    /// One option, split into 255-byte pieces (RFC 3396 §6).
    static func encodeOption(_ code: UInt8, _ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        if value.isEmpty { return [code, 0] }
        var i = 0
        while i < value.count {
            let n = min(255, value.count - i)
            out.append(code)
            out.append(UInt8(n))
            out += value[i..<(i + n)]
            i += n
        }
        return out
    }

    /// A 4-byte address option value.
    public static func addressBytes(_ a: UInt32) -> [UInt8] {
        [UInt8(a >> 24), UInt8((a >> 16) & 0xFF), UInt8((a >> 8) & 0xFF), UInt8(a & 0xFF)]
    }

    public static func u32Bytes(_ v: UInt32) -> [UInt8] { addressBytes(v) }
}
