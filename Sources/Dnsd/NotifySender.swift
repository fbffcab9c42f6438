// NOTIFY (RFC 1996) to a zone's secondaries when its serial changes.

import Authority
import Core
import DNS
import Runtime
import Sys

/// Sends NOTIFY (RFC 1996) to a zone's secondaries when its serial changes,
/// over UDP from the main loop, and retries until each one answers: after
/// 1, 2, 4 and 8 seconds, then gives up (the secondary's refresh timer
/// still catches the change).
final class NotifySender {
    /// Retries after 1, 2, 4 and 8 s; then it gives up.
    static let retry = Backoff(initialMs: 1000, maxMs: 8000)
    static let maxAttempts = 5

    struct Pending {
        var zone: CompiledZone
        /// The zone's `tsig_key`: each NOTIFY is signed with it (RFC 8945).
        var key: TSIGKey?
        /// The MAC of the last signed attempt: its answer is signed over it.
        var mac = TSIGMAC()
        /// A reply was refused already (logged once).
        var warned = false
        var target: SocketAddress
        var id: UInt16
        var attempts: Int
        var dueAt: UInt64
    }

    unowned(unsafe) let loop: EventLoop
    private var v4: Socket?
    private var v6: Socket?
    private var pending: [Pending] = []
    private var timer: EventLoop.TimerID?
    private var buffer = [UInt8](repeating: 0, count: 4096)
    private(set) var sent: UInt64 = 0
    private(set) var acknowledged: UInt64 = 0

    init(loop: EventLoop) { self.loop = loop }

    func notify(_ zone: CompiledZone, targets: [SocketAddress], key: TSIGKey? = nil) {
        for t in targets {
            pending.removeAll { $0.target == t && $0.zone.origin == zone.origin }
            var p = Pending(zone: zone, key: key, target: t, id: UInt16(truncatingIfNeeded: Sys.random64()), attempts: 0,
                            dueAt: 0)
            send(&p)
            pending.append(p)
        }
        armTimer()
    }

    private func socket(for family: SocketAddress.Family) -> Socket? {
        if family == .v4, let s = v4 { return s }
        if family == .v6, let s = v6 { return s }
        let any = family == .v4 ? SocketAddress(ip: "0.0.0.0", port: 0) : SocketAddress(ip: "::", port: 0)
        guard let bindTo = any, let s = try? Socket.udp(bind: bindTo) else {
            log.error("cannot open a socket for NOTIFY")
            return nil
        }
        do throws(SysError) {
            try loop.add(fd: s.fd) { [unowned(unsafe) self] _ in self.receive(s) }
        } catch {
            s.close()
            return nil
        }
        if family == .v4 { v4 = s } else { v6 = s }
        return s
    }

    private func send(_ p: inout Pending) {
        p.attempts += 1
        p.dueAt = loop.now() &+ NotifySender.retry.delay(afterFailures: p.attempts) * 1_000_000
        guard let s = socket(for: p.target.family) else { return }
        var msg = Notify.message(id: p.id, zone: p.zone)
        if let key = p.key {
            // Each attempt is signed anew (its own Time Signed).
            guard let mac = try? key.sign(&msg, timeSigned: SecondaryZones.wallSeconds()) else { return }
            p.mac = mac
        }
        if (try? s.send(msg, to: p.target)) != nil {
            sent &+= 1
            log.info("notify sent", [("zone", p.zone.origin.description), ("serial", "\(p.zone.serial)"),
                                     ("target", p.target.description), ("attempt", "\(p.attempts)")])
        }
    }

    private func receive(_ s: Socket) {
        while true {
            guard let (n, from) = (try? s.receive(into: &buffer)) ?? nil else { return }
            buffer.withUnsafeBytes { all in
                let reply = UnsafeRawBufferPointer(rebasing: all[0..<n])
                guard let i = pending.firstIndex(where: { $0.target == from && Notify.isReply(reply, id: $0.id, zone: $0.zone.origin) })
                else { return }
                // Signed: only an answer signed over our MAC acknowledges
                // (a wrong key, or a spoofed reply, does not end the retries).
                if let key = pending[i].key {
                    let check = TSIG.verify(response: reply, key: key, requestMAC: pending[i].mac,
                                            now: SecondaryZones.wallSeconds())
                    guard case .verified = check, reply.count > 3, reply[3] & 0x0F == 0 else {
                        if !pending[i].warned {
                            pending[i].warned = true
                            log.warn("notify refused or not signed with the zone's key", [("zone", pending[i].zone.origin.description),
                                     ("target", from.description), ("rcode", "\(RCode(header: reply.count > 3 ? reply[3] & 0x0F : 0, extended: 0))"),
                                     ("tsig", NotifySender.describe(check))])
                        }
                        return
                    }
                }
                acknowledged &+= 1
                log.info("notify acknowledged", [("zone", pending[i].zone.origin.description), ("target", from.description)])
                pending.remove(at: i)
            }
        }
    }

    static func describe(_ c: TSIGCheck) -> String {
        if case .unsigned = c { return "unsigned" }
        return SecondaryZones.tsigProblem(c) ?? "verified"
    }

    private func armTimer() {
        guard timer == nil, !pending.isEmpty else { return }
        timer = loop.schedule(after: 250, repeating: true) { [unowned(unsafe) self] in self.retry() }
    }

    private func retry() {
        let now = loop.now()
        var i = 0
        while i < pending.count {
            if pending[i].dueAt <= now {
                if pending[i].attempts >= NotifySender.maxAttempts {
                    log.warn("notify not acknowledged; giving up", [("zone", pending[i].zone.origin.description),
                                                                    ("target", pending[i].target.description)])
                    pending.remove(at: i)
                    continue
                }
                send(&pending[i])
            }
            i += 1
        }
        if pending.isEmpty, let t = timer {
            loop.cancel(t)
            timer = nil
        }
    }
}
