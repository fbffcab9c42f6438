// dnsd as a secondary: the zones it transfers from primaries (a `config
// zone` with `list primary`, or `POST /api/v1/zones/transfer`), on the main
// loop. Each zone follows its SOA timers (refresh, retry, expire: the sans-I/O
// `RefreshTimers`) and NOTIFY; a check is an IXFR carrying the serial held
// (a primary with nothing newer answers with its SOA alone, RFC 1995 §2),
// an AXFR when nothing is held or the IXFR failed. A transfer is read by
// `XfrReader`, checked as a whole zone, kept in the store (a restart serves
// it without a transfer, until it expires) and only then served: a broken
// or truncated transfer keeps the version served.

import Authority
import CShim
import Config
import Core
import DNS
import Daemon
import Runtime
import Store
import Sys
import Zone

final class SecondaryZones {
    /// A check gives up after this long without a byte from the primary.
    static let idleTimeoutMs: UInt64 = 10_000

    /// One secondary zone as configured.
    struct Wanted {
        var origin: DomainName
        var primaries: [SocketAddress]
        /// Transfers are signed with it and their answers checked.
        var key: TSIGKey? = nil
    }

    final class Entry {
        let origin: DomainName
        var primaries: [SocketAddress]
        var key: TSIGKey?
        var zone: Zone?
        var timers = RefreshTimers()
        var timer: EventLoop.TimerID?
        var transfer: Transfer?
        /// The next check goes by AXFR (the last IXFR could not be applied).
        var forceAXFR = false
        /// A check was asked for while one was running.
        var again = false
        /// The state served last (to notice expiry).
        var available = false

        init(origin: DomainName, primaries: [SocketAddress]) {
            self.origin = origin
            self.primaries = primaries
        }

        var name: String {
            let d = origin.description
            return d.hasSuffix(".") ? String(d.dropLast()) : d
        }
    }

    final class Transfer {
        let socket: Socket
        let primary: Int
        var out: [UInt8]
        var sent = 0
        var input: [UInt8] = []
        var reader: XfrReader
        var timer: EventLoop.TimerID?
        let started: UInt64
        let ixfr: Bool
        /// Checks the answer's TSIG, when the request was signed.
        var verifier: TSIGStreamVerifier?

        init(socket: Socket, primary: Int, query: [UInt8], reader: XfrReader, started: UInt64, ixfr: Bool) {
            self.socket = socket
            self.primary = primary
            out = TCPFraming.framed(query)
            self.reader = reader
            self.started = started
            self.ixfr = ixfr
        }
    }

    unowned(unsafe) let loop: EventLoop
    let store: StoreHandle
    private(set) var entries: [DomainName: Entry] = [:]
    /// Called when what a zone serves changed (a transfer, an expiry).
    var onChange: () -> Void = {}
    private var buffer = [UInt8](repeating: 0, count: 65536)
    private(set) var transfersIn: UInt64 = 0
    private(set) var transferFailures: UInt64 = 0
    /// The config's secondary zones the store was last pruned to.
    private var prunedFor: [String]? = nil

    init(loop: EventLoop, store: StoreHandle) {
        self.loop = loop
        self.store = store
    }

    static func wallSeconds() -> UInt64 { UInt64(max(0, Sys.realtimeNanos() / 1_000_000_000)) }

    /// The secondary zones of `c` and of the API (`api`).
    static func wanted(_ c: Config, api: [StoredSecondary], keys: TSIGKeys) -> [Wanted] {
        var out: [Wanted] = []
        for z in c.zones where !z.primary.isEmpty && z.file == nil {
            guard let name = z.name, let origin = try? DomainName(name.hasSuffix(".") ? name : name + ".") else { continue }
            let p = z.primary.compactMap { SocketAddress(hostPort: $0, defaultPort: 53) }
            if !p.isEmpty { out.append(Wanted(origin: origin, primaries: p, key: z.tsigKey.map { keys.key(named: $0).0 })) }
        }
        for a in api {
            guard let origin = try? DomainName(a.name + "."), !out.contains(where: { $0.origin == origin }) else { continue }
            let p = a.primaries.compactMap { SocketAddress(hostPort: $0, defaultPort: 53) }
            if !p.isEmpty { out.append(Wanted(origin: origin, primaries: p)) }
        }
        return out
    }

