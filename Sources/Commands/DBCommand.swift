import Config
import Daemon
import Runtime
import Store
import Sys

/// `dnsbox db …`: look into and edit the state database from a router shell.
public enum DBCommand {
    static let usage = """
    dnsbox db [-c FILE] [-D DBFILE] info | check | list NS | get NS KEY | set NS KEY VALUE | set - | delete NS KEY
      set -   reads "NS KEY VALUE" lines from stdin; each line is committed and
              acknowledged with "ok N" before the next is read
    """

    public static func main(_ args: [String]) -> Int32 {
        var rest = args
        var dbPath: String?
        if let i = rest.firstIndex(of: "-D"), i + 1 < rest.count {
            dbPath = rest[i + 1]
            rest.removeSubrange(i...(i + 1))
        }
        let opts: CommonOptions
        switch CommonOptions.parse(rest) {
        case .success(let o): opts = o
        case .failure(let e): return usageFailure(e, usage)
        }
        if dbPath == nil {
            do throws(ConfigError) {
                dbPath = try opts.loadConfig().global.database
            } catch {
                Console.err("dnsbox: \(error.description)\n")
                return ExitCode.failure
            }
        }
        guard let dbPath, let cmd = opts.rest.first else {
            Console.err("Usage: \(usage)\n")
            return ExitCode.usage
        }
        let a = Array(opts.rest.dropFirst())
        do throws(StoreError) {
            let store = try Store(path: dbPath)
            switch (cmd, a.count) {
            case ("info", 0):
                Console.out("path: \(store.path)\nschema_version: \(store.schemaVersion)\ngeneration: \(try store.generation())\n")
            case ("check", 0):
                let r = try store.db.integrityCheck()
                Console.out(r + "\n")
                return r == "ok" ? ExitCode.ok : ExitCode.failure
            case ("list", 1):
                for (k, v) in try store.list(a[0]) { Console.out("\(k)=\(v)\n") }
            case ("get", 2):
                guard let v = try store.get(a[0], a[1]) else { return ExitCode.failure }
                Console.out(v + "\n")
            case ("set", 3):
                try store.set(a[0], a[1], a[2])
            case ("set", 1) where a[0] == "-":
                return try setFromStdin(store)
            case ("delete", 2):
                return try store.delete(a[0], a[1]) ? ExitCode.ok : ExitCode.failure
            default:
                Console.err("Usage: \(usage)\n")
                return ExitCode.usage
            }
            return ExitCode.ok
        } catch {
            Console.err("dnsbox db: \(error.description)\n")
            return ExitCode.failure
        }
    }

    private static func setFromStdin(_ store: Store) throws(StoreError) -> Int32 {
        var reader = LineReader(fd: 0)
        var n = 0
        while let line = reader.next() {
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            if parts.isEmpty { continue }
            guard parts.count == 3 else {
                Console.err("dnsbox db: line \(n + 1): expected NS KEY VALUE\n")
                return ExitCode.failure
            }
            try store.set(String(parts[0]), String(parts[1]), String(parts[2]))
            n += 1
            Console.out("ok \(n)\n")
        }
        return ExitCode.ok
    }
}

/// Reads lines from a file descriptor without Foundation.
struct LineReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var eof = false

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[0..<nl], as: UTF8.self)
                buffer.removeSubrange(0...nl)
                return line
            }
            if eof {
                if buffer.isEmpty { return nil }
                let line = String(decoding: buffer, as: UTF8.self)
                buffer.removeAll()
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = FileDescriptorIO.read(fd, &chunk)
            if n <= 0 { eof = true } else { buffer.append(contentsOf: chunk[0..<n]) }
        }
    }
}

/// `dnsbox ctl APPLET COMMAND`: talks to a running applet's control socket.
public enum CtlCommand {
    public static func main(_ args: [String]) -> Int32 {
        let usage = "dnsbox ctl [-c FILE] APPLET COMMAND"
        let opts: CommonOptions
        switch CommonOptions.parse(args) {
        case .success(let o): opts = o
        case .failure(let e): return usageFailure(e, usage)
        }
        guard opts.rest.count >= 2 else {
            Console.err("Usage: \(usage)\n")
            return ExitCode.usage
        }
        // Only the run directory is needed, and a broken config is exactly when
        // `ctl init reload` must still reach init to report the error: read
        // `rundir` without validating the rest of the file.
        let rundir = ConfigFile.lenientRundir(path: opts.resolvedConfigPath)
        let path = rundir + "/" + opts.rest[0] + ".sock"
        let command = opts.rest.dropFirst().joined(separator: " ")
        do throws(SysError) {
            let reply = try ControlClient.send(command, to: path)
            Console.out(reply.hasSuffix("\n") ? reply : reply + "\n")
            return reply.hasPrefix("error") ? ExitCode.failure : ExitCode.ok
        } catch {
            Console.err("dnsbox ctl: \(error.description)\n")
            return ExitCode.failure
        }
    }
}
