import CShim

/// rtnetlink on a raw NETLINK_ROUTE socket (the C shim's `dx_nl_*`, no
/// libnl): interfaces, their addresses, address changes, and a typed stream
/// of link and address changes (`NetlinkWatch`).
public final class Netlink {
    public struct Link: Equatable {
        public var index: Int
        public var name: String
        /// IFF_UP: administratively up.
        public var isUp: Bool
        public var mtu: Int
        public var mac: [UInt8]
        /// IFF_* flags as the kernel reports them.
        public var flags: UInt32
        /// IFF_RUNNING: up and operational (RFC 2863 operstate up).
        public var isRunning: Bool
        /// The lower layer has a carrier (IFLA_CARRIER, else IFF_LOWER_UP).
        public var hasCarrier: Bool
        /// IFLA_OPERSTATE (RFC 2863): 0 unknown, 2 down, 5 dormant, 6 up.
        public var operState: Int
        /// ARPHRD_* hardware type (1 Ethernet, 772 loopback).
        public var type: Int

        public var isLoopback: Bool { flags & UInt32(DX_IFF_LOOPBACK) != 0 }

        init(_ l: dx_link) {
            var name = l.name
            self.name = withUnsafeBytes(of: &name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            var mac = l.mac
            self.mac = withUnsafeBytes(of: &mac) { Array($0.prefix(Int(min(max(l.mac_len, 0), 6)))) }
            index = Int(l.index)
            isUp = l.up != 0
            mtu = Int(l.mtu)
            flags = UInt32(l.flags)
            isRunning = l.running != 0
            hasCarrier = l.carrier != 0
            operState = Int(l.operstate)
            type = Int(l.type)
        }
    }

    public struct Address: Equatable {
        public var interfaceIndex: Int
        public var address: SocketAddress
        public var prefixLength: Int
        /// IPv4 label such as "lo:dns0" ("" when none).
        public var label: String
        /// IFA_F_* flags (IFA_FLAGS, 32 bits).
        public var flags: UInt32
        /// RT_SCOPE_*: 0 global, 253 link, 254 host.
        public var scope: Int
        /// Seconds the address stays valid / preferred (IFA_CACHEINFO); nil = forever.
        public var validLifetime: UInt32?
        public var preferredLifetime: UInt32?

        /// IPv6 duplicate address detection still running: not usable as a source yet.
        public var isTentative: Bool { flags & UInt32(DX_IFA_F_TENTATIVE) != 0 }
        /// Preferred lifetime over: kept for existing connections only.
        public var isDeprecated: Bool { flags & UInt32(DX_IFA_F_DEPRECATED) != 0 }
        /// Duplicate address detection found another holder.
        public var isDADFailed: Bool { flags & UInt32(DX_IFA_F_DADFAILED) != 0 }

        init(_ a: dx_ifaddr) {
            var bytes = a.addr
            let v4 = a.family == Int32(DX_AF_INET)
            let b = withUnsafeBytes(of: &bytes) { Array($0.prefix(v4 ? 4 : 16)) }
            var label = a.label
            self.label = withUnsafeBytes(of: &label) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            address = SocketAddress(family: v4 ? .v4 : .v6, bytes: b, port: 0)
            interfaceIndex = Int(a.ifindex)
            prefixLength = Int(a.prefixlen)
            flags = UInt32(a.flags)
            scope = Int(a.scope)
            validLifetime = a.valid_lft == UInt32.max ? nil : a.valid_lft
            preferredLifetime = a.preferred_lft == UInt32.max ? nil : a.preferred_lft
        }
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
            return buf[0..<n].map { Link($0) }
        }
    }

    public func addresses() throws(SysError) -> [Address] {
        var cap = 64
        while true {
            var buf = [dx_ifaddr](repeating: dx_ifaddr(), count: cap)
            let n = Int(dx_nl_addrs(h, &buf, Int32(cap)))
            if n < 0 { throw SysError.last("netlink address dump") }
            if n > cap { cap = n + 16; continue }
            return buf[0..<n].map { Address($0) }
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
/// when it is readable call `read()`. When it says `overflowed`, the kernel
/// dropped notifications: re-read links and addresses with `Netlink`, since
/// the changes alone no longer tell the whole story.
public final class NetlinkWatch {
    public enum Change: Equatable {
        /// RTM_NEWLINK (created or changed) / RTM_DELLINK.
        case link(Netlink.Link, removed: Bool)
        /// RTM_NEWADDR (added or changed, e.g. DAD done) / RTM_DELADDR.
        case address(Netlink.Address, removed: Bool)

        init?(_ e: dx_nl_event) {
            switch e.kind {
            case Int32(DX_NL_LINK_NEW), Int32(DX_NL_LINK_DEL):
                self = .link(Netlink.Link(e.link), removed: e.kind == Int32(DX_NL_LINK_DEL))
            case Int32(DX_NL_ADDR_NEW), Int32(DX_NL_ADDR_DEL):
                self = .address(Netlink.Address(e.addr), removed: e.kind == Int32(DX_NL_ADDR_DEL))
            default:
                return nil
            }
        }
    }

    private let s: OpaquePointer
    public let fd: Int32
    private var events = [dx_nl_event](repeating: dx_nl_event(), count: 16)

    public init() throws(SysError) {
        guard let s = dx_nl_subscribe() else { throw SysError.last("netlink subscribe") }
        self.s = s
        fd = dx_nl_sub_fd(s)
    }

    deinit { dx_nl_sub_close(s) }

    /// Every change queued on the socket, oldest first (empty when none).
    /// A read error other than "nothing queued" is reported as an overflow:
    /// re-dumping is always a correct answer to it.
    public func read() -> (changes: [Change], overflowed: Bool) {
        var changes: [Change] = []
        var overflow: Int32 = 0
        let cap = events.count
        while true {
            let n = Int(events.withUnsafeMutableBufferPointer { dx_nl_sub_read(s, $0.baseAddress, Int32(cap), &overflow) })
            if n < 0 { return (changes, true) }
            for i in 0..<n {
                if let c = Change(events[i]) { changes.append(c) }
            }
            if n < cap { return (changes, overflow != 0) }
        }
    }

    /// The changes in raw rtnetlink messages (what `read()` parses), for tests
    /// and replay: malformed or truncated messages end the walk, never trap.
    public static func parse(_ bytes: [UInt8]) -> [Change] {
        // Every event message is at least 32 bytes (header, ifinfomsg or
        // ifaddrmsg, one attribute), so this many slots always suffice.
        let cap = bytes.count / 32 + 1
        var out = [dx_nl_event](repeating: dx_nl_event(), count: cap)
        let n = bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { dx_nl_parse_events(raw.baseAddress, raw.count, $0.baseAddress, Int32(cap)) }
        }
        var changes: [Change] = []
        for i in 0..<Int(max(n, 0)) {
            if let c = Change(out[i]) { changes.append(c) }
        }
        return changes
    }
}
