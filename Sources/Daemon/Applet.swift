// What every applet and command shares before any service runs: the
// applet's description (the applet table lists these), exit codes, the
// command-line options every applet understands, and loading the config.

import Config
import Runtime
import Sys

/// One applet of the multi-call binary, as the supervisor and the commands
/// see it. The table in module Applets pairs each with its entry point.
public struct AppletInfo {
    public var name: String
    public var summary: String
    /// Usage text printed by `dnsbox APPLET --help` (after the summary).
    public var usage: String
    /// The config section type that enables this applet under init (nil: never started by init).
    public var section: String?
    /// false: the applet is declared but arrives in a later release; it says
    /// so and exits 69 (EX_UNAVAILABLE) instead of pretending to work.
    public var available: Bool
    /// Hidden from `--list` and `install` (diagnostic applets).
    public var hidden: Bool
    /// Capabilities kept after start-up when running as root (`ServiceHost.dropPrivileges`).
    public var capabilities: [Capability]
    /// Keeps its privileges (init: each child drops to its own).
    public var keepsPrivileges: Bool
    /// Arguments init adds after `-c FILE` to run the applet as a service
    /// (`apictl` without a subcommand is the API's client).
    public var serviceArgs: [String]

    public init(name: String, summary: String, usage: String, section: String?, available: Bool = true,
                hidden: Bool = false, capabilities: [Capability] = [], keepsPrivileges: Bool = false,
                serviceArgs: [String] = []) {
        self.name = name
        self.summary = summary
        self.usage = usage
        self.section = section
        self.available = available
        self.hidden = hidden
        self.capabilities = capabilities
        self.keepsPrivileges = keepsPrivileges
        self.serviceArgs = serviceArgs
    }
}

public enum ExitCode {
    public static let ok: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 2
    /// EX_UNAVAILABLE from sysexits.h: the applet is not in this build yet.
    public static let unavailable: Int32 = 69
    /// EX_TEMPFAIL: a reload asked for a change that only a restart can
    /// make; the supervisor restarts the applet at once (no backoff).
    public static let restart: Int32 = 75
}

/// Command-line options every applet and command understands.
public struct CommonOptions {
    public var configPath: String?
    public var rest: [String] = []
    public var flags: Set<String> = []

    public init() {}

    /// Parses `-c FILE` / `--config FILE` / `--config=FILE` and collects the
    /// flags listed in `allowedFlags`.
    public static func parse(_ args: [String], allowedFlags: Set<String> = []) -> Result<CommonOptions, UsageError> {
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

    public var resolvedConfigPath: String {
        ConfigLoader.resolvePath(explicit: configPath, env: { Sys.getenv($0) })
    }

    public func loadConfig() throws(ConfigError) -> Config {
        try ConfigFile.load(path: resolvedConfigPath)
    }
}

public struct UsageError: Error {
    public var message: String
    public init(message: String) { self.message = message }
}

/// Prints the usage error with the usage line; returns exit code 2.
public func usageFailure(_ e: UsageError, _ usage: String) -> Int32 {
    Console.err("dnsbox: \(e.message)\nUsage: \(usage)\n")
    return ExitCode.usage
}

/// The config file: loading it with the dnsbox schema, and what applies
/// process-wide from its global section.
public enum ConfigFile {
    public static func load(path: String) throws(ConfigError) -> Config {
        try ConfigLoader.load(path: path, schema: Schema.dnsbox,
                              readFile: { p in try? FileSystem.readFile(p) },
                              env: { Sys.getenv($0) })
    }

    /// `rundir` from a config that may not validate (default when
    /// unreadable): `ctl` must reach init even when the file is broken.
    public static func lenientRundir(path: String) -> String {
        let fallback = Schema.dnsbox.section("dnsbox")?.option("rundir")?.defaultValue ?? "/run/dnsbox"
        guard let bytes = try? FileSystem.readFile(path),
              let doc = try? UCIDocument.parse(bytes, file: path) else { return fallback }
        // The same section the applets read: the first `config dnsbox`.
        guard let s = doc.sections.first(where: { $0.type == "dnsbox" }),
              let v = s.option("rundir")?.values.last, !v.isEmpty, !v.hasPrefix("$"), !v.hasPrefix("{") else { return fallback }
        return v
    }

    /// Sets up logging from the global section.
    public static func applyLogging(_ g: GlobalSection, applet: String) {
        Logger.shared.configure(applet: applet, level: LogLevel(name: g.logLevel) ?? .info,
                                format: g.logFormat == "json" ? .json : .text,
                                target: g.logTarget == "syslog" ? .syslog : .stderr)
    }

    /// Where a process keeps its sockets and state cannot move under it:
    /// a reload keeps the running values of `rundir` and `database` (and says so).
    public static func keepRestartOnly(_ next: GlobalSection, running: GlobalSection) -> GlobalSection {
        var g = next
        if g.rundir != running.rundir {
            log.warn("option rundir changed to '\(g.rundir)'; it takes effect after a restart")
            g.rundir = running.rundir
        }
        if g.database != running.database {
            log.warn("option database changed to '\(g.database)'; it takes effect after a restart")
            g.database = running.database
        }
        return g
    }
}

public enum Version {
    public static let string = "0.1.0"
}
