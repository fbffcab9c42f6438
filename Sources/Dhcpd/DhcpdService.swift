// The `dhcpd` applet: DHCPv4 on the interface of every `config dhcp`
// section, decided by the sans-I/O `DHCPEngine`, with leases in the store.
//
// - One socket per interface on 0.0.0.0:67, bound to the interface
//   (SO_BINDTODEVICE), broadcast allowed. The pool is the interface's IPv4
//   subnet. Interfaces are followed through the interface watcher: one
//   that appears (or gets its address) later is served from then on, one
//   that goes away stops being served (its leases are kept), an address
//   change moves the pool. No restart needed.
// - Packets are taken in batches (recvmmsg). Every lease they change is
//   committed to the store by the commit thread (group commit) before any
//   ACK is sent, so an acknowledged lease survives kill -9; OFFERs and NAKs,
//   which promise nothing, go out at once. Replies are paced.
// - Replies go to the relay (giaddr:67), to the client's address
//   (renewing), or are broadcast on the interface.

import Config
import Core
import Daemon
import DHCP
import Runtime
import Store
import Sys

public final class DhcpdService: Service {
    static let batchSlots = 64
    /// Packets taken per readable event, at most (the commit thread joins
    /// the groups of several into one transaction; short turns keep the
    /// replies and the pacing on time).
    static let maxPerCommit = 128
    /// How long an expired lease is kept (its client gets the address back).
    static let retention: UInt64 = 86_400
    /// Replies leave at most this many per millisecond (4 ms of burst).
    static let paceBurst = 32

    final class Served {
        let name: String
        let index: Int
        let socket: Socket
        let engine: DHCPEngine
        let batch = UDPBatch(slots: DhcpdService.batchSlots, slotSize: 1500)
        init(name: String, index: Int, socket: Socket, engine: DHCPEngine) {
            self.name = name
            self.index = index
            self.socket = socket
            self.engine = engine
        }
    }

    typealias Reply = (Served, DHCPMessage, DHCPOutcome)

    unowned(unsafe) let host: ServiceHost
    private var interfaces: [Served] = []
    private var watcher: InterfaceWatcher?
    /// Leases of interfaces not served now (not there yet, or gone), kept
    /// for when they are.
    private var parked: [String: [DHCPLease]] = [:]
    /// Sections whose interface cannot be served, with the reason last logged.
    private var waitingFor: [String: String] = [:]
    private var leaseFile: LeaseFile
    private var acks: UInt64 = 0
    private var offers: UInt64 = 0
    private var naks: UInt64 = 0
    private var dropped: UInt64 = 0
    private var commitFailures: UInt64 = 0
    private var committer: LeaseCommitter?
    private var notifier: StoreNotifier?
    /// Replies waiting for their group's commit, by group id.
    private var awaiting: [UInt64: [Reply]] = [:]
    private var pacer: Pacer<Reply>!

    public init(host: ServiceHost) {
        self.host = host
        leaseFile = LeaseFile(path: DhcpdService.leaseFilePath(host.config))
        pacer = Pacer(loop: host.loop, perMillisecond: DhcpdService.paceBurst, burstMs: 4) { [unowned(unsafe) self] r in
            self.send(r)
        }
    }

    static func now() -> UInt64 { UInt64(Sys.realtimeNanos() / 1_000_000_000) }

    static func leaseFilePath(_ c: Config) -> String {
        c.dhcp.first?.leasefile ?? ""
    }

    // MARK: Service

    public func start() -> Bool {
        let handle = host.storeHandle(.required)
        guard handle.open(), let store = handle.store else { return false }
        do throws(SysError) {
            let w = try InterfaceWatcher(loop: host.loop)
            w.subscribe { [unowned(unsafe) self] in _ = self.apply(self.host.config, strict: false) }
            watcher = w
        } catch {
            log.error("netlink: \(error.description)")
            return false
        }
        for s in (try? store.leases()) ?? [] {
            if let l = DhcpdConfig.lease(from: s) { parked[s.interface, default: []].append(l) }
        }
        guard apply(host.config, strict: false) == nil else { return false }
        if interfaces.isEmpty { log.warn("no interface to serve yet; interfaces that appear later are served then") }
        do throws(SysError) {
            let cm = try LeaseCommitter(store: store, mainLoop: host.loop)
            try cm.start()
            committer = cm
        } catch {
            log.error("cannot start the lease commit thread: \(error.description)")
            return false
        }
        notifier = StoreNotifier(global: host.global, loop: host.loop)
        host.loop.afterDispatch = { [unowned(unsafe) self] in self.committed() }
        host.loop.schedule(after: 1000, repeating: true) { [unowned(unsafe) self] in self.tick() }
        leaseFile.writeIfDue(interfaces.map { $0.engine }, now: DhcpdService.now())
        return true
    }

