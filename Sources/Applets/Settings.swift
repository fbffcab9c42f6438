import Config
import Runtime
import Sys

/// Command-line options every applet and command understands, and the
/// config loaded from them.
struct CommonOptions {
    var configPath: String?
    var rest: [String] = []
    var flags: Set<String> = []

    /// Parses `-c FILE` / `--config FILE` / `--config=FILE` and collects the
    /// single-letter flags listed in `allowedFlags`. Returns an error text on bad usage.
    static func parse(_ args: [String], allowedFlags: Set<String> = []) -> Result<CommonOptions, UsageError> {
        var o = CommonOptions()
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "-c" || a == "--config" {
                guard i + 1 < args.count else { return .failure(UsageError(message: "option \(a) needs a FILE")) }
                o.configPath = args[i + 1]
                i += 2
                continue
            }
            if a.hasPrefix("--config=") {
                o.configPath = String(a.dropFirst(9))
            } else if allowedFlags.contains(a) {
                o.flags.insert(a)
            } else if a.hasPrefix("-") && a.count > 1 && o.rest.isEmpty {
                return .failure(UsageError(message: "unknown option '\(a)'"))
            } else {
                o.rest.append(a)
            }
            i += 1
        }
        return .success(o)
    }

    var resolvedConfigPath: String {
        ConfigLoader.resolvePath(explicit: configPath, env: { Sys.getenv($0) })
    }

    func loadConfig() throws(ConfigError) -> Config {
        try Settings.load(path: resolvedConfigPath)
    }
}

struct UsageError: Error { var message: String }

/// The global `config dnsbox` settings, with defaults applied.
struct Settings {
    var database: String
    var rundir: String
    var logLevel: LogLevel
    var logFormat: Logger.Format
    var logTarget: Logger.Target
    var user: String?

    init(_ c: Config) {
        database = c.string("dnsbox", nil, "database") ?? "/var/lib/dnsbox/dnsbox.db"
        rundir = c.string("dnsbox", nil, "rundir") ?? "/run/dnsbox"
        logLevel = LogLevel(name: c.string("dnsbox", nil, "log_level") ?? "info") ?? .info
        logFormat = c.string("dnsbox", nil, "log_format") == "json" ? .json : .text
        logTarget = c.string("dnsbox", nil, "log_target") == "syslog" ? .syslog : .stderr
        let u = c.string("dnsbox", nil, "user")
        user = (u?.isEmpty ?? true) ? nil : u
    }

    static func load(path: String) throws(ConfigError) -> Config {
        try ConfigLoader.load(path: path, schema: Schema.dnsbox,
                              readFile: { p in try? FileSystem.readFile(p) },
                              env: { Sys.getenv($0) })
    }

    /// Where a process keeps its sockets and state cannot move under it: a
    /// reload keeps the running values of `rundir` and `database` (and says so).
    mutating func keepRestartOnly(from running: Settings) {
        if rundir != running.rundir {
            log.warn("option rundir changed to '\(rundir)'; it takes effect after a restart")
            rundir = running.rundir
        }
        if database != running.database {
            log.warn("option database changed to '\(database)'; it takes effect after a restart")
            database = running.database
        }
    }

    /// `rundir` from a config that may not validate (default when unreadable).
    static func lenientRundir(path: String) -> String {
        let fallback = "/run/dnsbox"
        guard let bytes = try? FileSystem.readFile(path),
              let doc = try? UCIDocument.parse(bytes, file: path) else { return fallback }
        // The same section the applets read: the first `config dnsbox`.
        guard let s = doc.sections.first(where: { $0.type == "dnsbox" }),
              let v = s.option("rundir")?.values.last, !v.isEmpty, !v.hasPrefix("$"), !v.hasPrefix("{") else { return fallback }
        return v
    }

    func applyLogging(applet: String) {
        Logger.shared.configure(applet: applet, level: logLevel, format: logFormat, target: logTarget)
    }

    func controlSocketPath(_ applet: String) -> String { rundir + "/" + applet + ".sock" }
}

/// Prints the usage error with the applet's usage line; returns exit code 2.
func usageFailure(_ e: UsageError, _ usage: String) -> Int32 {
    Console.err("dnsbox: \(e.message)\nUsage: \(usage)\n")
    return ExitCode.usage
}
