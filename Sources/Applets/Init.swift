import Config
import Runtime
import Store
import Sys

/// The `init` applet: a small process supervisor for containers and procd.
///
/// Invariants: every child is one of our applets, re-executed from this
/// binary; a crashed child is restarted after a backoff that doubles from
/// `Supervisor.minBackoffMs` to `maxBackoffMs` and resets after a child has
/// run `stableMs`; every zombie (children and re-parented orphans) is reaped;
/// nothing a child does can stop init.
enum InitApplet {
    static func main(_ args: [String]) -> Int32 {
        let opts: CommonOptions
        switch CommonOptions.parse(args) {
        case .success(let o): opts = o
        case .failure(let e): return usageFailure(e, "init [-c FILE]")
        }
        let path = opts.resolvedConfigPath
        let config: Config
        do throws(ConfigError) { config = try Settings.load(path: path) } catch {
            Console.err("init: \(error.description)\n")
            return ExitCode.failure
        }
        let settings = Settings(config)
        settings.applyLogging(applet: "init")
        do throws(SysError) {
            try FileSystem.makeDirectories(settings.rundir, mode: 0o755)
        } catch {
            log.error("cannot create run directory: \(error.description)")
            return ExitCode.failure
        }
        // Open the store once so migrations run before any child starts.
        do throws(StoreError) {
            let store = try Store(path: settings.database)
            log.info("store ready", [("path", store.path), ("schema", "\(store.schemaVersion)")])
        } catch {
            log.error("cannot open the store: \(error.description)")
            return ExitCode.failure
        }
        do throws(SysError) {
            let sup = try Supervisor(configPath: path, config: config)
            return sup.run()
        } catch {
            log.error("cannot start: \(error.description)")
            return ExitCode.failure
        }
    }
}

final class Supervisor {
    static let minBackoffMs: UInt64 = 500
    static let maxBackoffMs: UInt64 = 30_000
    static let stableMs: UInt64 = 10_000
    static let stopDeadlineMs: UInt64 = 10_000

    struct Child {
        var applet: Applet
        var pid: Int32?
        var startedAt: UInt64 = 0
        var restarts = 0
        var failures = 0
        var restartTimer: EventLoop.TimerID?
        var wanted = true
        var lastExit = ""
    }

    let configPath: String
    var config: Config
    var settings: Settings
    let loop: EventLoop
    let executable: String
    var children: [Child] = []
    var control: ControlServer?
    var shuttingDown = false
    var exitCode = ExitCode.ok
    /// Applets whose child exited 69 (not in this build): never started again.
    var unavailable: Set<String> = []

    init(configPath: String, config: Config) throws(SysError) {
        self.configPath = configPath
        self.config = config
        self.settings = Settings(config)
        self.loop = try EventLoop()
        self.executable = Process.selfExecutable()
        if Sys.pid != 1 { Process.becomeSubreaper() }
        try loop.handleSignals([Signal.term, Signal.int, Signal.quit, Signal.hup, Signal.chld]) { [unowned(unsafe) self] sig in
            self.onSignal(sig)
        }
        control = try ControlServer(path: settings.controlSocketPath("init"), loop: loop) { [unowned(unsafe) self] cmd in
            self.handle(cmd)
        }
    }

    func run() -> Int32 {
        reconcile()
        log.info("ready", [("config", configPath), ("children", "\(children.count)")])
        if children.isEmpty { log.warn("no applet is enabled in \(configPath); waiting for SIGHUP") }
        loop.run()
        control?.close()
        log.info("stopped")
        return exitCode
    }

    /// Applets enabled by the config: a section of their type that is not
    /// disabled (`enabled '0'`) or ignored (`ignore '1'`).
    static func enabledApplets(_ c: Config) -> [Applet] {
        var out: [Applet] = []
        for a in Applets.table {
            guard let type = a.section else { continue }
            var on = false
            for s in c.sections(ofType: type) {
                let enabled = s.option("enabled").flatMap { $0.values.last }.flatMap { parseBool($0) } ?? true
                let ignored = s.option("ignore").flatMap { $0.values.last }.flatMap { parseBool($0) } ?? false
                if enabled && !ignored { on = true }
            }
            if on { out.append(a) }
        }
        return out
    }

