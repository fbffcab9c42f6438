// The contract between an applet and the host that runs it (BIRD's protocol
// lifecycle): start, reconfigure deciding between an in-place change and a
// restart, typed status, commands, stop.

import Config

/// What a reload made of a new config.
public enum Reconfiguration: Equatable {
    /// The new config is in force.
    case applied
    /// The new config cannot be used; the old one keeps serving (the reason names what is wrong).
    case rejected(String)
    /// Valid, but only a restart can apply it (a listen address changed):
    /// the applet exits with `ExitCode.restart` and its supervisor starts it again.
    case needsRestart(String)
}

/// One long-running applet. `Daemon.main` creates it with its host, then:
/// `start` (sockets bound while still privileged) → privileges dropped →
/// the host's loop runs, calling `reconfigure`, `status` and `command` on
/// its thread → `stop`.
public protocol Service: AnyObject {
    /// Binds sockets and registers with `host.loop`. False: cannot start
    /// (the reason is logged); the process exits 1.
    func start() -> Bool
    /// A new config that passed validation (SIGHUP or `ctl APPLET reload`).
    func reconfigure(_ next: Config) -> Reconfiguration
    /// The applet's own status fields (the host adds pid, uptime, reloads).
    func status(_ s: inout Status)
    /// An applet-specific control command; nil when unknown.
    func command(_ cmd: String) -> String?
    /// Called once after the loop stopped.
    func stop()
    /// Signals to take besides TERM, INT (stop) and HUP (reload).
    var signals: [Int32] { get }
    /// One of `signals` arrived.
    func signal(_ sig: Int32)
    /// SIGTERM or SIGINT arrived: true to stop the loop now; false when the
    /// service winds down itself and calls `ServiceHost.stop` (init waits
    /// for its children).
    func stopRequested(_ sig: Int32) -> Bool
}

extension Service {
    public func status(_ s: inout Status) {}
    public func command(_ cmd: String) -> String? { nil }
    public func stop() {}
    public var signals: [Int32] { [] }
    public func signal(_ sig: Int32) {}
    public func stopRequested(_ sig: Int32) -> Bool { true }
}
