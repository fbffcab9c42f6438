import CShim
import Sys
import Testing

/// The rtnetlink parser over hand-built messages (golden vectors, truncations
/// and mutations), and a live dump of loopback. Netlink is host byte order.
@Suite struct NetlinkTests {
    // linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h
    static let RTM_NEWLINK: UInt16 = 16, RTM_DELLINK: UInt16 = 17
    static let RTM_NEWADDR: UInt16 = 20, RTM_DELADDR: UInt16 = 21
    static let RTM_NEWROUTE: UInt16 = 24, NLMSG_DONE: UInt16 = 3
    static let IFLA_ADDRESS: UInt16 = 1, IFLA_IFNAME: UInt16 = 3, IFLA_MTU: UInt16 = 4
    static let IFLA_OPERSTATE: UInt16 = 16, IFLA_CARRIER: UInt16 = 33
    static let IFA_ADDRESS: UInt16 = 1, IFA_LOCAL: UInt16 = 2, IFA_LABEL: UInt16 = 3
    static let IFA_CACHEINFO: UInt16 = 6, IFA_FLAGS: UInt16 = 8

    static func ne<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    static func attr(_ type: UInt16, _ data: [UInt8]) -> [UInt8] {
        var b = ne(UInt16(4 + data.count)) + ne(type) + data
        while b.count % 4 != 0 { b.append(0) }
        return b
    }

    /// nlmsg_len counts the body; padding to 4 bytes follows, as the kernel sends it.
    static func msg(_ type: UInt16, _ body: [UInt8], flags: UInt16 = 0, seq: UInt32 = 0) -> [UInt8] {
        var b = ne(UInt32(16 + body.count)) + ne(type) + ne(flags) + ne(seq) + ne(UInt32(0)) + body
        while b.count % 4 != 0 { b.append(0) }
        return b
    }

    static func ifinfo(family: UInt8 = 0, type: UInt16 = 1, index: Int32, flags: UInt32) -> [UInt8] {
        [family, 0] + ne(type) + ne(index) + ne(flags) + ne(UInt32(0))
    }

    static func ifaddr(family: UInt8, prefix: UInt8, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32) -> [UInt8] {
        [family, prefix, flags, scope] + ne(index)
    }