    /// Starts applets that became enabled and stops those that no longer are.
    func reconcile() {
        let want = Supervisor.enabledApplets(config)
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
                loop.schedule(after: Supervisor.stopDeadlineMs) { [unowned(unsafe) self] in
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
            let argv = [name, "-c", configPath] + children[i].applet.serviceArgs
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

    func scheduleRestart(_ i: Int) {
        let c = children[i]
        let ranMs = (loop.now() &- c.startedAt) / 1_000_000
        if ranMs >= Supervisor.stableMs { children[i].failures = 0 }
        let shift = UInt64(min(children[i].failures, 16))
        let delay = min(Supervisor.minBackoffMs << shift, Supervisor.maxBackoffMs)
        children[i].failures += 1
        let name = c.applet.name
        log.warn("\(name) exited (\(c.lastExit)); restarting in \(delay) ms", [("restarts", "\(c.restarts)")])
        children[i].restartTimer = loop.schedule(after: delay) { [unowned(unsafe) self] in
            guard let j = self.children.firstIndex(where: { $0.applet.name == name }), self.children[j].wanted,
                  !self.shuttingDown else { return }
            self.children[j].restarts += 1
            self.start(j)
        }
    }

    func onSignal(_ sig: Int32) {
        switch sig {
        case Signal.chld: reap()
        case Signal.hup: log.info("SIGHUP: reloading"); _ = reload()
        default: shutdown(reason: Signal.name(sig))
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
                scheduleRestart(i)
            }
        }
        children.removeAll { !$0.wanted && $0.pid == nil }
        if shuttingDown && !children.contains(where: { $0.pid != nil }) { loop.stop() }
    }

    func reload() -> String {
        if shuttingDown { return "error: shutting down" }
        var next: Config
        do throws(ConfigError) { next = try Settings.load(path: configPath) } catch {
            log.error("reload failed, keeping the previous config: \(error.description)")
            return "error: \(error.description)"
        }
        var nextSettings = Settings(next)
        nextSettings.keepRestartOnly(from: settings)
        config = next
        settings = nextSettings
        settings.applyLogging(applet: "init")
        // Children running before this reload get SIGHUP; ones reconcile()
        // starts now read the new config anyway.
        let running = children.compactMap { $0.pid }
        reconcile()
        for pid in running where children.contains(where: { $0.pid == pid && $0.wanted }) {
            Process.kill(pid, Signal.hup)
        }
        return "ok reloaded"
    }

    func shutdown(reason: String) {
        if shuttingDown { return }
        shuttingDown = true
        log.info("\(reason): stopping \(children.filter { $0.pid != nil }.count) children")
        for c in children {
            if let t = c.restartTimer { loop.cancel(t) }
            if let pid = c.pid { Process.kill(pid, Signal.term) }
        }
        if !children.contains(where: { $0.pid != nil }) { loop.stop(); return }
        loop.schedule(after: Supervisor.stopDeadlineMs) { [unowned(unsafe) self] in
            for c in self.children {
                if let pid = c.pid {
                    log.warn("\(c.applet.name) did not stop in time; SIGKILL", [("pid", "\(pid)")])
                    Process.kill(pid, Signal.kill)
                }
            }
        }
    }

    func handle(_ cmd: String) -> String {
        switch cmd {
        case "ping": return "pong"
        case "reload": return reload()
        case "status":
            var s = "ok applet=init pid=\(Sys.pid) children=\(children.count)"
            for c in children {
                let up = c.pid == nil ? 0 : (loop.now() &- c.startedAt) / 1_000_000_000
                s += "\n\(c.applet.name) pid=\(c.pid.map { "\($0)" } ?? "-") restarts=\(c.restarts) uptime_s=\(up)"
                if !c.lastExit.isEmpty { s += " last_exit=\"\(c.lastExit)\"" }
            }
            return s
        default: return "error: unknown command '\(cmd)' (try status, reload, ping)"
        }
    }
}
