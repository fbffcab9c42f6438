import CShim

/// An IPv4/IPv6 address and port, as the kernel sees it. The address is
/// stored inline (no heap), so reading a peer on the hot path allocates nothing.
public struct SocketAddress: Equatable, Hashable, CustomStringConvertible {
    public enum Family: Equatable, Hashable { case v4, v6 }

    public var family: Family
    public var port: UInt16
    public var scopeID: UInt32
    /// The 16 address bytes in network order (IPv4 uses the first 4).
    private var storage: (UInt64, UInt64) = (0, 0)

    public init(family: Family, bytes: [UInt8], port: UInt16, scopeID: UInt32 = 0) {
        self.family = family
        self.port = port
        self.scopeID = scopeID
        let n = family == .v4 ? 4 : 16
        withUnsafeMutableBytes(of: &storage) { dst in
            for i in 0..<min(n, bytes.count) { dst[i] = bytes[i] }
        }
    }

    /// 0.0.0.0 port 0: "no address" where one must be passed.
    public static var none: SocketAddress {
        var r = dx_addr()
        r.family = UInt8(DX_AF_INET)
        return SocketAddress(raw: r)
    }

    /// The 16 address bytes as two words in memory order (IPv4: the first
    /// 4 bytes), for allocation-free prefix matching.
    public var rawBytes: (UInt64, UInt64) { storage }

    /// Address length in bytes: 4 or 16.
    public var count: Int { family == .v4 ? 4 : 16 }

    /// Byte i of the address (0..<count), without allocating.
    public subscript(byte i: Int) -> UInt8 {
        guard i >= 0 && i < count else { return 0 }
        return withUnsafeBytes(of: storage) { $0[i] }
    }

    /// 4 bytes for IPv4, 16 for IPv6 (allocates: not for the hot path).
    public var bytes: [UInt8] {
        withUnsafeBytes(of: storage) { Array($0.prefix(count)) }
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.family == b.family && a.port == b.port && a.scopeID == b.scopeID
            && a.storage.0 == b.storage.0 && a.storage.1 == b.storage.1
    }

    public func hash(into h: inout Hasher) {
        h.combine(family)
        h.combine(port)
        h.combine(scopeID)
        h.combine(storage.0)
        h.combine(storage.1)
    }

    /// Parses a numeric address literal ("127.0.0.1", "::1").
    public init?(ip: String, port: UInt16) {
        var raw = dx_addr()
        if dx_addr_parse(ip, port, &raw) != 0 { return nil }
        self.init(raw: raw)
    }

    /// Parses "1.2.3.4:53", "[::1]:53"; a bare address takes `defaultPort`.
    public init?(hostPort text: String, defaultPort: UInt16? = nil) {
        var host = text
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let p = UInt16(rest.dropFirst()) else { return nil }
                port = p
            } else if !rest.isEmpty { return nil }
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            host = String(text[text.startIndex..<colon])
            guard let p = UInt16(text[text.index(after: colon)...]) else { return nil }
            port = p
        }
        guard let port else { return nil }
        self.init(ip: host, port: port)
    }

    init(raw: dx_addr) {
        family = raw.family == UInt8(DX_AF_INET) ? .v4 : .v6
        port = raw.port
        scopeID = raw.scope_id
        let n = family == .v4 ? 4 : 16
        withUnsafeBytes(of: raw.addr) { src in
            withUnsafeMutableBytes(of: &storage) { dst in for i in 0..<n { dst[i] = src[i] } }
        }
    }

    var raw: dx_addr {
        var r = dx_addr()
        r.family = UInt8(family == .v4 ? DX_AF_INET : DX_AF_INET6)
        r.port = port
        r.scope_id = scopeID
        let n = count
        withUnsafeBytes(of: storage) { src in
            withUnsafeMutableBytes(of: &r.addr) { dst in for i in 0..<n { dst[i] = src[i] } }
        }
        return r
    }

    /// True for 0.0.0.0 and :: (a wildcard bind).
    public var isUnspecified: Bool {
        var i = 0
        while i < count {
            if self[byte: i] != 0 { return false }
            i += 1
        }
        return true
    }

    public var afValue: Int32 { Int32(family == .v4 ? DX_AF_INET : DX_AF_INET6) }

    /// The address without the port ("192.0.2.1", "2001:db8::1").
    public var ipString: String {
        var r = raw
        var buf = [CChar](repeating: 0, count: 64)
        _ = dx_addr_format(&r, &buf, buf.count)
        return Sys.string(cString: buf)
    }

    public var description: String {
        family == .v4 ? "\(ipString):\(port)" : "[\(ipString)]:\(port)"
    }
}

