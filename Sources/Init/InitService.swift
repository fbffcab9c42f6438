// The `init` applet: a small process supervisor for containers and procd,
// as a service on the shared host.
//
// Invariants: every child is one of our applets, re-executed from this
// binary; a crashed child is restarted after a backoff that doubles from
// 0.5 s to 30 s and resets after a child has run 10 s; a child that exits
// to apply a config change (`ExitCode.restart`) is started again at once;
// every zombie (children and re-parented orphans) is reaped; nothing a
// child does can stop init.

import Config
import Core
import Daemon
import Runtime
import Store
import Sys

public final class InitService: Service {
    static let backoff = Backoff(initialMs: 500, maxMs: 30_000)
    static let stableMs: UInt64 = 10_000
    static let stopDeadlineMs: UInt64 = 10_000

    struct Child {
        var applet: AppletInfo
        var pid: Int32?
        var startedAt: UInt64 = 0
        var restarts = 0
        var backoff = InitService.backoff
        var restartTimer: EventLoop.TimerID?
        var wanted = true
        var lastExit = ""
    }

    unowned(unsafe) let host: ServiceHost
    /// Every applet of the build (the table in module Applets).
    let applets: [AppletInfo]
    let executable: String
    var children: [Child] = []
    var shuttingDown = false
    /// Applets whose child exited 69 (not in this build): never started again.
    var unavailable: Set<String> = []

    public init(host: ServiceHost, applets: [AppletInfo]) {
        self.host = host
        self.applets = applets
        executable = Process.selfExecutable()
    }

    var loop: EventLoop { host.loop }

    // MARK: Service

    public var signals: [Int32] { [Signal.quit, Signal.chld] }

    public func start() -> Bool {
        // The store once, so migrations run before any child starts.
        let handle = host.storeHandle(.required)
        guard handle.open(), let store = handle.store else { return false }
        log.info("store ready", [("path", store.path), ("schema", "\(store.schemaVersion)")])
        if Sys.pid != 1 { Process.becomeSubreaper() }
        reconcile(host.config)
        if children.isEmpty { log.warn("no applet is enabled in \(host.configPath); waiting for SIGHUP") }
        return true
    }

    public func signal(_ sig: Int32) {
        if sig == Signal.chld { reap() } else { shutdown(reason: Signal.name(sig)) }
    }

    public func stopRequested(_ sig: Int32) -> Bool {
        shutdown(reason: Signal.name(sig))
        return false
    }

    public func reconfigure(_ next: Config) -> Reconfiguration {
        if shuttingDown { return .rejected("shutting down") }
        // Children running before this reload get SIGHUP; ones reconcile()
        // starts now read the new config anyway.
        let running = children.compactMap { $0.pid }
        reconcile(next)
        for pid in running where children.contains(where: { $0.pid == pid && $0.wanted }) {
            Process.kill(pid, Signal.hup)
        }
        return .applied
    }

    public func status(_ s: inout Status) {
        s.set(StatusKeys.Init.children, children.count)
        for c in children {
            var row = Status(name: c.applet.name)
            if let pid = c.pid { row.set(StatusKeys.pid, Int(pid)) } else { row.set(StatusKeys.pid, text: "-") }
            row.set(StatusKeys.Init.restarts, c.restarts)
            row.set(StatusKeys.uptime, c.pid == nil ? 0 : (loop.now() &- c.startedAt) / 1_000_000_000)
            if !c.lastExit.isEmpty { row.set(StatusKeys.Init.lastExit, text: c.lastExit) }
            s.rows.append(row)
        }
    }

    // MARK: children

    /// Applets enabled by the config: a section of their type that is on.
    public static func enabledApplets(_ c: Config, among applets: [AppletInfo]) -> [AppletInfo] {
        applets.filter { a in a.section.map { c.isEnabled($0) } ?? false }
    }

