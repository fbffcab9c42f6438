// The DHCPv4 server's decisions (RFC 2131 §4.3), sans-I/O: a request and
// the clock in; the reply, where it goes, and the lease changes to commit
// (before the reply is sent) out. The applet owns sockets and the store.

/// One pool on one interface.
public struct DHCPPool: Sendable {
    public struct Reservation: Sendable {
        /// Hardware addresses sharing the reservation (dock + Wi-Fi).
        public var macs: [[UInt8]]
        public var address: UInt32
        public var name: String?
        /// Seconds; nil: the pool's; `DHCPPool.infinite` for infinite.
        public var leaseTime: UInt32?
        public init(macs: [[UInt8]], address: UInt32, name: String? = nil, leaseTime: UInt32? = nil) {
            self.macs = macs
            self.address = address
            self.name = name
            self.leaseTime = leaseTime
        }
    }

    public static let infinite: UInt32 = 0xFFFF_FFFF

    /// The server's address on the interface (server identifier, option 54).
    public var serverAddress: UInt32
    public var prefixLength: Int
    /// The pool: `count` addresses from `first`.
    public var first: UInt32
    public var count: Int
    public var leaseTime: UInt32 = 43_200
    public var router: UInt32?
    public var dns: [UInt32] = []
    public var domain: String?
    public var search: [String] = []
    public var nextServer: UInt32?
    public var bootFile: String?
    public var bootFileEFI: String?
    public var ipxeURL: String?
    /// Raw extra options (dnsmasq's dhcp-option), code and value.
    public var extra: [(code: UInt8, value: [UInt8])] = []
    public var reservations: [Reservation] = []
    /// How long a declined address is left alone (RFC 2131 §4.3.3).
    public var declineHold: UInt64 = 600
    /// How long an offer holds its address.
    public var offerHold: UInt64 = 60

    public init(serverAddress: UInt32, prefixLength: Int, first: UInt32, count: Int) {
        self.serverAddress = serverAddress
        self.prefixLength = prefixLength
        self.first = first
        self.count = count
    }

    public var mask: UInt32 { prefixLength <= 0 ? 0 : UInt32.max << UInt32(32 - min(prefixLength, 32)) }
    public var network: UInt32 { serverAddress & mask }
    public var broadcast: UInt32 { network | ~mask }

    public func inSubnet(_ a: UInt32) -> Bool { a & mask == network && a != network && a != broadcast }
    public func inPool(_ a: UInt32) -> Bool { a >= first && UInt64(a) < UInt64(first) + UInt64(count) }
}

/// A lease as the engine and the store see it.
public struct DHCPLease: Equatable, Sendable {
    public enum State: UInt8, Sendable { case offered = 1, bound = 2, declined = 3 }
    /// `DHCPMessage.clientKey`: client id, or hardware type + address.
    public var client: [UInt8]
    public var mac: [UInt8]
    public var address: UInt32
    /// Wall-clock seconds; `UInt64.max` for infinite.
    public var expires: UInt64
    public var state: State
    public var name: String?

    public init(client: [UInt8], mac: [UInt8], address: UInt32, expires: UInt64, state: State, name: String? = nil) {
        self.client = client
        self.mac = mac
        self.address = address
        self.expires = expires
        self.state = state
        self.name = name
    }
}

/// What to do with a request.
public struct DHCPOutcome {
    public enum Destination: Equatable {
        /// Through the relay agent at giaddr (port 67).
        case relay(UInt32)
        /// Unicast to the client's configured address (RENEWING, INFORM).
        case client(UInt32)
        /// Broadcast on the interface (broadcast flag, NAK).
        case broadcast
        /// Unicast to yiaddr at chaddr before the client has an address
        /// (the applet installs the neighbour entry first).
        case hardware(UInt32)
    }
    public var reply: DHCPMessage?
    public var destination: Destination = .broadcast
    /// Leases to commit (before the reply goes out); `removed` are deleted.
    public var upserts: [DHCPLease] = []
    public var removed: [UInt32] = []
    /// For the log: why no reply, or what happened.
    public var note: String = ""
}

