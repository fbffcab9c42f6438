import Commands
import Config
import Daemon
import Sys

/// The multi-call entry point. `argv[0]`'s basename picks the applet
/// (`/usr/sbin/dnsd` → dnsd); otherwise the first argument does
/// (`dnsbox dnsd …`), or it is one of the binary's own commands.
public func dnsboxMain(_ argv: [String]) -> Int32 {
    Signal.ignore(Signal.pipe)
    let invokedAs = FileSystem.basename(argv.first ?? "dnsbox")
    if let applet = Applets.find(invokedAs) {
        return runApplet(applet, Array(argv.dropFirst()))
    }
    var args = Array(argv.dropFirst())
    guard let first = args.first else {
        Console.err(listing())
        return ExitCode.usage
    }
    args.removeFirst()
    switch first {
    case "-h", "--help", "help":
        if let name = args.first {
            guard let applet = Applets.find(name) else { return unknownApplet(name) }
            Console.out(appletHelp(applet))
            return ExitCode.ok
        }
        Console.out(listing())
        return ExitCode.ok
    case "-l", "--list":
        for a in Applets.table where !a.hidden { Console.out(a.name + "\n") }
        return ExitCode.ok
    case "-V", "--version", "version":
        Console.out("dnsbox \(Applets.version) (\(Applets.buildDescription))\n")
        return ExitCode.ok
    case "install": return InstallCommand.main(args, applets: Applets.infos)
    case "check-config": return ConfigCommands.check(args)
    case "show-config": return ConfigCommands.show(args)
    case "db": return DBCommand.main(args)
    case "ctl": return CtlCommand.main(args)
    case "ifaces": return IfacesCommand.main(args)
    default:
        guard let applet = Applets.find(first) else { return unknownApplet(first) }
        return runApplet(applet, args)
    }
}

func runApplet(_ applet: Applet, _ args: [String]) -> Int32 {
    if args.first == "--help" || args.first == "-h" {
        Console.out(appletHelp(applet))
        return ExitCode.ok
    }
    return applet.run(args)
}

func unknownApplet(_ name: String) -> Int32 {
    Console.err("dnsbox: unknown applet or command '\(name)'\n\n" + listing())
    return ExitCode.usage
}

func appletHelp(_ a: Applet) -> String {
    var s = "Usage: \(a.usage)\n\n\(a.name): \(a.summary)\n"
    if !a.available { s += "\nNot yet available in this build: it arrives in a later release.\n" }
    s += "\nCommon options:\n  -c FILE   config file (default \(ConfigLoader.defaultPath), or $\(ConfigLoader.environmentVariable))\n  -h        this help\n"
    return s
}

func listing() -> String {
    var s = """
    dnsbox \(Applets.version): the DNS side of a router in one binary.

    Usage: dnsbox APPLET [ARGS...]   or   APPLET [ARGS...] via a symlink named APPLET
           dnsbox COMMAND [ARGS...]

    Applets:

    """
    var width = 0
    for a in Applets.table where !a.hidden { width = max(width, a.name.count) }
    for a in Applets.table where !a.hidden {
        s += "  " + pad(a.name, width) + "  " + a.summary + (a.available ? "" : " (not yet available)") + "\n"
    }
    s += """

    Commands:
      check-config [-c FILE]        validate the config; exit 1 with file:line:column on errors
      show-config [-c FILE] [-d]    print the effective config in `uci show` form (-d: with defaults)
      install [-f] DIR              create the applet symlinks in DIR
      db [-c FILE] SUBCOMMAND       inspect the state database (info, check, get, set, list, delete)
      ctl [-c FILE] APPLET COMMAND  send a command (status, reload, ping; dnsd: poke) to a running applet
      ifaces [list|add|del|watch]   interfaces and addresses through rtnetlink (add IF A/P [LABEL])
      --list | --help [APPLET] | --version

    """
    return s
}

func pad(_ s: String, _ width: Int) -> String {
    var s = s
    while s.count < width { s += " " }
    return s
}

/// Exits with stdio flushed (for the host entry point).
public func exitProcess(_ code: Int32) -> Never { Sys.exit(code) }