    /// Starts applets that became enabled and stops those that no longer are.
    func reconcile(_ c: Config) {
        let want = InitService.enabledApplets(c, among: applets)
        for i in children.indices {
            let name = children[i].applet.name
            if want.contains(where: { $0.name == name }) {
                // Re-enabled while it was stopping: keep it; reap() restarts it.
                children[i].wanted = true
                continue
            }
            guard children[i].wanted else { continue }
            children[i].wanted = false
            if let t = children[i].restartTimer { loop.cancel(t) }
            children[i].restartTimer = nil
            if let pid = children[i].pid {
                log.info("stopping \(name) (disabled in config)")
                Process.kill(pid, Signal.term)
                loop.schedule(after: InitService.stopDeadlineMs) { [unowned(unsafe) self] in
                    if let c = self.children.first(where: { $0.pid == pid && !$0.wanted }) {
                        log.warn("\(c.applet.name) did not stop in time; SIGKILL", [("pid", "\(pid)")])
                        Process.kill(pid, Signal.kill)
                    }
                }
            }
        }
        children.removeAll { !$0.wanted && $0.pid == nil }
        for a in want where !children.contains(where: { $0.applet.name == a.name }) {
            if !a.available {
                log.warn("\(a.name) is enabled in the config but not yet available in this build; not started")
                continue
            }
            if unavailable.contains(a.name) { continue }
            children.append(Child(applet: a))
            start(children.count - 1)
        }
    }

    func start(_ i: Int) {
        children[i].restartTimer = nil
        let name = children[i].applet.name
        do throws(SysError) {
            let argv = [name, "-c", host.configPath] + children[i].applet.serviceArgs
            let pid = try Process.spawn(path: executable, argv: argv, deathSignal: Signal.term)
            children[i].pid = pid
            children[i].startedAt = loop.now()
            log.info("started \(name)", [("pid", "\(pid)")])
        } catch {
            log.error("cannot start \(name): \(error.description)")
            children[i].lastExit = "spawn failed: \(error.description)"
            children[i].startedAt = loop.now() // a failed start counts as a quick crash
            scheduleRestart(i)
        }
    }

    /// Restarts child `i` after its backoff (at once with `immediately`).
    func scheduleRestart(_ i: Int, immediately: Bool = false) {
        let c = children[i]
        let ranMs = (loop.now() &- c.startedAt) / 1_000_000
        if ranMs >= InitService.stableMs { children[i].backoff.reset() }
        let delay = immediately ? 0 : children[i].backoff.fail()
        let name = c.applet.name
        if immediately {
            log.info("\(name) exited to apply a config change; restarting")
        } else {
            log.warn("\(name) exited (\(c.lastExit)); restarting in \(delay) ms", [("restarts", "\(c.restarts)")])
        }
        children[i].restartTimer = loop.schedule(after: delay) { [unowned(unsafe) self] in
            guard let j = self.children.firstIndex(where: { $0.applet.name == name }), self.children[j].wanted,
                  !self.shuttingDown else { return }
            self.children[j].restarts += 1
            self.start(j)
        }
    }

    /// Reaps every exited process: our children and adopted orphans.
    func reap() {
        while let e = Process.wait() {
            guard let i = children.firstIndex(where: { $0.pid == e.pid }) else {
                log.debug("reaped orphan", [("pid", "\(e.pid)"), ("status", "\(e.code)")])
                continue
            }
            children[i].pid = nil
            children[i].lastExit = e.signaled ? "killed by \(Signal.name(e.code - 128))" : "exit code \(e.code)"
            if shuttingDown || !children[i].wanted {
                log.info("\(children[i].applet.name) stopped (\(children[i].lastExit))")
            } else if !e.signaled && e.code == ExitCode.unavailable {
                log.error("\(children[i].applet.name) is not available in this build; not restarting")
                children[i].wanted = false
                unavailable.insert(children[i].applet.name)
            } else {
                scheduleRestart(i, immediately: !e.signaled && e.code == ExitCode.restart)
            }
        }
        children.removeAll { !$0.wanted && $0.pid == nil }
        if shuttingDown && !children.contains(where: { $0.pid != nil }) { host.stop(exitCode: ExitCode.ok) }
    }

    func shutdown(reason: String) {
        if shuttingDown { return }
        shuttingDown = true
        log.info("\(reason): stopping \(children.filter { $0.pid != nil }.count) children")
        for c in children {
            if let t = c.restartTimer { loop.cancel(t) }
            if let pid = c.pid { Process.kill(pid, Signal.term) }
        }
        if !children.contains(where: { $0.pid != nil }) { host.stop(exitCode: ExitCode.ok); return }
        loop.schedule(after: InitService.stopDeadlineMs) { [unowned(unsafe) self] in
            for c in self.children {
                if let pid = c.pid {
                    log.warn("\(c.applet.name) did not stop in time; SIGKILL", [("pid", "\(pid)")])
                    Process.kill(pid, Signal.kill)
                }
            }
        }
    }
}