/// The server state of one pool: its leases, in memory, indexed by address
/// and by client. The applet loads it from the store and commits `upserts`.
public final class DHCPEngine {
    public private(set) var pool: DHCPPool
    public private(set) var byAddress: [UInt32: DHCPLease] = [:]
    var byClient: [[UInt8]: UInt32] = [:]

    /// Option 119 of the pool, encoded once.
    private var searchBytes: [UInt8]?
    /// No lease can end before this: `expire` does nothing until then
    /// (a sweep of a large table every second would cost more as it grows).
    private var sweepAt: UInt64 = 0

    public init(pool: DHCPPool, leases: [DHCPLease] = []) {
        self.pool = pool
        searchBytes = pool.search.isEmpty ? nil : DHCPNames.searchList(pool.search)
        for l in leases { put(l) }
    }

    /// A new config for the same interface: leases stay.
    public func reconfigure(_ p: DHCPPool) {
        pool = p
        searchBytes = p.search.isEmpty ? nil : DHCPNames.searchList(p.search)
    }

    public var leases: [DHCPLease] { Array(byAddress.values) }

    func put(_ l: DHCPLease) {
        if let old = byAddress[l.address], old.client != l.client, byClient[old.client] == l.address {
            byClient[old.client] = nil
        }
        if let prev = byClient[l.client], prev != l.address, byAddress[prev]?.client == l.client {
            byAddress[prev] = nil
        }
        byAddress[l.address] = l
        if l.state != .declined { byClient[l.client] = l.address }
        if l.expires < sweepAt { sweepAt = l.expires }
    }

    func drop(_ a: UInt32) {
        if let l = byAddress[a], byClient[l.client] == a { byClient[l.client] = nil }
        byAddress[a] = nil
    }

    /// Leases whose time is over (and declines whose hold ended), for
    /// cleaning: removed from memory and returned so the applet can update
    /// the store and DNS.
    /// `retention` applies to bound leases: an expired one stays that long
    /// (free for anyone, but its client gets it back); offers and declines go
    /// as soon as they end.
    public func expire(now: UInt64, retention: UInt64 = 0) -> [DHCPLease] {
        guard now >= sweepAt else { return [] }
        var gone: [DHCPLease] = []
        var next = UInt64.max
        for (a, l) in byAddress where l.expires != UInt64.max {
            let end = l.expires &+ (l.state == .bound ? retention : 0)
            if end <= now {
                gone.append(l)
                drop(a)
            } else if end < next {
                next = end
            }
        }
        sweepAt = next
        return gone
    }

    func reservation(for m: DHCPMessage) -> DHCPPool.Reservation? {
        let mac = m.hardwareAddress
        for r in pool.reservations where r.macs.contains(mac) { return r }
        return nil
    }

    func reservedForOther(_ a: UInt32, _ m: DHCPMessage) -> Bool {
        let mac = m.hardwareAddress
        for r in pool.reservations where r.address == a { return !r.macs.contains(mac) }
        return false
    }

    /// True when `a` may be given to the client `key`: in the subnet, not the
    /// server's, not held by another live lease, not declined, not reserved for another.
    func available(_ a: UInt32, for m: DHCPMessage, now: UInt64) -> Bool {
        guard pool.inSubnet(a), a != pool.serverAddress, !reservedForOther(a, m) else { return false }
        if let l = byAddress[a] {
            if l.client == m.clientKey && l.state != .declined { return true }
            // Another MAC of the same reservation (dock and Wi-Fi): it moves over.
            if let r = reservation(for: m), r.address == a, r.macs.contains(l.mac), l.state != .declined { return true }
            return l.expires != UInt64.max && l.expires <= now
        }
        return true
    }