/// An owned file descriptor for a socket. Close it explicitly (or let the
/// owner's deinit do it); copies share the number, not ownership.
public struct Socket {
    public let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    public struct Options {
        /// SO_REUSEADDR; nil = on for TCP listeners (restart through
        /// TIME_WAIT), off for UDP, where it would let a second process
        /// silently bind the same address and steal its datagrams.
        public var reuseAddress: Bool? = nil
        public var reusePort = false
        public var packetInfo = false
        public var v6Only = true
        public var device: String? = nil
        public var nonBlocking = true
        public var receiveBuffer: Int? = nil
        public var broadcast = false
        public init() {}
    }

    /// A bound UDP socket.
    public static func udp(bind addr: SocketAddress, options: Options = Options()) throws(SysError) -> Socket {
        try open(type: Int32(DX_SOCK_DGRAM), bind: addr, options: options, listen: false)
    }

    /// A bound, listening TCP socket.
    public static func tcpListen(bind addr: SocketAddress, options: Options = Options(), backlog: Int32 = 128) throws(SysError) -> Socket {
        let s = try open(type: Int32(DX_SOCK_STREAM), bind: addr, options: options, listen: true)
        if dx_listen(s.fd, backlog) != 0 {
            let e = SysError.last("listen \(addr)")
            s.close()
            throw e
        }
        return s
    }

    /// An unbound socket of the address's family (for outgoing connections).
    public static func unbound(family: SocketAddress.Family, stream: Bool) throws(SysError) -> Socket {
        let fd = dx_socket(Int32(family == .v4 ? DX_AF_INET : DX_AF_INET6), Int32(stream ? DX_SOCK_STREAM : DX_SOCK_DGRAM), 1)
        if fd < 0 { throw SysError.last("socket") }
        return Socket(fd: fd)
    }

    private static func open(type: Int32, bind addr: SocketAddress, options o: Options, listen: Bool) throws(SysError) -> Socket {
        let fd = dx_socket(addr.afValue, type, o.nonBlocking ? 1 : 0)
        if fd < 0 { throw SysError.last("socket \(addr)") }
        let s = Socket(fd: fd)
        var failed: String? = nil
        if (o.reuseAddress ?? (type == Int32(DX_SOCK_STREAM))) && dx_set_reuseaddr(fd) != 0 { failed = "SO_REUSEADDR" }
        if failed == nil && o.reusePort && dx_set_reuseport(fd) != 0 { failed = "SO_REUSEPORT" }
        if failed == nil && addr.family == .v6 && dx_set_v6only(fd, o.v6Only ? 1 : 0) != 0 { failed = "IPV6_V6ONLY" }
        if failed == nil && o.packetInfo && dx_set_pktinfo(fd, addr.afValue) != 0 { failed = "PKTINFO" }
        if failed == nil, let dev = o.device, dx_bind_to_device(fd, dev) != 0 { failed = "SO_BINDTODEVICE \(dev)" }
        if failed == nil, let rb = o.receiveBuffer { _ = dx_set_rcvbuf(fd, Int32(rb)) }
        if failed == nil && o.broadcast && dx_set_broadcast(fd) != 0 { failed = "SO_BROADCAST" }
        if let failed {
            let e = SysError.last("setsockopt \(failed)")
            s.close()
            throw e
        }
        var raw = addr.raw
        if dx_bind(fd, &raw) != 0 {
            let e = SysError.last("bind \(addr)")
            s.close()
            throw e
        }
        return s
    }

    public func close() { _ = dx_close(fd) }

    /// How long a blocking receive waits before giving up (SO_RCVTIMEO).
    public func setReceiveTimeout(milliseconds: Int) throws(SysError) {
        if dx_set_recv_timeout(fd, Int32(milliseconds)) != 0 { throw SysError.last("setsockopt SO_RCVTIMEO") }
    }

    public func localAddress() throws(SysError) -> SocketAddress {
        var raw = dx_addr()
        if dx_local_addr(fd, &raw) != 0 { throw SysError.last("getsockname") }
        return SocketAddress(raw: raw)
    }

