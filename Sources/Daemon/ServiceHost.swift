// What every long-running applet shares: config loading, logging, the run
// directory, one event loop with SIGTERM/SIGINT (stop) and SIGHUP (reload),
// the control socket (`status`, `reload`, `ping` and the service's own
// commands), the store, and privilege dropping. One generic `main` runs
// every applet's `Service` on it, init included.

import Config
import Runtime
import Store
import Sys

public final class ServiceHost {
    public let applet: AppletInfo
    public let configPath: String
    public private(set) var config: Config
    /// The global settings in force: `rundir` and `database` keep their
    /// start-up values across reloads.
    public private(set) var global: GlobalSection
    public let loop: EventLoop
    fileprivate var control: ControlServer?
    private let startedAt = Sys.monotonicNanos()
    public private(set) var reloads = 0
    private var exitCode = ExitCode.ok
    fileprivate var service: (any Service)?
    private var store: StoreHandle?

    private init(applet: AppletInfo, configPath: String, config: Config, loop: EventLoop) {
        self.applet = applet
        self.configPath = configPath
        self.config = config
        self.global = config.global
        self.loop = loop
    }

    /// Loads the config and sets up logging, run directory, signals and the
    /// control socket. Prints the reason and returns nil when it cannot.
    public static func start(_ applet: AppletInfo, _ args: [String]) -> ServiceHost? {
        let opts: CommonOptions
        switch CommonOptions.parse(args) {
        case .success(let o): opts = o
        case .failure(let e):
            _ = usageFailure(e, applet.usage)
            return nil
        }
        let path = opts.resolvedConfigPath
        let config: Config
        do throws(ConfigError) { config = try ConfigFile.load(path: path) } catch {
            Console.err("\(applet.name): \(error.description)\n")
            return nil
        }
        ConfigFile.applyLogging(config.global, applet: applet.name)
        do throws(SysError) {
            try FileSystem.makeDirectories(config.global.rundir, mode: 0o755)
            return ServiceHost(applet: applet, configPath: path, config: config, loop: try EventLoop())
        } catch {
            log.error("cannot start: \(error.description)")
            return nil
        }
    }

    /// The store at `database`, opened on first use with `policy` (see `StoreHandle`).
    public func storeHandle(_ policy: StoreHandle.Policy) -> StoreHandle {
        if let s = store { return s }
        let s = StoreHandle(path: global.database, policy: policy)
        store = s
        return s
    }

    /// Takes the signals and opens the control socket for `service`.
    func attach(_ s: any Service) -> Bool {
        service = s
        do throws(SysError) {
            try loop.handleSignals([Signal.term, Signal.int, Signal.hup] + s.signals) { [unowned(unsafe) self] sig in
                if sig == Signal.hup {
                    log.info("SIGHUP: reloading")
                    _ = self.reload()
                } else if sig == Signal.term || sig == Signal.int {
                    if self.service?.stopRequested(sig) ?? true {
                        log.info("\(Signal.name(sig)): stopping")
                        self.loop.stop()
                    }
                } else {
                    self.service?.signal(sig)
                }
            }
            control = try ControlServer(path: global.controlSocket(applet.name), loop: loop) { [unowned(unsafe) self] cmd in
                self.handle(cmd)
            }
            return true
        } catch {
            log.error("cannot start: \(error.description)")
            return false
        }
    }

    /// Keeps only the applet's declared capabilities, switching to the
    /// configured user when root. A non-root process still sheds capabilities
    /// it may have got from file capabilities or its container.
    func dropPrivileges() -> Bool {
        if applet.keepsPrivileges { return true }
        var user = global.user
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

    /// Re-reads the config and hands it to the service. On any error the
    /// old config keeps serving; a change that needs a restart stops the
    /// loop with `ExitCode.restart`.
    public func reload() -> String {
        let next: Config
        do throws(ConfigError) { next = try ConfigFile.load(path: configPath) } catch {
            log.error("reload failed, keeping the previous config: \(error.description)")
            return "error: \(error.description)"
        }
        switch service?.reconfigure(next) ?? .applied {
        case .rejected(let problem):
            log.error("reload rejected, keeping the previous config: \(problem)")
            return "error: \(problem)"
        case .needsRestart(let why):
            log.warn("\(why): restarting to apply the new config")
            stop(exitCode: ExitCode.restart)
            return "restart: \(why)"
        case .applied:
            break
        }
        global = ConfigFile.keepRestartOnly(next.global, running: global)
        config = next
        ConfigFile.applyLogging(global, applet: applet.name)
        reloads += 1
        log.info("config reloaded", [("reloads", "\(reloads)")])
        return "ok reloaded"
    }

    /// The status answer: the host's fields, then the service's.
    public func statusText() -> String {
        var s = Status()
        s.set(StatusKeys.applet, text: applet.name)
        s.set(StatusKeys.pid, Int(Sys.pid))
        s.set(StatusKeys.uptime, (Sys.monotonicNanos() - startedAt) / 1_000_000_000)
        s.set(StatusKeys.reloads, reloads)
        s.set(StatusKeys.config, text: configPath)
        service?.status(&s)
        return s.text
    }

    func handle(_ cmd: String) -> String {
        switch cmd {
        case "ping": return "pong"
        case "reload": return reload()
        case "status": return statusText()
        default:
            if let r = service?.command(cmd) { return r }
            return "error: unknown command '\(cmd)' (try status, reload, ping)"
        }
    }

    /// Runs the loop until SIGTERM/SIGINT or `stop`, then closes the control socket.
    func run() -> Int32 {
        log.info("ready", [("config", configPath)])
        loop.run()
        control?.close()
        log.info("stopped")
        return exitCode
    }

    /// Ends `run` with `exitCode`.
    public func stop(exitCode: Int32) {
        self.exitCode = exitCode
        loop.stop()
    }
}

public enum Daemon {
    /// The whole life of a long-running applet: host, service, privileges, loop.
    public static func main<S: Service>(_ applet: AppletInfo, _ args: [String], _ make: (ServiceHost) -> S) -> Int32 {
        guard let host = ServiceHost.start(applet, args) else { return ExitCode.failure }
        let code = run(host, make(host))
        // The service (and everything it registered) goes before the loop.
        host.service = nil
        return code
    }

    private static func run<S: Service>(_ host: ServiceHost, _ service: S) -> Int32 {
        guard host.attach(service) else { return ExitCode.failure }
        guard service.start(), host.dropPrivileges() else {
            service.stop()
            host.control?.close()
            return ExitCode.failure
        }
        let code = host.run()
        service.stop()
        return code
    }
}
