import Config
import Daemon
import Sys

/// `dnsbox check-config` and `dnsbox show-config`.
public enum ConfigCommands {
    public static func check(_ args: [String]) -> Int32 {
        let opts: CommonOptions
        switch CommonOptions.parse(args, allowedFlags: ["-q"]) {
        case .success(let o): opts = o
        case .failure(let e): return usageFailure(e, "dnsbox check-config [-q] [-c FILE]")
        }
        let path = opts.resolvedConfigPath
        do throws(ConfigError) {
            let c = try opts.loadConfig()
            if !opts.flags.contains("-q") {
                Console.out("\(path): ok (\(c.document.sections.count) sections)\n")
            }
            return ExitCode.ok
        } catch {
            Console.err("dnsbox: \(error.description)\n")
            return ExitCode.failure
        }
    }

    public static func show(_ args: [String]) -> Int32 {
        let opts: CommonOptions
        switch CommonOptions.parse(args, allowedFlags: ["-d"]) {
        case .success(let o): opts = o
        case .failure(let e): return usageFailure(e, "dnsbox show-config [-d] [-c FILE]")
        }
        do throws(ConfigError) {
            let c = try opts.loadConfig()
            for line in c.showLines(package: "dnsbox", includeDefaults: opts.flags.contains("-d")) {
                Console.out(line + "\n")
            }
            return ExitCode.ok
        } catch {
            Console.err("dnsbox: \(error.description)\n")
            return ExitCode.failure
        }
    }
}

/// `dnsbox install [-f] DIR`: one symlink per applet, pointing at this binary.
public enum InstallCommand {
    /// `applets`: those of the build (the hidden ones get no link).
    public static func main(_ args: [String], applets: [AppletInfo]) -> Int32 {
        var force = false
        var dir: String?
        for a in args {
            if a == "-f" { force = true } else if a.hasPrefix("-") || dir != nil {
                Console.err("Usage: dnsbox install [-f] DIR\n")
                return ExitCode.usage
            } else { dir = a }
        }
        guard let dir else {
            Console.err("Usage: dnsbox install [-f] DIR\n")
            return ExitCode.usage
        }
        let exe = Process.selfExecutable()
        // A link beside the binary stays valid if the directory moves.
        let target = FileSystem.dirname(exe) == dir ? FileSystem.basename(exe) : exe
        do throws(SysError) {
            try FileSystem.makeDirectories(dir)
            for a in applets where !a.hidden {
                let link = dir + "/" + a.name
                switch FileSystem.kind(link) {
                case .absent: break
                case .symlink:
                    if (try? FileSystem.readLink(link)) == target { continue }
                    if !force { throw SysError("\(link) exists and points elsewhere (use -f)", code: 17) }
                    try FileSystem.remove(link)
                default:
                    if !force { throw SysError("\(link) exists (use -f)", code: 17) }
                    try FileSystem.remove(link)
                }
                try FileSystem.symlink(target: target, at: link)
                Console.out("\(link) -> \(target)\n")
            }
            return ExitCode.ok
        } catch {
            Console.err("dnsbox install: \(error.description)\n")
            return ExitCode.failure
        }
    }
}