    /// Returns the accepted connection, or nil when none is pending.
    public func accept() throws(SysError) -> (Socket, SocketAddress)? {
        var raw = dx_addr()
        let c = dx_accept(fd, &raw)
        if c < 0 {
            let e = dx_errno()
            if e == Int32(DX_EAGAIN) { return nil }
            throw SysError("accept", code: e)
        }
        return (Socket(fd: c), SocketAddress(raw: raw))
    }

    /// Starts a connect; returns true when already connected, false when in progress.
    public func connect(_ to: SocketAddress) throws(SysError) -> Bool {
        var raw = to.raw
        if dx_connect(fd, &raw) == 0 { return true }
        if dx_errno() == Int32(DX_EINPROGRESS) { return false }
        throw SysError.last("connect \(to)")
    }

    public func pendingError() -> Int32 { dx_socket_error(fd) }

    /// Sends a datagram (to: nil on a connected socket). Returns bytes sent.
    public func send(_ bytes: UnsafeRawBufferPointer, to: SocketAddress? = nil) throws(SysError) -> Int {
        var n: Int
        if let to {
            var raw = to.raw
            n = dx_sendto(fd, bytes.baseAddress, bytes.count, &raw)
        } else {
            n = dx_sendto(fd, bytes.baseAddress, bytes.count, nil)
        }
        if n < 0 { throw SysError.last("send") }
        return n
    }

    /// Sends a datagram to `to` from the local address `from` (a socket
    /// bound to a wildcard address with packet info on). nil: any address.
    public func send(_ bytes: UnsafeRawBufferPointer, to: SocketAddress, from: SocketAddress?) throws(SysError) -> Int {
        var rawTo = to.raw
        var n: Int
        if let from {
            var rawFrom = from.raw
            n = dx_sendto_from(fd, bytes.baseAddress, bytes.count, &rawTo, &rawFrom)
        } else {
            n = dx_sendto_from(fd, bytes.baseAddress, bytes.count, &rawTo, nil)
        }
        if n < 0 { throw SysError.last("sendmsg") }
        return n
    }

    public func send(_ bytes: [UInt8], to: SocketAddress? = nil) throws(SysError) -> Int {
        var result: Result<Int, SysError> = .success(0)
        bytes.withUnsafeBytes { buf in
            do throws(SysError) { result = .success(try send(buf, to: to)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Receives one datagram or stream chunk. nil = would block; 0 bytes = EOF.
    public func receive(into buf: UnsafeMutableRawBufferPointer) throws(SysError) -> (Int, SocketAddress)? {
        var raw = dx_addr()
        let n = dx_recvfrom(fd, buf.baseAddress, buf.count, &raw)
        if n < 0 {
            let e = dx_errno()
            if e == Int32(DX_EAGAIN) { return nil }
            throw SysError("recv", code: e)
        }
        return (n, SocketAddress(raw: raw))
    }

    /// Receives into an array the caller keeps (at most `limit` bytes, default
    /// all of it). The one place that bridges typed throws through
    /// `withUnsafeMutableBytes` (Swift 6.3.1 crashes on typed-throws
    /// closures passed to the stdlib's withUnsafe… functions).
    public func receive(into buffer: inout [UInt8], limit: Int? = nil) throws(SysError) -> (Int, SocketAddress)? {
        var result: Result<(Int, SocketAddress)?, SysError> = .success(nil)
        buffer.withUnsafeMutableBytes { b in
            let room = UnsafeMutableRawBufferPointer(rebasing: b[0..<min(b.count, max(0, limit ?? b.count))])
            do throws(SysError) { result = .success(try receive(into: room)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Sends `bytes[from...]` (a stream's unsent tail); returns bytes sent.
    public func send(_ bytes: [UInt8], from start: Int) throws(SysError) -> Int {
        var result: Result<Int, SysError> = .success(0)
        bytes.withUnsafeBytes { all in
            do throws(SysError) { result = .success(try send(UnsafeRawBufferPointer(rebasing: all[start...]), to: nil)) } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    public func shutdownWrite() { _ = dx_shutdown_write(fd) }

    /// Waits up to `milliseconds` until the socket is readable (or
    /// writable); false on timeout.
    public func wait(writable: Bool = false, milliseconds: Int) -> Bool {
        dx_wait_fd(fd, writable ? 4 : 1, Int32(clamping: milliseconds)) == 1
    }

    public static let timedOut = Int32(DX_ETIMEDOUT)
}