    public func reconfigure(_ next: Config) -> Reconfiguration {
        if let problem = apply(next, strict: true) { return .rejected(problem) }
        leaseFile.path = DhcpdService.leaseFilePath(next)
        leaseFile.changed()
        return .applied
    }

    public func status(_ s: inout Status) {
        typealias K = StatusKeys.Dhcpd
        var leases = 0
        let now = DhcpdService.now()
        for i in interfaces { leases += i.engine.leases.filter { $0.state == .bound && $0.expires > now }.count }
        s.set(K.interfaces, interfaces.count)
        s.set(K.leases, leases)
        s.set(K.offers, offers)
        s.set(K.acks, acks)
        s.set(K.naks, naks)
        s.set(K.dropped, dropped)
        s.set(K.commits, Int(committer?.commits.load() ?? 0))
        s.set(K.commitFailures, commitFailures)
    }

    public func stop() {
        committer?.stop()
    }

    // MARK: interfaces

    /// Serves what `c` asks for on the interfaces that are there now: opens
    /// new ones, moves pools whose address changed, stops serving what is
    /// gone or no longer configured. Every pool is computed first: with
    /// `strict` (a reload), one bad section keeps every interface as it was
    /// and the problem is returned; otherwise bad sections are logged and
    /// skipped.
    private func apply(_ c: Config, strict: Bool) -> String? {
        guard let w = watcher else { return nil }
        var wanted: [(DHCPSection, Int, DHCPPool)] = []
        var names: Set<String> = []
        for s in c.dhcp where !s.ignore {
            guard let name = s.interface else {
                note("(no interface)", "a dhcp section without `option interface` is skipped")
                continue
            }
            names.insert(name)
            guard let index = w.index(of: name), let (addr, prefix) = w.ipv4(of: name) else {
                note(name, "dhcp \(name): no such interface, or it has no IPv4 address; served once it has")
                continue
            }
            switch DhcpdConfig.pool(s, hosts: c.hosts, address: addr, prefix: prefix) {
            case .success(let p): wanted.append((s, index, p))
            case .failure(let e):
                if strict { return e.message }
                note(name, e.message)
            }
        }
        // Gone, reconfigured away, or moved to another interface index.
        for i in interfaces where !names.contains(i.name) || !wanted.contains(where: { $0.0.interface == i.name && $0.1 == i.index }) {
            close(i, why: names.contains(i.name) ? "the interface went away or lost its IPv4 address" : "it is no longer configured")
        }
        for (s, index, pool) in wanted {
            let name = s.interface ?? ""
            if let i = interfaces.first(where: { $0.name == name }) {
                if i.engine.pool.serverAddress != pool.serverAddress || i.engine.pool.prefixLength != pool.prefixLength {
                    log.info("address changed", [("interface", name), ("address", "\(DHCPEngine.dotted(pool.serverAddress))/\(pool.prefixLength)")])
                }
                i.engine.reconfigure(pool)
                continue
            }
            open(name, index: index, pool: pool)
        }
        return nil
    }

    /// Logs why a section is not served, once per reason.
    private func note(_ name: String, _ why: String) {
        guard waitingFor[name] != why else { return }
        waitingFor[name] = why
        log.warn(why)
    }

    private func open(_ name: String, index: Int, pool: DHCPPool) {
        var o = Socket.Options()
        o.reuseAddress = true
        o.device = name
        o.broadcast = true
        o.receiveBuffer = 1 << 20
        let sock: Socket
        do throws(SysError) {
            sock = try Socket.udp(bind: SocketAddress(ip: "0.0.0.0", port: 67)!, options: o)
        } catch {
            note(name, "dhcp \(name): cannot listen on port 67: \(error.description)")
            return
        }
        let leases = parked.removeValue(forKey: name) ?? []
        let i = Served(name: name, index: index, socket: sock, engine: DHCPEngine(pool: pool, leases: leases))
        do throws(SysError) {
            try host.loop.add(fd: sock.fd) { [unowned(unsafe) self] _ in self.receive(i) }
        } catch {
            sock.close()
            note(name, "dhcp \(name): \(error.description)")
            parked[name] = leases
            return
        }
        waitingFor[name] = nil
        interfaces.append(i)
        log.info("serving", [("interface", name), ("address", "\(DHCPEngine.dotted(pool.serverAddress))/\(pool.prefixLength)"),
                             ("pool", "\(DHCPEngine.dotted(pool.first))+\(pool.count)"), ("leases", "\(leases.count)")])
    }

    private func close(_ i: Served, why: String) {
        host.loop.remove(fd: i.socket.fd)
        i.socket.close()
        parked[i.name] = i.engine.leases
        interfaces.removeAll { $0 === i }
        log.info("not serving \(i.name): \(why)")
    }

