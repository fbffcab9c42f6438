import Config
import Runtime
import Sys

/// What every long-running applet shares: config loading, logging, the run
/// directory, an event loop with SIGTERM/SIGINT (stop) and SIGHUP (reload),
/// a control socket (`status`, `reload`, `ping`) and privilege dropping.
///
/// Order of use: `start` → applet binds its sockets on `loop` →
/// `dropPrivileges()` → `run()`.
final class ServiceHost {
    let applet: Applet
    let configPath: String
    private(set) var config: Config
    private(set) var settings: Settings
    let loop: EventLoop
    private var control: ControlServer?
    private let startedAt = Sys.monotonicNanos()
    private(set) var reloads = 0
    private var exitCode = ExitCode.ok

    /// Applies a new, already validated config; return an error text to keep the old one.
    var applyConfig: ((Config) -> String?)?
    /// Extra `key=value` pairs for `status`.
    var statusFields: () -> [(String, String)] = { [] }
    /// Applet-specific control commands; nil = unknown command.
    var command: ((String) -> String?)?

    private init(applet: Applet, configPath: String, config: Config, loop: EventLoop) {
        self.applet = applet
        self.configPath = configPath
        self.config = config
        self.settings = Settings(config)
        self.loop = loop
    }

    /// Loads the config and sets up logging, run directory, signals and the
    /// control socket. Prints the reason and returns nil when it cannot.
    static func start(_ applet: Applet, _ args: [String]) -> ServiceHost? {
        let opts: CommonOptions
        switch CommonOptions.parse(args) {
        case .success(let o): opts = o
        case .failure(let e):
            _ = usageFailure(e, applet.usage)
            return nil
        }
        let path = opts.resolvedConfigPath
        let config: Config
        do throws(ConfigError) { config = try Settings.load(path: path) } catch {
            Console.err("\(applet.name): \(error.description)\n")
            return nil
        }
        let settings = Settings(config)
        settings.applyLogging(applet: applet.name)
        do throws(SysError) {
            try FileSystem.makeDirectories(settings.rundir, mode: 0o755)
            let host = ServiceHost(applet: applet, configPath: path, config: config, loop: try EventLoop())
            try host.loop.handleSignals([Signal.term, Signal.int, Signal.hup]) { [unowned(unsafe) host] sig in
                if sig == Signal.hup {
                    log.info("SIGHUP: reloading")
                    _ = host.reload()
                } else {
                    log.info("\(Signal.name(sig)): stopping")
                    host.loop.stop()
                }
            }
            host.control = try ControlServer(path: settings.controlSocketPath(applet.name), loop: host.loop) { [unowned(unsafe) host] cmd in
                host.handle(cmd)
            }
            return host
        } catch {
            log.error("cannot start: \(error.description)")
            return nil
        }
    }

    /// Keeps only the applet's declared capabilities, switching to the
    /// configured user when root. A non-root process still sheds capabilities
    /// it may have got from file capabilities or its container.
    func dropPrivileges() -> Bool {
        var user = settings.user
        if Sys.uid != 0, let u = user {
            log.warn("not running as root; option user '\(u)' ignored")
            user = nil
        }
        do throws(SysError) {
            try Privileges.drop(toUser: user, keep: applet.capabilities)
            return true
        } catch {
            log.error("cannot drop privileges: \(error.description)")
            return false
        }
    }

    /// Re-reads the config. On any error the old config keeps serving.
    func reload() -> String {
        let next: Config
        do throws(ConfigError) { next = try Settings.load(path: configPath) } catch {
            log.error("reload failed, keeping the previous config: \(error.description)")
            return "error: \(error.description)"
        }
        if let apply = applyConfig, let problem = apply(next) {
            log.error("reload rejected, keeping the previous config: \(problem)")
            return "error: \(problem)"
        }
        var nextSettings = Settings(next)
        nextSettings.keepRestartOnly(from: settings)
        config = next
        settings = nextSettings
        settings.applyLogging(applet: applet.name)
        reloads += 1
        log.info("config reloaded", [("reloads", "\(reloads)")])
        return "ok reloaded"
    }

    func handle(_ cmd: String) -> String {
        switch cmd {
        case "ping": return "pong"
        case "reload": return reload()
        case "status":
            let up = (Sys.monotonicNanos() - startedAt) / 1_000_000_000
            var s = "ok applet=\(applet.name) pid=\(Sys.pid) uptime_s=\(up) reloads=\(reloads) config=\(configPath)"
            for (k, v) in statusFields() { s += " \(k)=\(v)" }
            return s
        default:
            if let c = command, let r = c(cmd) { return r }
            return "error: unknown command '\(cmd)' (try status, reload, ping)"
        }
    }

    /// Runs the loop until SIGTERM/SIGINT or `stop`, then cleans up.
    func run() -> Int32 {
        log.info("ready", [("config", configPath)])
        loop.run()
        control?.close()
        log.info("stopped")
        return exitCode
    }

    func stop(exitCode: Int32) {
        self.exitCode = exitCode
        loop.stop()
    }
}

enum IdleApplet {
    static func main(_ args: [String]) -> Int32 {
        guard let applet = Applets.find("idle"), let host = ServiceHost.start(applet, args) else { return ExitCode.failure }
        guard host.dropPrivileges() else { return ExitCode.failure }
        return host.run()
    }
}
