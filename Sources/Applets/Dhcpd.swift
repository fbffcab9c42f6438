import Config
import DHCP
import Runtime
import Store
import Sys

/// The `dhcpd` applet: DHCPv4 on every `config dhcp` interface, decided by
/// the sans-I/O `DHCPEngine`, with leases in the store.
///
/// - One socket per interface on 0.0.0.0:67, bound to the interface
///   (SO_BINDTODEVICE), broadcast allowed. The pool is the interface's IPv4
///   subnet from netlink: `start` and `limit` are offsets into it, as OpenWrt.
/// - Packets are taken in batches (recvmmsg), as many as are queued. Every
///   lease they change is committed to the store in one transaction (group
///   commit) before any ACK is sent, so an acknowledged lease survives
///   kill -9; OFFERs and NAKs, which promise nothing, go out at once.
/// - Replies go to the relay (giaddr:67), to the client's address (renewing),
///   or are broadcast on the interface (clients without an address).
/// - A dnsmasq-format lease file is rewritten at most once a second.
enum DhcpdApplet {
    static func main(_ args: [String]) -> Int32 {
        guard let applet = Applets.find("dhcpd"), let host = ServiceHost.start(applet, args) else { return ExitCode.failure }
        let server = DhcpServer(host: host)
        guard server.start() else { return ExitCode.failure }
        guard host.dropPrivileges() else { return ExitCode.failure }
        let code = host.run()
        server.stop()
        return code
    }
}

final class DhcpServer {
    static let batchSlots = 64
    /// Packets taken per readable event, at most (the commit thread joins
    /// the groups of several into one transaction; short turns keep the
    /// replies and the pacing timer on time).
    static let maxPerCommit = 128
    /// How long an expired lease is kept (its client gets the address back).
    static let retention: UInt64 = 86_400

    final class Interface {
        let name: String
        let index: Int
        let socket: Socket
        let engine: DHCPEngine
        let batch = UDPBatch(slots: DhcpServer.batchSlots, slotSize: 1500)
        init(name: String, index: Int, socket: Socket, engine: DHCPEngine) {
            self.name = name
            self.index = index
            self.socket = socket
            self.engine = engine
        }
    }

    unowned(unsafe) let host: ServiceHost
    private var interfaces: [Interface] = []
    private var store: Store?
    private var leaseFile = ""
    private var leaseFileDirty = true
    /// No rewrite of the lease file before this (monotonic ns).
    private var leaseFileNext: UInt64 = 0
    private var leaseFileSize = 0
    private var acks: UInt64 = 0
    private var offers: UInt64 = 0
    private var naks: UInt64 = 0
    private var dropped: UInt64 = 0
    private var commitFailures: UInt64 = 0
    private var pokeTimer: EventLoop.TimerID?
    /// Commits on its own thread; `start` creates it.
    private var committer: LeaseCommitter?
    /// Replies waiting for their group's commit, by group id.
    private var awaiting: [UInt64: [(Interface, DHCPMessage, DHCPOutcome)]] = [:]
    /// Replies to send, paced (`drainOutbox`); `outboxHead` is the next.
    private var outbox: [(Interface, DHCPMessage, DHCPOutcome)] = []
    private var outboxHead = 0
    private var paceTimer: EventLoop.TimerID?
    /// Replies still allowed in millisecond `budgetAt`.
    private var budget = 0
    private var budgetAt: UInt64 = 0

    init(host: ServiceHost) { self.host = host }

    static func now() -> UInt64 { UInt64(Sys.realtimeNanos() / 1_000_000_000) }

    // MARK: config

    /// A duration text or 'infinite', in seconds.
    static func leaseSeconds(_ text: String?) -> UInt32? {
        guard let t = text else { return nil }
        if t == "infinite" { return DHCPPool.infinite }
        guard let ms = Duration.parseMilliseconds(t), ms >= 60_000 else { return nil }
        return UInt32(min(ms / 1000, Int(UInt32.max - 1)))
    }