    /// The address for a client (RFC 2131 §4.3.1): its reservation, its
    /// previous lease, the address it asked for, a stable hash of its
    /// identity into the pool, then the first free address.
    func choose(_ m: DHCPMessage, now: UInt64) -> UInt32? {
        if let r = reservation(for: m) { return available(r.address, for: m, now: now) ? r.address : nil }
        let key = m.clientKey
        if let a = byClient[key], pool.inPool(a), available(a, for: m, now: now) { return a }
        if let want = m.address(DHCPOption.requestedAddress), pool.inPool(want), available(want, for: m, now: now) {
            return want
        }
        guard pool.count > 0 else { return nil }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let start = Int(h % UInt64(pool.count))
        var i = 0
        while i < pool.count {
            let a = pool.first &+ UInt32((start + i) % pool.count)
            if available(a, for: m, now: now) { return a }
            i += 1
        }
        return nil
    }

    /// The lease time for a client (its reservation's, else the pool's),
    /// never more than the client asked for (option 51 in a request).
    func leaseTime(_ m: DHCPMessage) -> UInt32 {
        var t = reservation(for: m)?.leaseTime ?? pool.leaseTime
        if let asked = m.option(DHCPOption.leaseTime), asked.count == 4, t != DHCPPool.infinite {
            let v = UInt32(asked[0]) << 24 | UInt32(asked[1]) << 16 | UInt32(asked[2]) << 8 | UInt32(asked[3])
            if v >= 60 { t = min(t, v) }
        }
        return t
    }

    /// The name a lease registers: the reservation's, else the client's
    /// option 81 or 12, sanitised; nil when none is usable.
    func name(_ m: DHCPMessage) -> String? {
        if let r = reservation(for: m), let n = r.name { return n }
        if let f = m.option(DHCPOption.clientFQDN), let label = DHCPNames.fqdnFirstLabel(f),
           let n = DHCPNames.sanitize(label) { return n }
        if let h = m.option(DHCPOption.hostName) { return DHCPNames.sanitize(h) }
        return nil
    }

    // MARK: requests

    public func handle(_ m: DHCPMessage, now: UInt64) -> DHCPOutcome {
        var o = DHCPOutcome()
        guard m.op == 1 else { o.note = "not a BOOTREQUEST"; return o }
        guard let type = m.messageType else { o.note = "no message type (BOOTP is not served)"; return o }
        switch type {
        case .discover: discover(m, now, &o)
        case .request: request(m, now, &o)
        case .decline: decline(m, now, &o)
        case .release: release(m, now, &o)
        case .inform: inform(m, &o)
        default: o.note = "\(type) from a client is ignored"
        }
        return o
    }

    func discover(_ m: DHCPMessage, _ now: UInt64, _ o: inout DHCPOutcome) {
        guard let a = choose(m, now: now) else {
            o.note = "no free address in the pool"
            return
        }
        let lease = DHCPLease(client: m.clientKey, mac: m.hardwareAddress, address: a,
                              expires: now + pool.offerHold, state: .offered, name: name(m))
        // A bound lease stays bound while it is only offered again.
        if let cur = byAddress[a], cur.client == lease.client, cur.state == .bound {
            o.upserts = []
        } else {
            put(lease)
            o.upserts = [lease]
        }
        o.reply = reply(to: m, .offer, yiaddr: a, leaseTime: leaseTime(m))
        o.destination = destination(m, yiaddr: a, nak: false)
        o.note = "offer \(DHCPEngine.dotted(a))"
    }