    // MARK: packets

    /// Takes what is queued on the socket (up to `maxPerCommit` packets,
    /// several recvmmsg batches), answers what needs no commit at once
    /// (OFFER, NAK, INFORM) and hands the lot's lease changes to the commit
    /// thread as one group; its ACKs go out when the group is durable
    /// (`committed`). The packet thread never waits on the disk.
    private func receive(_ i: Served) {
        let now = DhcpdService.now()
        var waiting: [(DHCPMessage, DHCPOutcome)] = []
        var upserts: [StoredLease] = []
        var removed: [String] = []
        var taken = 0
        while taken < DhcpdService.maxPerCommit {
            let n: Int
            do throws(SysError) { n = try i.batch.receive(on: i.socket) } catch { break }
            if n == 0 { break }
            taken += n
            handleBatch(i, n, now, &waiting, &upserts, &removed)
            if n < i.batch.slots { break }
        }
        guard !upserts.isEmpty || !removed.isEmpty, let cm = committer else {
            for (m, o) in waiting { reply((i, m, o)) }
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
            for r in replies { reply(r) }
        }
        if changed {
            leaseFile.changed()
            // Lease names appear in DNS at once, not at dnsd's next poll.
            notifier?.changed(Int64(cm.commits.load()))
        }
    }

    /// Decides every packet of one recvmmsg batch. Replies that grant or
    /// change a lease wait in `waiting` for the commit; the others go now.
    private func handleBatch(_ i: Served, _ n: Int, _ now: UInt64, _ waiting: inout [(DHCPMessage, DHCPOutcome)],
                             _ upserts: inout [StoredLease], _ removed: inout [String]) {
        for k in 0..<n {
            let slot = i.batch.buffer(k)
            let m: DHCPMessage
            do throws(DHCPError) {
                m = try DHCPMessage.decode(UnsafeRawBufferPointer(start: slot.baseAddress, count: i.batch.length(k)))
            } catch {
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
                upserts.append(DhcpdConfig.stored(l, interface: served.name))
                durable = true
            }
            for a in o.removed { removed.append(DHCPEngine.dotted(a)) }
            if log.level <= .info {
                // One line per packet, as dnsmasq logs (built only when it is written).
                let type = m.messageType.map { "\($0)" } ?? "?"
                log.info("DHCP\(type)", [("interface", i.name), ("mac", Text.mac(m.hardwareAddress)), ("result", o.note)])
            }
            if o.reply == nil && o.note.hasPrefix("no free address") {
                log.warn("pool exhausted", [("interface", i.name), ("mac", Text.mac(m.hardwareAddress))])
            }
            if durable {
                waiting.append((m, o))
            } else {
                reply((i, m, o))
            }
        }
    }

    private func reply(_ r: Reply) {
        guard r.2.reply != nil else { return }
        pacer.submit(r)
    }

    private func send(_ r: Reply) {
        let (i, m, o) = r
        guard let reply = o.reply, interfaces.contains(where: { $0 === i }) else { return }  // not closed meanwhile
        switch reply.messageType {
        case .offer?: offers &+= 1
        case .ack?: acks &+= 1
        case .nak?: naks &+= 1
        default: break
        }
        let bytes = reply.encode(maxSize: min(m.maxMessageSize, 1472))
        let to: SocketAddress
        switch o.destination {
        case .relay(let g): to = DhcpdService.address(g, port: 67)
        case .client(let c): to = DhcpdService.address(c, port: 68)
        case .broadcast, .hardware: to = DhcpdService.address(0xFFFF_FFFF, port: 68)
        }
        do throws(SysError) { _ = try i.socket.send(bytes, to: to) } catch {
            log.warn("cannot send a reply", [("interface", i.name), ("to", to.description), ("error", error.description)])
        }
    }

    static func address(_ a: UInt32, port: UInt16) -> SocketAddress {
        SocketAddress(family: .v4, bytes: DHCPMessage.addressBytes(a), port: port)
    }

    // MARK: housekeeping

    /// Once a second: expired leases leave the table and the store; the
    /// lease file is rewritten if anything changed.
    private func tick() {
        let now = DhcpdService.now()
        var removed: [String] = []
        for i in interfaces {
            // Expired leases stay a day (free for anyone, but a returning
            // client gets its old address back), then leave the store.
            for l in i.engine.expire(now: now, retention: DhcpdService.retention) where l.state != .offered {
                removed.append(DHCPEngine.dotted(l.address))
            }
        }
        if !removed.isEmpty, let cm = committer {
            _ = cm.submit(upserts: [], removing: removed)
            log.info("leases expired", [("count", "\(removed.count)")])
        }
        leaseFile.writeIfDue(interfaces.map { $0.engine }, now: now)
    }
}