    static func ipv4(_ text: String?) -> UInt32? {
        guard let t = text, let a = IPAddress(t), a.bytes.count == 4 else { return nil }
        return a.bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    static func mac(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":")
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    /// `list option 'CODE,VALUE'`: addresses when every part is one, else text.
    static func extraOption(_ text: String) -> (code: UInt8, value: [UInt8])? {
        let parts = text.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let code = UInt8(parts[0].trimmingSpaces), code > 0, code < 255 else { return nil }
        let rest = String(parts[1])
        let items = rest.split(separator: ",").map { String($0).trimmingSpaces }
        let addrs = items.compactMap { ipv4($0) }
        if !items.isEmpty && addrs.count == items.count { return (code, addrs.flatMap { DHCPMessage.addressBytes($0) }) }
        return (code, Array(rest.utf8))
    }

    /// The pool of one `dhcp` section on an interface with address/prefix.
    static func pool(_ s: UCISection, _ c: Config, address: UInt32, prefix: Int) -> Result<DHCPPool, UsageError> {
        func opt(_ n: String) -> String? { s.option(n)?.values.first ?? c.schema.section("dhcp")?.option(n)?.defaultValue }
        func list(_ n: String) -> [String] { s.option(n)?.values ?? [] }
        let iface = opt("interface") ?? "?"
        var probe = DHCPPool(serverAddress: address, prefixLength: prefix, first: 0, count: 0)
        let start = UInt32(opt("start").flatMap { Int($0) } ?? 100)
        let limit = opt("limit").flatMap { Int($0) } ?? 150
        let first = probe.network &+ start
        // Keep the pool inside the subnet, before its broadcast address.
        let room = Int(probe.broadcast) - Int(first)
        guard room > 0, prefix < 31 else {
            return .failure(UsageError(message: "dhcp \(iface): start \(start) is outside the subnet of \(DHCPEngine.dotted(address))/\(prefix)"))
        }
        probe.first = first
        probe.count = min(limit, room)
        guard let lt = leaseSeconds(opt("leasetime")) else {
            return .failure(UsageError(message: "dhcp \(iface): leasetime '\(opt("leasetime") ?? "")': give a duration of at least 1m, or 'infinite'"))
        }
        probe.leaseTime = lt
        probe.domain = opt("domain").flatMap { $0.isEmpty ? nil : $0 }
        probe.dns = list("dns").compactMap { ipv4($0) }
        probe.router = ipv4(opt("router"))
        probe.search = list("search")
        probe.nextServer = ipv4(opt("next_server"))
        probe.bootFile = opt("boot_file")
        probe.bootFileEFI = opt("boot_file_efi")
        probe.ipxeURL = opt("ipxe_boot_url")
        for o in list("option") {
            guard let e = extraOption(o) else {
                return .failure(UsageError(message: "dhcp \(iface): option '\(o)': give CODE,VALUE with CODE 1-254"))
            }
            probe.extra.append(e)
        }
        for h in c.sections(ofType: "host") {
            guard let ipText = h.option("ip")?.values.first, let a = ipv4(ipText), probe.inSubnet(a) else { continue }
            let macs = (h.option("mac")?.values ?? []).compactMap { mac($0) }
            guard !macs.isEmpty else { continue }
            var lt: UInt32? = nil
            if let t = h.option("leasetime")?.values.first {
                guard let v = leaseSeconds(t) else {
                    return .failure(UsageError(message: "host \(ipText): leasetime '\(t)': give a duration of at least 1m, or 'infinite'"))
                }
                lt = v
            }
            let name = h.option("name")?.values.first.flatMap { DHCPNames.sanitize(Array($0.utf8)) }
            probe.reservations.append(DHCPPool.Reservation(macs: macs, address: a, name: name, leaseTime: lt))
        }
        return .success(probe)
    }

    /// The IPv4 address and prefix of an interface.
    static func interfaceAddress(_ nl: Netlink, _ index: Int) -> (UInt32, Int)? {
        guard let addrs = try? nl.addresses() else { return nil }
        for a in addrs where a.interfaceIndex == index && a.address.family == .v4 {
            let b = a.address.bytes
            return (b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, a.prefixLength)
        }
        return nil
    }

    // MARK: start

    func start() -> Bool {
        let c = host.config
        do throws(StoreError) {
            store = try Store(path: host.settings.database)
        } catch {
            log.error("cannot open the store; leases could not be kept: \(error.description)")
            return false
        }
        let nl: Netlink
        do throws(SysError) { nl = try Netlink() } catch {
            log.error("netlink: \(error.description)")
            return false
        }
        let stored = (try? store?.leases()) ?? []
        for s in c.sections(ofType: "dhcp") {
            if let ig = s.option("ignore")?.values.first, parseBool(ig) == true { continue }
            guard let name = s.option("interface")?.values.first, !name.isEmpty else {
                log.error("a dhcp section without `option interface` is skipped")
                continue
            }
            guard let index = nl.index(of: name), let (addr, prefix) = DhcpServer.interfaceAddress(nl, index) else {
                log.error("dhcp \(name): no such interface, or it has no IPv4 address; skipped")
                continue
            }
            let pool: DHCPPool
            switch DhcpServer.pool(s, c, address: addr, prefix: prefix) {
            case .success(let p): pool = p
            case .failure(let e):
                log.error(e.message)
                continue
            }
            var o = Socket.Options()
            o.reuseAddress = true
            o.device = name
            o.broadcast = true
            o.receiveBuffer = 1 << 20
            let sock: Socket
            do throws(SysError) {
                sock = try Socket.udp(bind: SocketAddress(ip: "0.0.0.0", port: 67)!, options: o)
            } catch {
                log.error("dhcp \(name): cannot listen on port 67: \(error.description)")
                return false
            }
            let leases = stored.filter { $0.interface == name }.compactMap { DhcpServer.lease(from: $0) }
            let i = Interface(name: name, index: index, socket: sock, engine: DHCPEngine(pool: pool, leases: leases))
            do throws(SysError) {
                try host.loop.add(fd: sock.fd) { [unowned(unsafe) self] _ in self.receive(i) }
            } catch {
                log.error("dhcp \(name): \(error.description)")
                return false
            }
            interfaces.append(i)
            log.info("serving", [("interface", name), ("address", "\(DHCPEngine.dotted(addr))/\(prefix)"),
                                 ("pool", "\(DHCPEngine.dotted(pool.first))+\(pool.count)"),
                                 ("leases", "\(leases.count)")])
        }
        if interfaces.isEmpty { log.warn("no interface to serve (a restart picks up new ones)") }
        do throws(SysError) {
            let cm = try LeaseCommitter(store: store!, mainLoop: host.loop)
            try cm.start()
            committer = cm
        } catch {
            log.error("cannot start the lease commit thread: \(error.description)")
            return false
        }
        host.loop.afterDispatch = { [unowned(unsafe) self] in self.committed() }
        leaseFile = c.sections(ofType: "dhcp").compactMap { $0.option("leasefile")?.values.first }.first ?? "/tmp/dhcp.leases"
        host.loop.schedule(after: 1000, repeating: true) { [unowned(unsafe) self] in self.tick() }
        host.applyConfig = { [unowned(unsafe) self] next in self.reconfigure(next) }
        host.statusFields = { [unowned(unsafe) self] in
            var leases = 0
            let now = DhcpServer.now()
            for i in self.interfaces { leases += i.engine.leases.filter { $0.state == .bound && $0.expires > now }.count }
            return [("interfaces", "\(self.interfaces.count)"), ("leases", "\(leases)"), ("offers", "\(self.offers)"),
                    ("acks", "\(self.acks)"), ("naks", "\(self.naks)"), ("dropped", "\(self.dropped)"),
                    ("commits", "\(self.committer?.commits.load() ?? 0)"), ("commit_failures", "\(self.commitFailures)")]
        }
        writeLeaseFile()
        return true
    }

    /// A reload changes the pools' options and reservations; a new or
    /// removed interface needs a restart.
    private func reconfigure(_ c: Config) -> String? {
        // All pools first: one bad section keeps every interface on its old pool.
        var next: [(Interface, DHCPPool)] = []
        for i in interfaces {
            guard let s = c.sections(ofType: "dhcp").first(where: { $0.option("interface")?.values.first == i.name }) else {
                log.warn("dhcp \(i.name) was removed; it stops after a restart")
                continue
            }
            switch DhcpServer.pool(s, c, address: i.engine.pool.serverAddress, prefix: i.engine.pool.prefixLength) {
            case .success(let p): next.append((i, p))
            case .failure(let e): return e.message
            }
        }
        for (i, p) in next { i.engine.reconfigure(p) }
        return nil
    }

    static func lease(from s: StoredLease) -> DHCPLease? {
        guard let a = ipv4(s.address), let state = DHCPLease.State(rawValue: UInt8(truncatingIfNeeded: s.state)) else { return nil }
        return DHCPLease(client: s.client, mac: mac(s.mac) ?? [], address: a,
                         expires: s.expires < 0 ? UInt64.max : UInt64(s.expires), state: state, name: s.name)
    }

    static func stored(_ l: DHCPLease, interface: String) -> StoredLease {
        StoredLease(address: DHCPEngine.dotted(l.address), interface: interface, client: l.client, mac: IfacesCommand.macString(l.mac),
                    expires: l.expires == UInt64.max ? -1 : Int64(l.expires), state: Int(l.state.rawValue), name: l.name)
    }

    // MARK: packets

    /// Takes what is queued on the socket (up to `maxPerCommit` packets,
    /// several recvmmsg batches), answers what needs no commit at once
    /// (OFFER, NAK, INFORM) and hands the lot's lease changes to the commit
    /// thread as one group; its ACKs go out when the group is durable
    /// (`committed`). The packet thread never waits on the disk.
    private func receive(_ i: Interface) {
        let now = DhcpServer.now()
        var waiting: [(DHCPMessage, DHCPOutcome)] = []
        var upserts: [StoredLease] = []
        var removed: [String] = []
        var taken = 0
        while taken < DhcpServer.maxPerCommit {
            let n: Int
            do throws(SysError) { n = try i.batch.receive(on: i.socket) } catch { break }
            if n == 0 { break }
            taken += n
            handleBatch(i, n, now, &waiting, &upserts, &removed)
            if n < i.batch.slots { break }
        }
        guard !upserts.isEmpty || !removed.isEmpty, let cm = committer else {
            for (m, o) in waiting { reply(i, m, o) }
            return
        }
        let id = cm.submit(upserts: upserts, removing: removed)
        if !waiting.isEmpty { awaiting[id] = waiting.map { (i, $0.0, $0.1) } }
    }

    /// After every loop turn: the groups the commit thread finished. Their
    /// ACKs go out; a failed commit withholds them (the clients retry).
    private func committed() {
        guard let cm = committer else { return }
        let done = cm.takeFinished()
        guard !done.isEmpty else { return }
        var changed = false
        for d in done {
            let replies = awaiting.removeValue(forKey: d.id) ?? []
            if let e = d.error {
                commitFailures &+= 1
                log.error("cannot commit leases; replies withheld: \(e)")
                continue
            }
            changed = true
            for (i, m, o) in replies { reply(i, m, o) }
        }
        if changed {
            leaseFileDirty = true
            pokeDNS()
        }
    }

    func stop() {
        committer?.stop()
    }

    /// Decides every packet of one recvmmsg batch. Replies that grant or
    /// change a lease wait in `waiting` for the commit; the others go now.
    private func handleBatch(_ i: Interface, _ n: Int, _ now: UInt64, _ waiting: inout [(DHCPMessage, DHCPOutcome)],
                             _ upserts: inout [StoredLease], _ removed: inout [String]) {
        for k in 0..<n {
            let slot = i.batch.buffer(k)
            let bytes = Array(UnsafeRawBufferPointer(start: slot.baseAddress, count: i.batch.length(k)))
            let m: DHCPMessage
            do throws(DHCPError) { m = try DHCPMessage.decode(bytes) } catch {
                dropped &+= 1
                log.info("dropped a malformed packet", [("interface", i.name), ("from", i.batch.peer(k).description),
                                                          ("reason", error.description)])
                continue
            }
            guard m.op == 1 else { continue }
            // A relayed request is served from the pool of the relay's
            // subnet (RFC 2131 §4.3.1), whichever interface it came in on;
            // the answer goes back to the relay through this one.
            var served = i
            if m.giaddr != 0 && !i.engine.pool.inSubnet(m.giaddr) {
                guard let other = interfaces.first(where: { $0.engine.pool.inSubnet(m.giaddr) }) else {
                    dropped &+= 1
                    log.info("no pool for the relay's subnet", [("interface", i.name), ("giaddr", DHCPEngine.dotted(m.giaddr))])
                    continue
                }
                served = other
            }
            let o = served.engine.handle(m, now: now)
            var durable = !o.removed.isEmpty
            for l in o.upserts where l.state != .offered {
                upserts.append(DhcpServer.stored(l, interface: served.name))
                durable = true
            }
            for a in o.removed { removed.append(DHCPEngine.dotted(a)) }
            if log.level <= .info {
                // One line per packet, as dnsmasq logs (built only when it is written).
                let type = m.messageType.map { "\($0)" } ?? "?"
                log.info("DHCP\(type)", [("interface", i.name), ("mac", IfacesCommand.macString(m.hardwareAddress)),
                                         ("result", o.note)])
            }
            if o.reply == nil && o.note.hasPrefix("no free address") {
                log.warn("pool exhausted", [("interface", i.name), ("mac", IfacesCommand.macString(m.hardwareAddress))])
            }
            if durable {
                waiting.append((m, o))
            } else {
                reply(i, m, o)
            }
        }
    }

    /// Replies leave at most `paceBurst` per millisecond: a commit that
    /// releases a hundred ACKs at once would overflow the receive buffer of
    /// a client (or relay) that reads one datagram at a time.
    static let paceBurst = 32

    private func reply(_ i: Interface, _ m: DHCPMessage, _ o: DHCPOutcome) {
        guard o.reply != nil else { return }
        outbox.append((i, m, o))
        if paceTimer == nil { drainOutbox() }
    }

    private func drainOutbox() {
        paceTimer = nil
        // A token bucket: paceBurst per millisecond, at most 4 ms saved up.
        let ms = host.loop.now() / 1_000_000
        if ms != budgetAt {
            budget = min(4 * DhcpServer.paceBurst, budget + Int(min(ms &- budgetAt, 4)) * DhcpServer.paceBurst)
            budgetAt = ms
        }
        while outboxHead < outbox.count && budget > 0 {
            let (i, m, o) = outbox[outboxHead]
            outboxHead += 1
            budget -= 1
            send(i, m, o)
        }
        if outboxHead == outbox.count {
            outbox.removeAll(keepingCapacity: true)
            outboxHead = 0
            return
        }
        paceTimer = host.loop.schedule(after: 1) { [unowned(unsafe) self] in self.drainOutbox() }
    }

    private func send(_ i: Interface, _ m: DHCPMessage, _ o: DHCPOutcome) {
        guard let r = o.reply else { return }
        switch r.messageType {
        case .offer?: offers &+= 1
        case .ack?: acks &+= 1
        case .nak?: naks &+= 1
        default: break
        }
        send(i, r, o.destination, maxSize: m.maxMessageSize)
    }

    private func send(_ i: Interface, _ r: DHCPMessage, _ d: DHCPOutcome.Destination, maxSize: Int) {
        let bytes = r.encode(maxSize: min(maxSize, 1472))
        let to: SocketAddress
        switch d {
        case .relay(let g): to = DhcpServer.address(g, port: 67)
        case .client(let c): to = DhcpServer.address(c, port: 68)
        case .broadcast, .hardware: to = DhcpServer.address(0xFFFF_FFFF, port: 68)
        }
        do throws(SysError) { _ = try i.socket.send(bytes, to: to) } catch {
            log.warn("cannot send a reply", [("interface", i.name), ("to", to.description), ("error", error.description)])
        }
    }

    /// Tells dnsd the store changed, so lease names appear at once instead of
    /// at its next poll (a second at most). A dnsd that is not running is fine.
    /// Pokes are coalesced: one within 100 ms of the first change.
    private func pokeDNS() {
        guard pokeTimer == nil else { return }
        pokeTimer = host.loop.schedule(after: 100) { [unowned(unsafe) self] in
            self.pokeTimer = nil
            _ = try? ControlClient.send("poke", to: self.host.settings.controlSocketPath("dnsd"), timeoutMs: 50)
        }
    }

    static func address(_ a: UInt32, port: UInt16) -> SocketAddress {
        SocketAddress(family: .v4, bytes: DHCPMessage.addressBytes(a), port: port)
    }

    // MARK: housekeeping

    /// Once a second: expired leases leave the table and the store; the
    /// lease file is rewritten if anything changed.
    private func tick() {
        let now = DhcpServer.now()
        var removed: [String] = []
        for i in interfaces {
            // Expired leases stay a day (free for anyone, but a returning
            // client gets its old address back), then leave the store.
            for l in i.engine.expire(now: now, retention: DhcpServer.retention) where l.state != .offered {
                removed.append(DHCPEngine.dotted(l.address))
            }
        }
        if !removed.isEmpty, let cm = committer {
            _ = cm.submit(upserts: [], removing: removed)
            log.info("leases expired", [("count", "\(removed.count)")])
        }
        if leaseFileDirty { writeLeaseFile() }
    }

    /// dnsmasq's format: "EXPIRY MAC IP NAME CLIENT-ID" per bound lease
    /// (EXPIRY 0 for infinite, `*` for no name or client id). Rewritten at
    /// most once a second, and never more often than 50 times what the last
    /// rewrite cost, so a large table keeps it under 2 % of a CPU.
    private func writeLeaseFile() {
        guard !leaseFile.isEmpty else { leaseFileDirty = false; return }
        let started = Sys.monotonicNanos()
        guard started >= leaseFileNext else { return }
        leaseFileDirty = false
        var out: [UInt8] = []
        out.reserveCapacity(leaseFileSize + 4096)
        let now = DhcpServer.now()
        for i in interfaces {
            for (_, l) in i.engine.byAddress where l.state == .bound && l.expires > now {
                out += (l.expires == UInt64.max ? "0" : String(l.expires)).utf8
                out.append(0x20)
                out += IfacesCommand.macString(l.mac).utf8
                out.append(0x20)
                out += DHCPEngine.dotted(l.address).utf8
                out.append(0x20)
                out += (l.name ?? "*").utf8
                out.append(0x20)
                out += (l.client.first == 0xFF ? IfacesCommand.macString(Array(l.client.dropFirst())) : "*").utf8
                out.append(0x0A)
            }
        }
        leaseFileSize = out.count
        do throws(SysError) { try FileSystem.writeFileAtomically(leaseFile, out) } catch {
            log.warn("cannot write the lease file \(leaseFile): \(error.description)")
        }
        let cost = Sys.monotonicNanos() &- started
        leaseFileNext = started &+ max(1_000_000_000, cost &* 50)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let u = Array(utf8)
        var a = 0
        var b = u.count
        while a < b && (u[a] == 0x20 || u[a] == 0x09) { a += 1 }
        while b > a && (u[b - 1] == 0x20 || u[b - 1] == 0x09) { b -= 1 }
        return String(decoding: u[a..<b], as: UTF8.self)
    }
}

extension Substring {
    var trimmingSpaces: String { String(self).trimmingSpaces }
}