    func request(_ m: DHCPMessage, _ now: UInt64, _ o: inout DHCPOutcome) {
        let key = m.clientKey
        let requested = m.address(DHCPOption.requestedAddress)
        let a: UInt32
        if let sid = m.address(DHCPOption.serverID) {
            // SELECTING: the client chose a server.
            guard sid == pool.serverAddress else {
                if let mine = byClient[key], let l = byAddress[mine], l.state == .offered {
                    drop(mine)
                    o.removed = [mine]
                }
                o.note = "client chose another server"
                return
            }
            guard let r = requested ?? (m.ciaddr != 0 ? m.ciaddr : nil) else { return nak(m, "no requested address", &o) }
            a = r
        } else if let r = requested, m.ciaddr == 0 {
            a = r  // INIT-REBOOT
        } else if m.ciaddr != 0 {
            a = m.ciaddr  // RENEWING / REBINDING
        } else {
            return nak(m, "REQUEST without an address", &o)
        }
        guard pool.inSubnet(a) else { return nak(m, "\(DHCPEngine.dotted(a)) is not on this network", &o) }
        if let r = reservation(for: m), r.address != a {
            return nak(m, "client has a reservation for \(DHCPEngine.dotted(r.address))", &o)
        }
        let own = byAddress[a].map { $0.client == key && $0.state != .declined } ?? false
            || (reservation(for: m)?.address == a && available(a, for: m, now: now))
        guard own || (available(a, for: m, now: now) && (pool.inPool(a) || reservation(for: m)?.address == a)) else {
            return nak(m, "\(DHCPEngine.dotted(a)) is not available", &o)
        }
        let t = leaseTime(m)
        let expires = t == DHCPPool.infinite ? UInt64.max : now + UInt64(t)
        let lease = DHCPLease(client: key, mac: m.hardwareAddress, address: a, expires: expires, state: .bound,
                              name: name(m))
        put(lease)
        o.upserts = [lease]
        o.reply = reply(to: m, .ack, yiaddr: a, leaseTime: t)
        o.destination = destination(m, yiaddr: a, nak: false)
        o.note = "ack \(DHCPEngine.dotted(a))"
    }

    func nak(_ m: DHCPMessage, _ why: String, _ o: inout DHCPOutcome) {
        var r = reply(to: m, .nak, yiaddr: 0, leaseTime: nil)
        r.options = r.options.filter { $0.code == DHCPOption.messageType || $0.code == DHCPOption.serverID }
        r.set(DHCPOption.message, Array(why.utf8.prefix(200)))
        r.siaddr = 0
        r.file = [UInt8](repeating: 0, count: 128)
        o.reply = r
        o.destination = destination(m, yiaddr: 0, nak: true)
        o.note = "nak: \(why)"
    }

    func decline(_ m: DHCPMessage, _ now: UInt64, _ o: inout DHCPOutcome) {
        guard m.address(DHCPOption.serverID) == pool.serverAddress, let a = m.address(DHCPOption.requestedAddress),
              let l = byAddress[a], l.client == m.clientKey else {
            o.note = "DECLINE not for a lease of ours"
            return
        }
        let held = DHCPLease(client: [0], mac: l.mac, address: a, expires: now + pool.declineHold, state: .declined)
        byClient[l.client] = nil
        put(held)
        o.upserts = [held]
        o.note = "declined \(DHCPEngine.dotted(a)): held for \(pool.declineHold) s"
    }

    func release(_ m: DHCPMessage, _ now: UInt64, _ o: inout DHCPOutcome) {
        guard m.ciaddr != 0, let l = byAddress[m.ciaddr], l.client == m.clientKey else {
            o.note = "RELEASE of an address the client does not hold"
            return
        }
        drop(m.ciaddr)
        o.removed = [m.ciaddr]
        o.note = "released \(DHCPEngine.dotted(m.ciaddr))"
    }

    func inform(_ m: DHCPMessage, _ o: inout DHCPOutcome) {
        var r = reply(to: m, .ack, yiaddr: 0, leaseTime: nil)
        r.ciaddr = m.ciaddr
        o.reply = r
        o.destination = m.giaddr != 0 ? .relay(m.giaddr) : (m.ciaddr != 0 ? .client(m.ciaddr) : .broadcast)
        o.note = "inform"
    }

    /// RFC 2131 §4.1: relay, then ciaddr (not for NAK), then broadcast flag,
    /// else unicast to the new address at the client's hardware address.
    func destination(_ m: DHCPMessage, yiaddr: UInt32, nak: Bool) -> DHCPOutcome.Destination {
        if m.giaddr != 0 { return .relay(m.giaddr) }
        if nak { return .broadcast }
        if m.ciaddr != 0 { return .client(m.ciaddr) }
        if m.broadcast || yiaddr == 0 { return .broadcast }
        return .hardware(yiaddr)
    }