    /// Follows the configured set: new zones start (from their stored copy
    /// when there is one), removed ones stop.
    func configure(_ wanted: [Wanted], configNames: [String]) {
        var stored: [String: StoredSecondary] = [:]
        let fresh = wanted.filter { entries[$0.origin] == nil }
        if !fresh.isEmpty, let s = store.current() {
            do throws(StoreError) {
                for z in try s.secondaries(withData: true) { stored[z.name] = z }
            } catch {
                log.error("cannot read secondary zones from the store: \(error.description)")
            }
        }
        var keep: Set<DomainName> = []
        for w in wanted {
            keep.insert(w.origin)
            if let e = entries[w.origin] {
                let rekeyed = !TSIGKeys.same(e.key, w.key)
                e.key = w.key
                if e.primaries != w.primaries || rekeyed {
                    e.primaries = w.primaries
                    check(e)
                }
                continue
            }
            let e = Entry(origin: w.origin, primaries: w.primaries)
            e.key = w.key
            entries[w.origin] = e
            restore(e, from: stored[e.name])
            schedule(e)
        }
        for (origin, e) in entries where !keep.contains(origin) {
            cancel(e)
            entries[origin] = nil
        }
        // Only when the config's set changed: a rebuild (every lease, every
        // API write) must not cost a durable write.
        if configNames != prunedFor, let s = store.current() {
            do throws(StoreError) {
                try s.pruneSecondaries(keeping: configNames)
                prunedFor = configNames
            } catch {
                log.error("cannot forget removed secondary zones in the store: \(error.description)")
            }
        }
    }

    /// What each zone serves now.
    func served() -> [DomainName: ZoneSet.SecondaryData] {
        let now = SecondaryZones.wallSeconds()
        var out: [DomainName: ZoneSet.SecondaryData] = [:]
        for (origin, e) in entries {
            e.available = e.zone != nil && !e.timers.isExpired(now)
            out[origin] = ZoneSet.SecondaryData(zone: e.zone, available: e.available)
        }
        return out
    }

    /// A NOTIFY for `origin` was accepted: check now (RFC 1996 §3.11).
    func notified(_ origin: DomainName, from peer: SocketAddress) {
        guard let e = entries[origin] else { return }
        log.info("notify received", [("zone", origin.description), ("peer", peer.description)])
        check(e)
    }

    func stop() {
        for (_, e) in entries { cancel(e) }
    }

    // MARK: timers

    private func restore(_ e: Entry, from s: StoredSecondary?) {
        guard let s, let text = s.zone else { return }
        do throws(ZoneError) {
            let z = try Zone.parse(Array(text.utf8), file: "the stored copy of \(e.origin)", origin: e.origin)
            guard let soa = z.soa else { return }
            e.zone = z
            let checked = UInt64(max(0, s.checked ?? 0))
            e.timers.succeeded(soa: soa, now: checked)
            if let x = s.expires { e.timers.expiresAt = UInt64(max(0, x)) }
            log.info("secondary zone restored from the store", [("zone", e.origin.description), ("serial", "\(soa.serial)"),
                      ("records", "\(z.records.count)")])
        } catch {
            log.error("the stored copy of secondary zone \(e.origin) does not load (\(error.description)); transferring it again")
        }
    }

    /// Arms the zone's timer for its next event: a check, or its expiry.
    private func schedule(_ e: Entry) {
        if let t = e.timer { loop.cancel(t) }
        e.timer = nil
        guard e.transfer == nil else { return }
        let now = SecondaryZones.wallSeconds()
        var at = e.timers.nextCheck
        if let x = e.timers.expiresAt, e.zone != nil, x < at, x > now { at = x }
        let ms = at > now ? (at - now) * 1000 : 0
        e.timer = loop.schedule(after: ms) { [unowned(unsafe) self] in
            e.timer = nil
            self.due(e)
        }
    }

    private func due(_ e: Entry) {
        let now = SecondaryZones.wallSeconds()
        if e.available && e.timers.isExpired(now) {
            log.error("secondary zone expired: no primary answered for its SOA expire time; answering SERVFAIL",
                      [("zone", e.origin.description)])
            onChange()
        }
        if now >= e.timers.nextCheck { check(e) } else { schedule(e) }
    }

    private func cancel(_ e: Entry) {
        if let t = e.timer { loop.cancel(t) }
        e.timer = nil
        if let x = e.transfer { close(e, x) }
    }

    // MARK: transfers

    /// Starts a check (IXFR from the serial held, else AXFR) at the first primary.
    func check(_ e: Entry) {
        if e.transfer != nil {
            e.again = true
            return
        }
        e.timers.checkNow(SecondaryZones.wallSeconds())
        start(e, primary: 0)
    }