    static func cstr(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

    static let up = UInt32(DX_IFF_UP | DX_IFF_RUNNING | DX_IFF_LOWER_UP | DX_IFF_BROADCAST)

    /// A link, an IPv4 address with a label, an IPv6 address: the three kinds in one buffer.
    static var sample: [UInt8] {
        let link = msg(RTM_NEWLINK, ifinfo(index: 3, flags: up)
            + attr(IFLA_IFNAME, cstr("veth0")) + attr(IFLA_MTU, ne(UInt32(1500)))
            + attr(IFLA_ADDRESS, [2, 0, 0, 0, 0, 7]) + attr(IFLA_OPERSTATE, [6]) + attr(IFLA_CARRIER, [1]))
        let v4 = msg(RTM_NEWADDR, ifaddr(family: 2, prefix: 24, index: 3)
            + attr(IFA_ADDRESS, [198, 51, 100, 7]) + attr(IFA_LOCAL, [198, 51, 100, 7])
            + attr(IFA_LABEL, cstr("veth0:x")) + attr(IFA_FLAGS, ne(UInt32(DX_IFA_F_PERMANENT | DX_IFA_F_NOPREFIXROUTE))))
        let v6 = msg(RTM_NEWADDR, ifaddr(family: 10, prefix: 64, flags: UInt8(DX_IFA_F_TENTATIVE), scope: 253, index: 3)
            + attr(IFA_ADDRESS, [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1])
            + attr(IFA_CACHEINFO, ne(UInt32(1800)) + ne(UInt32(3600)) + ne(UInt32(0)) + ne(UInt32(0))))
        return link + v4 + v6
    }

    @Test func aLinkAndTwoAddressesParseIntoTypedChanges() throws {
        let changes = NetlinkWatch.parse(Self.sample)
        #expect(changes.count == 3)
        guard changes.count == 3 else { return }
        guard case .link(let l, removed: false) = changes[0] else { Issue.record("\(changes.count)"); return }
        #expect(l.index == 3 && l.name == "veth0" && l.mtu == 1500 && l.mac == [2, 0, 0, 0, 0, 7])
        #expect(l.isUp && l.isRunning && l.hasCarrier && l.operState == 6 && l.type == 1 && !l.isLoopback)

        guard case .address(let a, removed: false) = changes[1] else { Issue.record("not an address"); return }
        #expect(a.interfaceIndex == 3 && a.address.ipString == "198.51.100.7" && a.prefixLength == 24)
        #expect(a.label == "veth0:x" && a.flags == UInt32(DX_IFA_F_PERMANENT | DX_IFA_F_NOPREFIXROUTE))
        #expect(a.validLifetime == nil && a.preferredLifetime == nil && !a.isTentative)

        guard case .address(let b, removed: false) = changes[2] else { Issue.record("not an address"); return }
        #expect(b.address.family == .v6 && b.address.ipString == "fe80::1" && b.prefixLength == 64)
        #expect(b.isTentative && !b.isDeprecated && !b.isDADFailed && b.scope == 253 && b.label == "")
        #expect(b.validLifetime == 3600 && b.preferredLifetime == 1800)
    }

    @Test func removalsAndPointToPointLocalAddresses() {
        let bytes = Self.msg(Self.RTM_DELLINK, Self.ifinfo(index: 9, flags: 0) + Self.attr(Self.IFLA_IFNAME, Self.cstr("gone0")))
            // IFA_ADDRESS is the peer here; IFA_LOCAL is ours, whichever comes first.
            + Self.msg(Self.RTM_DELADDR, Self.ifaddr(family: 2, prefix: 32, index: 9)
                + Self.attr(Self.IFA_LOCAL, [10, 0, 0, 1]) + Self.attr(Self.IFA_ADDRESS, [10, 0, 0, 2]))
        let c = NetlinkWatch.parse(bytes)
        #expect(c.count == 2)
        if case .link(let l, removed: true)? = c.first { #expect(l.name == "gone0" && !l.isUp && !l.isRunning) } else { Issue.record("no link removal") }
        if case .address(let a, removed: true)? = c.last { #expect(a.address.ipString == "10.0.0.1") } else { Issue.record("no address removal") }
    }

    @Test func otherMessagesAndUnusableOnesAreSkipped() {
        var b = Self.msg(Self.RTM_NEWROUTE, [UInt8](repeating: 0, count: 12))
        b += Self.msg(Self.NLMSG_DONE, Self.ne(Int32(0)))
        b += Self.msg(Self.RTM_NEWLINK, Self.ifinfo(family: 7, index: 3, flags: Self.up))   // AF_BRIDGE port info
        b += Self.msg(Self.RTM_NEWADDR, Self.ifaddr(family: 17, prefix: 0, index: 3) + Self.attr(Self.IFA_ADDRESS, [1, 2, 3, 4]))
        b += Self.msg(Self.RTM_NEWADDR, Self.ifaddr(family: 2, prefix: 8, index: 1))        // no address at all
        b += Self.msg(Self.RTM_NEWADDR, Self.ifaddr(family: 2, prefix: 8, index: 1) + Self.attr(Self.IFA_ADDRESS, [127, 0, 1]))
        b += Self.msg(Self.RTM_NEWADDR, Self.ifaddr(family: 10, prefix: 8, index: 1) + Self.attr(Self.IFA_ADDRESS, [127, 0, 0, 1]))
        b += Self.msg(Self.RTM_NEWLINK, [1, 2, 3])                                        // shorter than ifinfomsg
        b += Self.sample
        #expect(NetlinkWatch.parse(b).count == 3)
    }

    @Test func aTruncatedBufferYieldsOnlyTheWholeMessages() {
        let s = Self.sample
        var ends: [Int] = []
        var off = 0
        while off < s.count {
            let len = Int(s[off]) | Int(s[off + 1]) << 8
            off += len
            ends.append(off)
        }
        #expect(ends.count == 3 && ends.last == s.count)
        for n in 0...s.count {
            let whole = ends.filter { $0 <= n }.count
            #expect(NetlinkWatch.parse(Array(s[0..<n])).count == whole, "prefix \(n)")
        }
    }

    @Test func badLengthsEndTheWalkWithoutReadingPastIt() {
        let link = Self.msg(Self.RTM_NEWLINK, Self.ifinfo(index: 3, flags: Self.up) + Self.attr(Self.IFLA_IFNAME, Self.cstr("a")))
        // Shorter than a header: nothing after it is trusted either.
        for bad: UInt32 in [0, 1, 15] {
            var b = link
            b.replaceSubrange(0..<4, with: Self.ne(bad))
            #expect(NetlinkWatch.parse(b + link).isEmpty, "nlmsg_len \(bad)")
        }
        // Longer than the buffer.
        for bad: UInt32 in [UInt32(link.count) + 1, UInt32.max] {
            var b = link
            b.replaceSubrange(0..<4, with: Self.ne(bad))
            #expect(NetlinkWatch.parse(b).isEmpty, "nlmsg_len \(bad)")
        }
        // An attribute shorter than its header, or longer than the message:
        // the attributes before it count, the message still does.
        let body = Self.ifinfo(index: 4, flags: 0) + Self.attr(Self.IFLA_IFNAME, Self.cstr("b"))
        for rtaLen: UInt16 in [0, 2, 3, 200] {
            let m = Self.msg(Self.RTM_NEWLINK, body + Self.ne(rtaLen) + Self.ne(Self.IFLA_MTU) + Self.ne(UInt32(9000)))
            let c = NetlinkWatch.parse(m)
            if case .link(let l, _)? = c.first { #expect(l.name == "b" && l.mtu == 0) } else { Issue.record("rta_len \(rtaLen)") }
        }
        // A name with no NUL and longer than IFNAMSIZ is cut to 15 bytes; short MTU and MAC are ignored.
        let long = Self.msg(Self.RTM_NEWLINK, Self.ifinfo(index: 5, flags: 0)
            + Self.attr(Self.IFLA_IFNAME, Array("abcdefghijklmnopqrstuvwxyz".utf8))
            + Self.attr(Self.IFLA_MTU, [1, 2]) + Self.attr(Self.IFLA_ADDRESS, [1, 2, 3]))
        if case .link(let l, _)? = NetlinkWatch.parse(long).first {
            #expect(l.name == "abcdefghijklmno" && l.mtu == 0 && l.mac.isEmpty)
        } else { Issue.record("long name") }
        // A label without NUL at the very end of the buffer.
        let lbl = Self.msg(Self.RTM_NEWADDR, Self.ifaddr(family: 2, prefix: 8, index: 1) + Self.attr(Self.IFA_LOCAL, [127, 0, 0, 1])
            + Self.ne(UInt16(7)) + Self.ne(Self.IFA_LABEL) + Array("lo:".utf8))
        if case .address(let a, _)? = NetlinkWatch.parse(lbl).first { #expect(a.label == "lo:") } else { Issue.record("label") }
    }

    @Test func mutatedMessagesNeverTrap() {
        var rng: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> Int {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            return Int(truncatingIfNeeded: rng >> 1)
        }
        let base = Self.sample
        for _ in 0..<20_000 {
            var b = base
            for _ in 0..<(1 + next() % 4) { b[next() % b.count] = UInt8(truncatingIfNeeded: next()) }
            let cut = next() % (b.count + 1)
            #expect(NetlinkWatch.parse(Array(b[0..<cut])).count <= 3)
        }
    }

    @Test func liveDumpShowsLoopback() throws {
        let nl = try Netlink()
        let links = try nl.links()
        let lo = try #require(links.first { $0.name == "lo" })
        #expect(lo.isUp && lo.isLoopback && lo.type == 772 && nl.index(of: "lo") == lo.index)
        let addrs = try nl.addresses()
        #expect(addrs.contains { $0.interfaceIndex == lo.index && $0.address.ipString == "127.0.0.1" && $0.prefixLength == 8 && $0.scope == 254 })
        // The C side reports the total even when the buffer is too small.
        let h = try #require(dx_nl_open())
        defer { dx_nl_close(h) }
        #expect(Int(dx_nl_links(h, nil, 0)) == links.count)
        var one = [dx_ifaddr](repeating: dx_ifaddr(), count: 1)
        #expect(Int(dx_nl_addrs(h, &one, 1)) == addrs.count)
        // A request the kernel refuses (no such interface: nothing can
        // change here) comes back as its errno, ENODEV.
        #expect(throws: SysError("remove address 192.0.2.254/32", code: 19)) {
            try nl.removeAddress(SocketAddress(ip: "192.0.2.254", port: 0)!, prefixLength: 32, interface: 0x7fff_fff0)
        }
        // A fresh subscription has nothing queued and does not block.
        let w = try NetlinkWatch()
        let r = w.read()
        #expect(!r.overflowed)
    }
}
