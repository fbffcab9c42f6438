// The one client that tells dnsd the store changed ("poke"), so it rebuilds
// now instead of at its next poll. dnsd answers `ok generation=N` once it
// serves generation N. Writers never wait on it: a lost poke only delays
// an update until dnsd's own poll (a second).

import Config
import Runtime
import Sys

/// Pokes dnsd from an event loop without blocking.
///
/// One poke is in flight at a time: dnsd folds every commit made meanwhile
/// into its next rebuild, so a burst of writes costs it one rebuild, not
/// one each, and cannot flood its socket. When dnsd answers, a further poke
/// goes out only if something was committed after the last one (when dnsd
/// cannot read the store its generation stays behind: no ping-pong).
public final class StoreNotifier {
    private let poker: ControlPoker?
    private let target: String
    unowned(unsafe) let loop: EventLoop
    private var inFlight = false
    private var sentAt: UInt64 = 0
    private var committed: Int64 = -1
    private var pokedFor: Int64 = -1
    /// dnsd serves this generation (called for each answer).
    public var onServed: (Int64) -> Void = { _ in }

    /// A poke unanswered this long means dnsd went away.
    static let replyTimeoutNs: UInt64 = 1_000_000_000

    public init(global: GlobalSection, loop: EventLoop) {
        self.loop = loop
        target = global.controlSocket("dnsd")
        do throws(SysError) {
            poker = try ControlPoker(loop: loop)
        } catch {
            log.warn("cannot create the control client for dnsd pokes: \(error.description); dnsd notices writes by polling")
            poker = nil
        }
        poker?.onReply = { [unowned(unsafe) self] reply in self.replied(reply) }
    }

    /// Something was committed; `g` is a number that grows with every
    /// commit (the store generation, or a count of commits). True when a
    /// poke is (or already was) on its way, so an answer will come; false
    /// when dnsd cannot be told (not running): it will notice by polling.
    @discardableResult
    public func changed(_ g: Int64) -> Bool {
        committed = max(committed, g)
        if inFlight && loop.now() &- sentAt > StoreNotifier.replyTimeoutNs { inFlight = false }
        return inFlight || send()
    }

    private func send() -> Bool {
        guard let p = poker, p.send("poke", to: target) else { return false }
        inFlight = true
        sentAt = loop.now()
        pokedFor = committed
        return true
    }

    private func replied(_ reply: String) {
        inFlight = false
        guard let r = reply.split(separator: "=").last, let g = Int64(r) else { return }
        if committed > pokedFor { _ = send() }
        onServed(g)
    }

    /// One blocking poke (CGI and the CLI, which have no loop): dnsd has
    /// rebuilt when it answers, or `timeoutMs` passed.
    public static func pokeNow(_ global: GlobalSection, timeoutMs: Int = 250) {
        _ = try? ControlClient.send("poke", to: global.controlSocket("dnsd"), timeoutMs: timeoutMs)
    }
}