    private func start(_ e: Entry, primary: Int) {
        if let t = e.timer { loop.cancel(t) }
        e.timer = nil
        guard primary < e.primaries.count else {
            e.timers.failed(now: SecondaryZones.wallSeconds())
            transferFailures &+= 1
            return finishCheck(e)
        }
        let server = e.primaries[primary]
        let serial = e.forceAXFR ? nil : e.zone?.soa?.serial
        let id = UInt16(truncatingIfNeeded: Sys.random64())
        var query = XfrRequest.make(id: id, zone: e.origin, ixfrFrom: serial)
        var verifier: TSIGStreamVerifier? = nil
        if let key = e.key {
            do throws(DNSError) {
                let mac = try key.sign(&query, timeSigned: SecondaryZones.wallSeconds())
                verifier = TSIGStreamVerifier(key: key, requestMAC: mac)
            } catch {
                log.error("cannot sign a zone transfer request: \(error)")
                return start(e, primary: primary + 1)
            }
        }
        let sock: Socket
        do throws(SysError) { sock = try Socket.unbound(family: server.family, stream: true) } catch {
            log.error("cannot open a socket for a zone transfer: \(error.description)")
            return start(e, primary: primary + 1)
        }
        let x = Transfer(socket: sock, primary: primary, query: query,
                         reader: XfrReader(zone: e.origin, id: id, ixfrFrom: serial),
                         started: Sys.monotonicNanos(), ixfr: serial != nil)
        x.verifier = verifier
        do throws(SysError) {
            _ = try sock.connect(server)
            try loop.add(fd: sock.fd, events: EventLoop.readable | EventLoop.writable | EventLoop.hangup) {
                [unowned(unsafe) self] ev in self.onEvent(e, x, ev)
            }
        } catch {
            sock.close()
            log.warn("zone transfer: cannot connect", [("zone", e.origin.description), ("primary", server.description),
                     ("error", error.description)])
            return start(e, primary: primary + 1)
        }
        e.transfer = x
        arm(e, x)
    }

    private func arm(_ e: Entry, _ x: Transfer) {
        if let t = x.timer { loop.cancel(t) }
        x.timer = loop.schedule(after: SecondaryZones.idleTimeoutMs) { [unowned(unsafe) self] in
            x.timer = nil
            self.failed(e, x, "timed out", retryAXFR: false)
        }
    }

    private func close(_ e: Entry, _ x: Transfer) {
        if let t = x.timer { loop.cancel(t) }
        x.timer = nil
        loop.remove(fd: x.socket.fd)
        x.socket.close()
        if e.transfer === x { e.transfer = nil }
    }

    private func onEvent(_ e: Entry, _ x: Transfer, _ events: UInt32) {
        guard e.transfer === x else { return }
        if events & EventLoop.writable != 0 && x.sent < x.out.count {
            if x.socket.pendingError() != 0 { return failed(e, x, "cannot connect", retryAXFR: false) }
            do throws(SysError) { x.sent += try x.socket.send(x.out, from: x.sent) } catch {
                if !error.wouldBlock { return failed(e, x, "send: \(error.description)", retryAXFR: false) }
            }
            if x.sent == x.out.count { try? loop.modify(fd: x.socket.fd, events: EventLoop.readable | EventLoop.hangup) }
        }
        guard events & (EventLoop.readable | EventLoop.hangup) != 0 else { return }
        while e.transfer === x {
            let got: (Int, SocketAddress)?
            do throws(SysError) { got = try x.socket.receive(into: &buffer) } catch {
                return failed(e, x, "receive: \(error.description)", retryAXFR: false)
            }
            guard let (n, _) = got else { return }
            if n == 0 { return failed(e, x, "the primary closed the connection before the end of the transfer", retryAXFR: false) }
            arm(e, x)
            x.input.append(contentsOf: buffer[0..<n])
            var consumed = 0
            while let range = TCPFraming.message(in: x.input, from: consumed) {
                consumed = range.upperBound
                if var v = x.verifier {
                    let check = x.input.withUnsafeBytes {
                        v.verify(UnsafeRawBufferPointer(rebasing: $0[range]), now: SecondaryZones.wallSeconds())
                    }
                    x.verifier = v
                    if let why = SecondaryZones.tsigProblem(check) { return failed(e, x, why, retryAXFR: false) }
                }
                let step = x.input.withUnsafeBytes { x.reader.consume(UnsafeRawBufferPointer(rebasing: $0[range])) }
                if case .done = step, let v = x.verifier, !v.canEnd {
                    return failed(e, x, "TSIG: the last message of the transfer is not signed", retryAXFR: false)
                }
                switch step {
                case .more: continue
                case .failed(let why):
                    // A primary that does not do IXFR answers NOTIMP or FORMERR: ask by AXFR.
                    return failed(e, x, why, retryAXFR: x.ixfr)
                case .done(let outcome):
                    return finished(e, x, outcome)
                }
            }
            if consumed > 0 { x.input.removeFirst(consumed) }
        }
    }

