// DHCPv4 wire format and server decisions (RFC 2131, 2132, 3396, 3397, 4578).

@testable import DHCP
import Testing

func ip(_ s: String) -> UInt32 {
    s.split(separator: ".").reduce(UInt32(0)) { $0 << 8 | UInt32($1)! }
}

func client(_ type: DHCPMessageType, mac: UInt8 = 1, xid: UInt32 = 7, options: [(UInt8, [UInt8])] = []) -> DHCPMessage {
    var m = DHCPMessage()
    m.op = 1
    m.xid = xid
    m.chaddr = [0xAA, 0xBB, 0xCC, 0, 0, mac] + [UInt8](repeating: 0, count: 10)
    m.set(DHCPOption.messageType, [type.rawValue])
    for (c, v) in options { m.set(c, v) }
    return m
}

@Suite struct DHCPWireTests {
    @Test func roundTripKeepsEveryField() throws {
        var m = client(.discover, options: [(DHCPOption.hostName, Array("laptop".utf8)), (DHCPOption.parameterList, [1, 3, 6])])
        m.secs = 3
        m.broadcast = true
        m.giaddr = ip("10.0.0.1")
        let b = m.encode()
        #expect(b.count == 300)
        let d = try DHCPMessage.decode(b)
        #expect(d == m && d.broadcast && d.messageType == .discover)
        #expect(d.hardwareAddress == [0xAA, 0xBB, 0xCC, 0, 0, 1])
    }

    @Test func longOptionsAreSplitAndConcatenated() throws {
        var m = client(.request)
        let long = (0..<600).map { UInt8($0 & 0xFF) }
        m.set(DHCPOption.domainSearch, long)
        let d = try DHCPMessage.decode(m.encode(maxSize: 1500))
        #expect(d.option(DHCPOption.domainSearch) == long)
    }

    @Test func overloadedFieldsAreRead() throws {
        var b = client(.discover).encode()
        // Options field: message type, overload = file and sname, END.
        let opts = [DHCPOption.messageType, 1, 1, DHCPOption.overload, 1, 3, DHCPOption.end]
        b.replaceSubrange(240..<(240 + opts.count), with: opts)
        b.replaceSubrange(108..<116, with: [DHCPOption.hostName, 3] + Array("abc".utf8) + [DHCPOption.end, 0, 0])
        b.replaceSubrange(44..<51, with: [DHCPOption.hostName, 3] + Array("def".utf8) + [DHCPOption.end, 0])
        let d = try DHCPMessage.decode(b)
        #expect(d.option(DHCPOption.hostName) == Array("abcdef".utf8))
        // An overload inside an overloaded field is not followed (no loop).
        b.replaceSubrange(108..<111, with: [DHCPOption.overload, 1, 3])
        #expect(throws: Never.self) { _ = try DHCPMessage.decode(b) }
    }

    @Test func encodeOverflowsIntoFileThenDropsWhatFitsNowhere() throws {
        var m = client(.offer)
        for code in UInt8(200)..<UInt8(210) { m.set(code, [UInt8](repeating: code, count: 50)) }
        let b = m.encode(maxSize: 576)
        #expect(b.count <= 576)
        let d = try DHCPMessage.decode(b)
        #expect(d.messageType == .offer)
        #expect(d.option(DHCPOption.overload) != nil)
        let kept = (UInt8(200)..<UInt8(210)).filter { d.option($0) == [UInt8](repeating: $0, count: 50) }
        #expect(kept.count >= 6 && kept.count < 10)
    }

    @Test func malformedMessagesAreRejected() {
        #expect(throws: DHCPError.tooShort(100)) { _ = try DHCPMessage.decode([UInt8](repeating: 0, count: 100)) }
        var b = client(.discover).encode()
        b[236] = 0
        #expect(throws: DHCPError.badCookie) { _ = try DHCPMessage.decode(b) }
        b = client(.discover).encode()
        b[240 + 3] = 12; b[240 + 4] = 200  // an option longer than the message
        b[240 + 5] = 1
        #expect(throws: (any Error).self) { _ = try DHCPMessage.decode(Array(b.prefix(260))) }
        b = client(.discover).encode()
        b[2] = 17
        #expect(throws: DHCPError.badHardwareLength(17)) { _ = try DHCPMessage.decode(b) }
    }