    /// A reply with the pool's options.
    func reply(to m: DHCPMessage, _ type: DHCPMessageType, yiaddr: UInt32, leaseTime: UInt32?) -> DHCPMessage {
        var r = DHCPMessage()
        r.op = 2
        r.htype = m.htype
        r.hlen = m.hlen
        r.xid = m.xid
        r.flags = m.flags
        r.giaddr = m.giaddr
        r.chaddr = m.chaddr
        r.yiaddr = yiaddr
        r.set(DHCPOption.messageType, [type.rawValue])
        r.set(DHCPOption.serverID, DHCPMessage.addressBytes(pool.serverAddress))
        if let t = leaseTime {
            r.set(DHCPOption.leaseTime, DHCPMessage.u32Bytes(t))
            if t != DHCPPool.infinite {
                r.set(DHCPOption.renewalTime, DHCPMessage.u32Bytes(t / 2))
                r.set(DHCPOption.rebindingTime, DHCPMessage.u32Bytes(UInt32(UInt64(t) * 7 / 8)))
            }
        }
        r.set(DHCPOption.subnetMask, DHCPMessage.addressBytes(pool.mask))
        r.set(DHCPOption.broadcastAddress, DHCPMessage.addressBytes(pool.broadcast))
        r.set(DHCPOption.router, DHCPMessage.addressBytes(pool.router ?? pool.serverAddress))
        let dns = pool.dns.isEmpty ? [pool.serverAddress] : pool.dns
        r.set(DHCPOption.dnsServers, dns.flatMap { DHCPMessage.addressBytes($0) })
        if let d = pool.domain { r.set(DHCPOption.domainName, Array(d.utf8)) }
        if let s = searchBytes { r.set(DHCPOption.domainSearch, s) }
        if type != .nak, let n = name(m), m.option(DHCPOption.hostName) != nil || reservation(for: m)?.name != nil {
            r.set(DHCPOption.hostName, Array(n.utf8))
        }
        bootOptions(m, &r)
        for e in pool.extra { r.set(e.code, e.value) }
        return r
    }

    /// PXE (RFC 4578): siaddr/66 from next_server; the boot file by client
    /// architecture (option 93: 7, 9, 11 are EFI) or the iPXE URL for iPXE
    /// (user class "iPXE" or its option 175).
    func bootOptions(_ m: DHCPMessage, _ r: inout DHCPMessage) {
        if let ns = pool.nextServer {
            r.siaddr = ns
            r.set(DHCPOption.tftpServer, Array(DHCPEngine.dotted(ns).utf8))
        }
        var file: String? = pool.bootFile
        if let arch = m.option(DHCPOption.clientArch), arch.count >= 2 {
            let a = UInt16(arch[0]) << 8 | UInt16(arch[1])
            if (a == 7 || a == 9 || a == 11), let efi = pool.bootFileEFI { file = efi }
        }
        let isIPXE = m.option(175) != nil || (m.option(DHCPOption.userClass).map { DHCPEngine.hasIPXE($0) } ?? false)
        if isIPXE, let url = pool.ipxeURL { file = url }
        if let f = file {
            let bytes = Array(f.utf8)
            if bytes.count < 128 { r.file = DHCPMessage.fixed(bytes, 128) }
            r.set(DHCPOption.bootFile, bytes)
        }
    }

    /// Option 77 holds "iPXE" either raw or as RFC 3004 length-prefixed classes.
    static func hasIPXE(_ v: [UInt8]) -> Bool {
        let ipxe = Array("iPXE".utf8)
        if v == ipxe { return true }
        var i = 0
        while i < v.count {
            let n = Int(v[i])
            guard i + 1 + n <= v.count else { return false }
            if Array(v[(i + 1)..<(i + 1 + n)]) == ipxe { return true }
            i += 1 + n
        }
        return false
    }

    public static func dotted(_ a: UInt32) -> String {
        "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)"
    }
}
