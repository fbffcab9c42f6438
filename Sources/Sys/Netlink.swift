import CShim

/// rtnetlink through libnl-route: interfaces, their addresses, and changes.
public final class Netlink {
    public struct Link: Equatable {
        public var index: Int
        public var name: String
        public var isUp: Bool
        public var mtu: Int
        public var mac: [UInt8]
    }

    public struct Address: Equatable {
        public var interfaceIndex: Int
        public var address: SocketAddress
        public var prefixLength: Int
        /// IPv4 label such as "lo:dns0" ("" when none).
        public var label: String
    }

    private let h: OpaquePointer

    public init() throws(SysError) {
        guard let h = dx_nl_open() else { throw SysError.last("netlink connect") }
        self.h = h
    }

    deinit { dx_nl_close(h) }

    public func links() throws(SysError) -> [Link] {
        var cap = 32
        while true {
            var buf = [dx_link](repeating: dx_link(), count: cap)
            let n = Int(dx_nl_links(h, &buf, Int32(cap)))
            if n < 0 { throw SysError.last("netlink link dump") }
            if n > cap { cap = n + 8; continue }
            return buf[0..<n].map { l in
                var name = l.name
                let s = withUnsafeBytes(of: &name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                var mac = l.mac
                let m = withUnsafeBytes(of: &mac) { Array($0.prefix(Int(l.mac_len))) }
                return Link(index: Int(l.index), name: s, isUp: l.up != 0, mtu: Int(l.mtu), mac: m)
            }
        }
    }

    public func addresses() throws(SysError) -> [Address] {
        var cap = 64
        while true {
            var buf = [dx_ifaddr](repeating: dx_ifaddr(), count: cap)
            let n = Int(dx_nl_addrs(h, &buf, Int32(cap)))
            if n < 0 { throw SysError.last("netlink address dump") }
            if n > cap { cap = n + 16; continue }
            return buf[0..<n].map { a in
                var bytes = a.addr
                let v4 = a.family == Int32(DX_AF_INET)
                let b = withUnsafeBytes(of: &bytes) { Array($0.prefix(v4 ? 4 : 16)) }
                var label = a.label
                let l = withUnsafeBytes(of: &label) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                let addr = SocketAddress(family: v4 ? .v4 : .v6, bytes: b, port: 0)
                return Address(interfaceIndex: Int(a.ifindex), address: addr, prefixLength: Int(a.prefixlen), label: l)
            }
        }
    }

    public func index(of name: String) -> Int? {
        let i = dx_if_nametoindex(name)
        return i == 0 ? nil : Int(i)
    }

    public func addAddress(_ a: SocketAddress, prefixLength: Int, interface: Int, label: String = "") throws(SysError) {
        let bytes = a.bytes
        let rc = bytes.withUnsafeBufferPointer {
            dx_nl_addr_add(h, Int32(interface), a.afValue, $0.baseAddress, Int32(prefixLength), label)
        }
        if rc != 0 { throw SysError.last("add address \(a.ipString)/\(prefixLength)") }
    }

    public func removeAddress(_ a: SocketAddress, prefixLength: Int, interface: Int) throws(SysError) {
        let bytes = a.bytes
        let rc = bytes.withUnsafeBufferPointer {
            dx_nl_addr_del(h, Int32(interface), a.afValue, $0.baseAddress, Int32(prefixLength))
        }
        if rc != 0 { throw SysError.last("remove address \(a.ipString)/\(prefixLength)") }
    }
}

/// A subscription to link and address changes. Put `fd` in the event loop;
/// when readable call `drain()`, and re-read links/addresses if it returns > 0
/// (a kernel overflow is reported as a change, so nothing is missed).
public final class NetlinkWatch {
    private let s: OpaquePointer
    public let fd: Int32

    public init() throws(SysError) {
        guard let s = dx_nl_subscribe() else { throw SysError.last("netlink subscribe") }
        self.s = s
        fd = dx_nl_sub_fd(s)
    }

    deinit { dx_nl_sub_close(s) }

    public func drain() -> Int { Int(dx_nl_sub_drain(s)) }
}