    @Test func searchListIsCompressed() throws {
        // RFC 3397 §2's example: eng.apple.com and marketing.apple.com.
        let v = try #require(DHCPNames.searchList(["eng.apple.com", "marketing.apple.com"]))
        let expected: [UInt8] = [3] + Array("eng".utf8) + [5] + Array("apple".utf8) + [3] + Array("com".utf8) + [0]
            + [9] + Array("marketing".utf8) + [0xC0, 4]
        #expect(v == expected)
        #expect(DHCPNames.searchList(["bad..name"]) != nil)
        #expect(DHCPNames.searchList([String(repeating: "a", count: 64) + ".lan"]) == nil)
    }

    @Test func namesAreSanitisedLikeDnsmasqAndOdhcpd() {
        #expect(DHCPNames.sanitize(Array("Laptop".utf8)) == "laptop")
        #expect(DHCPNames.sanitize(Array("my laptop.foreign.example".utf8)) == "my-laptop")
        #expect(DHCPNames.sanitize(Array("--x_y--".utf8)) == "x-y")
        #expect(DHCPNames.sanitize(Array("???".utf8)) == nil)
        #expect(DHCPNames.sanitize([]) == nil)
        #expect(DHCPNames.sanitize(Array(String(repeating: "a", count: 80).utf8))?.count == 63)
        #expect(DHCPNames.sanitize(Array("name\0\0".utf8)) == "name")
        // Option 81: wire-encoded (E flag) and ASCII.
        #expect(DHCPNames.fqdnFirstLabel([0x04, 0, 0, 3] + Array("pc1".utf8) + [3] + Array("lan".utf8) + [0]) == Array("pc1".utf8))
        #expect(DHCPNames.fqdnFirstLabel([0x00, 0, 0] + Array("pc2.lan".utf8)) == Array("pc2.lan".utf8))
    }
}

@Suite struct DHCPEngineTests {
    static func pool() -> DHCPPool {
        var p = DHCPPool(serverAddress: ip("192.168.1.1"), prefixLength: 24, first: ip("192.168.1.100"), count: 3)
        p.leaseTime = 3600
        p.domain = "lan"
        p.search = ["lan"]
        p.reservations = [DHCPPool.Reservation(macs: [[0xAA, 0xBB, 0xCC, 0, 0, 0x50], [0xAA, 0xBB, 0xCC, 0, 0, 0x51]],
                                               address: ip("192.168.1.50"), name: "server1", leaseTime: DHCPPool.infinite)]
        return p
    }