    /// Why a checked answer is refused; nil when it may be read.
    static func tsigProblem(_ c: TSIGCheck) -> String? {
        switch c {
        case .verified, .unsigned: return nil
        case .rejected(let r): return "TSIG: \(r.reason) (\(r.error))"
        case .peerError(let p): return "TSIG: the primary answered \(p.error)" + (p.authenticated ? "" : " (unsigned)")
        }
    }

    private func failed(_ e: Entry, _ x: Transfer, _ why: String, retryAXFR: Bool) {
        let server = e.primaries[x.primary]
        close(e, x)
        log.warn("zone transfer failed; keeping the version served", [("zone", e.origin.description),
                 ("primary", server.description), ("kind", x.ixfr ? "IXFR" : "AXFR"), ("reason", why)])
        if retryAXFR && !e.forceAXFR {
            e.forceAXFR = true
            return start(e, primary: x.primary)
        }
        start(e, primary: x.primary + 1)
    }

    private func finished(_ e: Entry, _ x: Transfer, _ outcome: XfrReader.Outcome) {
        let server = e.primaries[x.primary]
        let ms = (Sys.monotonicNanos() &- x.started) / 1_000_000
        close(e, x)
        let now = SecondaryZones.wallSeconds()
        var records: [ResourceRecord]
        var kind = "AXFR"
        switch outcome {
        case .upToDate(let serial):
            guard let z = e.zone, let soa = z.soa else { return failed(e, x, "up to date, but we hold nothing", retryAXFR: true) }
            log.debug("secondary zone up to date", [("zone", e.origin.description), ("serial", "\(serial)"),
                      ("primary", server.description)])
            e.timers.succeeded(soa: soa, now: now)
            persist(e, zone: nil, now: now)
            let wasAvailable = e.available
            finishCheck(e)
            if !wasAvailable { onChange() }
            return
        case .full(let r):
            records = r
        case .incremental(let diffs):
            kind = "IXFR"
            guard let held = e.zone else { return failed(e, x, "differences, but we hold nothing", retryAXFR: true) }
            switch XfrReader.apply(diffs, to: held.records) {
            case .success(let r): records = r
            case .failure(let err): return failed(e, x, err.message, retryAXFR: true)
            }
        }
        let zone: Zone
        do throws(ZoneError) {
            zone = try Zone.check(origin: e.origin, records: records, sources: [])
        } catch {
            return failed(e, x, "the transferred zone does not check: \(error.description)", retryAXFR: kind == "IXFR")
        }
        guard let soa = zone.soa else { return failed(e, x, "no SOA", retryAXFR: false) }
        e.zone = zone
        e.forceAXFR = false
        e.timers.succeeded(soa: soa, now: now)
        transfersIn &+= 1
        log.info("zone transferred in", [("zone", e.origin.description), ("serial", "\(soa.serial)"), ("kind", kind),
                 ("records", "\(zone.records.count)"), ("messages", "\(x.reader.messages)"),
                 ("primary", server.description), ("ms", "\(ms)")])
        persist(e, zone: zone, now: now)
        finishCheck(e)
        onChange()
    }

    /// Keeps the zone (or only the time of the primary's answer) in the store.
    private func persist(_ e: Entry, zone: Zone?, now: UInt64) {
        guard let s = store.current() else { return }
        do throws(StoreError) {
            try s.saveTransfer(e.name, primaries: e.primaries.map { $0.description },
                               serial: zone?.soa.map { Int64($0.serial) }, checked: Int64(now),
                               expires: Int64(e.timers.expiresAt ?? now), zone: zone?.presentation())
        } catch {
            log.error("cannot keep secondary zone \(e.origin) in the store: \(error.description)")
        }
    }

    private func finishCheck(_ e: Entry) {
        if e.again {
            e.again = false
            return check(e)
        }
        schedule(e)
    }
}

/// NOTIFYs accepted by the UDP workers, handed to the main loop: a worker
/// copies the query in under a lock and signals an eventfd the main loop
/// watches. Rare (one per zone change), so a lock is fine.
final class NotifyInbox {
    private let lock = Lock()
    private var queued: [([UInt8], SocketAddress)] = []
    let fd: Int32

    init() { fd = dx_eventfd() }

    deinit { if fd >= 0 { _ = dx_close(fd) } }

    /// From any thread.
    func post(_ query: UnsafeRawBufferPointer, from peer: SocketAddress) {
        lock.acquire()
        if queued.count < 256 { queued.append((Array(query), peer)) }
        lock.release()
        _ = dx_eventfd_signal(fd)
    }

    /// On the main loop: everything posted so far.
    func take() -> [([UInt8], SocketAddress)] {
        _ = dx_eventfd_drain(fd)
        lock.acquire()
        let out = queued
        queued.removeAll()
        lock.release()
        return out
    }
}
