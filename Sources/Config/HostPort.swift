// `host:port` endpoints as written in config (listen addresses, forwarders,
// BGP peers).

/// A host and a port.
///
/// Accepted text:
/// - `host:port` where host is an IPv4 address or a hostname;
/// - `[v6]:port`;
/// - `host`, `[v6]` or a bare IPv6 address (`::1`) when a default port is
///   given (a bare IPv6 address never carries a port: `::1:53` is the
///   address `::1:53`).
///
/// A hostname is `[A-Za-z0-9.-]+` with no empty label (`a..b`, `.a`), one
/// trailing dot allowed; a host of digits and dots only must be a valid
/// IPv4 address (so `1.2.3.999` is refused). The port is decimal 1–65535
/// without leading zeros. `host` is stored without brackets; IPv6 hosts are
/// stored in canonical form.
public struct HostPort: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ s: String, defaultPort: Int?) {
        let utf8 = Array(s.utf8)
        guard let first = utf8.first else { return nil }
        let colon: UInt8 = 0x3A

        if first == 0x5B {  // '['
            guard let close = utf8.firstIndex(of: 0x5D),
                  let address = IPAddress(String(decoding: utf8[1..<close], as: UTF8.self)),
                  !address.isV4
            else { return nil }
            let rest = utf8[(close + 1)...]
            if rest.isEmpty {
                guard let defaultPort else { return nil }
                self.init(host: address.description, port: defaultPort)
                return
            }
            guard rest.first == colon, let port = HostPort.parsePort(rest.dropFirst()) else { return nil }
            self.init(host: address.description, port: port)
            return
        }

        var colons = 0
        for c in utf8 where c == colon { colons += 1 }
        if colons > 1 {
            guard let defaultPort, let address = IPAddress(s), !address.isV4 else { return nil }
            self.init(host: address.description, port: defaultPort)
            return
        }
        if colons == 1, let at = utf8.firstIndex(of: colon) {
            let hostBytes = utf8[..<at]
            guard HostPort.isValidHost(hostBytes), let port = HostPort.parsePort(utf8[(at + 1)...]) else { return nil }
            self.init(host: String(decoding: hostBytes, as: UTF8.self), port: port)
            return
        }
        guard let defaultPort, HostPort.isValidHost(utf8[...]) else { return nil }
        self.init(host: s, port: defaultPort)
    }

    /// The host as an address, when it is one.
    public var address: IPAddress? { IPAddress(host) }

    /// `host:port`, `[v6]:port` for IPv6 hosts.
    public var description: String {
        var colonInHost = false
        for c in host.utf8 where c == 0x3A { colonInHost = true }
        let shown = colonInHost ? "[" + host + "]" : host
        return shown + ":" + "\(port)"
    }

    static func parsePort(_ digits: ArraySlice<UInt8>) -> Int? {
        if digits.count > 1, digits.first == 0x30 { return nil }
        guard let port = ASCII.parseDecimal(digits, limit: 65535), port >= 1 else { return nil }
        return port
    }

    /// IPv4 address or hostname, as documented on the type.
    static func isValidHost(_ s: ArraySlice<UInt8>) -> Bool {
        guard !s.isEmpty else { return false }
        var onlyDigitsAndDots = true
        var labelLength = 0
        var index = s.startIndex
        while index < s.endIndex {
            let c = s[index]
            if c == 0x2E {  // '.'
                let isLast = index == s.endIndex - 1
                if labelLength == 0 { return false }
                if isLast { break }
                labelLength = 0
            } else if ASCII.isAlpha(c) || c == 0x2D {
                onlyDigitsAndDots = false
                labelLength += 1
            } else if ASCII.isDigit(c) {
                labelLength += 1
            } else {
                return false
            }
            index += 1
        }
        if onlyDigitsAndDots { return IPAddress.parseV4(s) != nil }
        return true
    }
}