    @Test func fourWayExchangeBindsALeaseWithT1AndT2() throws {
        let e = DHCPEngine(pool: Self.pool())
        let offer = e.handle(client(.discover, options: [(DHCPOption.hostName, Array("Laptop".utf8))]), now: 1000)
        let o = try #require(offer.reply)
        #expect(o.messageType == .offer && e.pool.inPool(o.yiaddr) && offer.destination == .hardware(o.yiaddr))
        #expect(offer.upserts.first?.state == .offered)
        let ack = e.handle(client(.request, options: [(DHCPOption.serverID, DHCPMessage.addressBytes(ip("192.168.1.1"))),
                                                       (DHCPOption.requestedAddress, DHCPMessage.addressBytes(o.yiaddr)),
                                                       (DHCPOption.hostName, Array("Laptop".utf8))]), now: 1001)
        let a = try #require(ack.reply)
        #expect(a.messageType == .ack && a.yiaddr == o.yiaddr)
        #expect(a.option(DHCPOption.leaseTime) == DHCPMessage.u32Bytes(3600))
        #expect(a.option(DHCPOption.renewalTime) == DHCPMessage.u32Bytes(1800))
        #expect(a.option(DHCPOption.rebindingTime) == DHCPMessage.u32Bytes(3150))
        #expect(a.address(DHCPOption.router) == ip("192.168.1.1") && a.option(DHCPOption.subnetMask) == [255, 255, 255, 0])
        #expect(ack.upserts == [DHCPLease(client: [1, 0xAA, 0xBB, 0xCC, 0, 0, 1], mac: [0xAA, 0xBB, 0xCC, 0, 0, 1],
                                          address: o.yiaddr, expires: 4601, state: .bound, name: "laptop")])
        // RENEWING: unicast to ciaddr, same address.
        var renew = client(.request)
        renew.ciaddr = o.yiaddr
        let r = e.handle(renew, now: 2800)
        #expect(r.reply?.messageType == .ack && r.destination == .client(o.yiaddr) && r.upserts.first?.expires == 6400)
        // The same client asking again gets the same address.
        #expect(e.handle(client(.discover), now: 3000).reply?.yiaddr == o.yiaddr)
    }

    @Test func requestForAnotherServerIsIgnoredAndReleasesTheOffer() {
        let e = DHCPEngine(pool: Self.pool())
        let o = e.handle(client(.discover), now: 1)
        let r = e.handle(client(.request, options: [(DHCPOption.serverID, DHCPMessage.addressBytes(ip("192.168.1.2"))),
                                                     (DHCPOption.requestedAddress, DHCPMessage.addressBytes(o.reply!.yiaddr))]),
                         now: 2)
        #expect(r.reply == nil && r.removed == [o.reply!.yiaddr] && e.leases.isEmpty)
    }

    @Test func initRebootNaksWrongAddressesAndAcksItsOwn() {
        let e = DHCPEngine(pool: Self.pool())
        let n = e.handle(client(.request, options: [(DHCPOption.requestedAddress, DHCPMessage.addressBytes(ip("10.0.0.9")))]), now: 1)
        #expect(n.reply?.messageType == .nak && n.destination == .broadcast && n.reply?.yiaddr == 0)
        let ok = e.handle(client(.request, options: [(DHCPOption.requestedAddress, DHCPMessage.addressBytes(ip("192.168.1.101")))]), now: 1)
        #expect(ok.reply?.messageType == .ack && ok.reply?.yiaddr == ip("192.168.1.101"))
        // Held by that client: another one asking for it is NAKed.
        let other = e.handle(client(.request, mac: 2, options: [(DHCPOption.requestedAddress, DHCPMessage.addressBytes(ip("192.168.1.101")))]), now: 2)
        #expect(other.reply?.messageType == .nak)
    }

    @Test func exhaustedPoolGivesNoOfferAndDeclineMovesTheClient() throws {
        let e = DHCPEngine(pool: Self.pool())
        var addrs: [UInt32] = []
        for mac in UInt8(1)...3 {
            let o = e.handle(client(.discover, mac: mac), now: 10)
            addrs.append(try #require(o.reply).yiaddr)
        }
        #expect(Set(addrs).count == 3)
        let none = e.handle(client(.discover, mac: 4), now: 10)
        #expect(none.reply == nil && none.note.contains("no free address"))
        // Offers time out: the pool is free again.
        #expect(e.handle(client(.discover, mac: 4), now: 100).reply != nil)
        // DECLINE: the address is held, the client gets another.
        let d = DHCPEngine(pool: Self.pool())
        let first = try #require(d.handle(client(.discover), now: 1).reply).yiaddr
        _ = d.handle(client(.request, options: [(DHCPOption.requestedAddress, DHCPMessage.addressBytes(first))]), now: 1)
        let dec = d.handle(client(.decline, options: [(DHCPOption.serverID, DHCPMessage.addressBytes(ip("192.168.1.1"))),
                                                       (DHCPOption.requestedAddress, DHCPMessage.addressBytes(first))]), now: 2)
        #expect(dec.upserts.first?.state == .declined)
        let next = try #require(d.handle(client(.discover), now: 3).reply).yiaddr
        #expect(next != first)
    }

    @Test func reservationsAreSharedByTheirMACsAndNamed() throws {
        let e = DHCPEngine(pool: Self.pool())
        let a = try #require(e.handle(client(.discover, mac: 0x50, options: [(DHCPOption.hostName, Array("other".utf8))]), now: 1).reply)
        #expect(a.yiaddr == ip("192.168.1.50") && a.option(DHCPOption.hostName) == Array("server1".utf8))
        let ack = e.handle(client(.request, mac: 0x50, options: [(DHCPOption.requestedAddress, DHCPMessage.addressBytes(ip("192.168.1.50")))]), now: 1)
        #expect(ack.reply?.messageType == .ack && ack.upserts.first?.expires == UInt64.max && ack.upserts.first?.name == "server1")
        #expect(ack.reply?.option(DHCPOption.renewalTime) == nil)
        // The other MAC of the reservation takes it over (dock, then Wi-Fi).
        let wifi = e.handle(client(.request, mac: 0x51, options: [(DHCPOption.requestedAddress, DHCPMessage.addressBytes(ip("192.168.1.50")))]), now: 2)
        #expect(wifi.reply?.messageType == .ack && wifi.reply?.yiaddr == ip("192.168.1.50"))
        #expect(e.byAddress[ip("192.168.1.50")]?.mac == [0xAA, 0xBB, 0xCC, 0, 0, 0x51])
        // The reserved address is never given to another client.
        let other = e.handle(client(.request, mac: 9, options: [(DHCPOption.requestedAddress, DHCPMessage.addressBytes(ip("192.168.1.50")))]), now: 1)
        #expect(other.reply?.messageType == .nak)
    }

    @Test func releaseInformRelayAndPXE() throws {
        var p = Self.pool()
        p.nextServer = ip("192.168.1.5")
        p.bootFile = "pxelinux.0"
        p.bootFileEFI = "grubx64.efi"
        p.ipxeURL = "http://192.168.1.5/boot.ipxe"
        let e = DHCPEngine(pool: p)
        var relayed = client(.discover, options: [(DHCPOption.clientArch, [0, 7])])
        relayed.giaddr = ip("10.9.0.1")
        let o = try #require(e.handle(relayed, now: 1).reply)
        #expect(e.handle(relayed, now: 1).destination == .relay(ip("10.9.0.1")))
        #expect(o.siaddr == ip("192.168.1.5") && o.option(DHCPOption.bootFile) == Array("grubx64.efi".utf8))
        #expect(o.option(DHCPOption.tftpServer) == Array("192.168.1.5".utf8))
        let bios = try #require(e.handle(client(.discover, mac: 2), now: 1).reply)
        #expect(bios.option(DHCPOption.bootFile) == Array("pxelinux.0".utf8))
        let ipxe = try #require(e.handle(client(.discover, mac: 3, options: [(DHCPOption.userClass, [4] + Array("iPXE".utf8))]), now: 1).reply)
        #expect(ipxe.option(DHCPOption.bootFile) == Array("http://192.168.1.5/boot.ipxe".utf8))
        // INFORM: options, no address, no lease time.
        var inf = client(.inform, mac: 7)
        inf.ciaddr = ip("192.168.1.77")
        let i = e.handle(inf, now: 1)
        #expect(i.reply?.messageType == .ack && i.reply?.yiaddr == 0 && i.reply?.option(DHCPOption.leaseTime) == nil)
        #expect(i.destination == .client(ip("192.168.1.77")) && i.upserts.isEmpty)
        // RELEASE frees the lease.
        let b = try #require(e.handle(client(.request, mac: 2, options: [(DHCPOption.requestedAddress, DHCPMessage.addressBytes(bios.yiaddr))]), now: 2).reply)
        var rel = client(.release, mac: 2)
        rel.ciaddr = b.yiaddr
        #expect(e.handle(rel, now: 3).removed == [b.yiaddr])
        #expect(e.byAddress[b.yiaddr] == nil)
    }

    @Test func clientIdentifierComesBeforeTheHardwareAddress() throws {
        let e = DHCPEngine(pool: Self.pool())
        let id: [UInt8] = [0xFF, 1, 2, 3, 4]
        let a = try #require(e.handle(client(.discover, mac: 1, options: [(DHCPOption.clientID, id)]), now: 1).reply).yiaddr
        _ = e.handle(client(.request, mac: 1, options: [(DHCPOption.clientID, id), (DHCPOption.requestedAddress, DHCPMessage.addressBytes(a))]), now: 1)
        // Same client id from another NIC: same lease.
        let b = try #require(e.handle(client(.discover, mac: 9, options: [(DHCPOption.clientID, id)]), now: 2).reply).yiaddr
        #expect(a == b)
        // Expired but retained: the client gets its address back.
        #expect(e.expire(now: 10_000, retention: 86_400).isEmpty)
        let back = try #require(e.handle(client(.discover, mac: 9, options: [(DHCPOption.clientID, id)]), now: 10_001).reply).yiaddr
        #expect(back == a)
        #expect(e.expire(now: 200_000, retention: 86_400).count == 1 && e.leases.isEmpty)
    }
}
