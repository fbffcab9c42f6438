import CShim

/// Child processes: spawn, wait, signal. Used by init and by tests.
public enum Process {
    public struct Exit: Equatable {
        public var pid: Int32
        /// Exit status, or 128+signal when killed by a signal.
        public var code: Int32
        public var signaled: Bool
    }

    /// fork + execv with a clean signal mask. `argv[0]` selects the applet.
    public static func spawn(path: String, argv: [String], deathSignal: Int32 = 0) throws(SysError) -> Int32 {
        // Build a NULL-terminated char* array; strings live until after fork+exec.
        var cStrings: [UnsafeMutablePointer<CChar>?] = []
        cStrings.reserveCapacity(argv.count + 1)
        for a in argv { cStrings.append(duplicate(a)) }
        cStrings.append(nil)
        defer { for p in cStrings { p?.deallocate() } }
        let pid = cStrings.withUnsafeBufferPointer { buf in dx_spawn(path, buf.baseAddress, deathSignal) }
        if pid < 0 { throw SysError.last("fork \(path)") }
        return pid
    }

    private static func duplicate(_ s: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(s.utf8)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        return p
    }

    /// Reaps one exited child (any child when pid is nil). Returns nil when
    /// none is ready (nohang) or there are no children.
    public static func wait(pid: Int32? = nil, nohang: Bool = true) -> Exit? {
        var code: Int32 = 0
        var sig: Int32 = 0
        let r = dx_wait(pid ?? -1, nohang ? 1 : 0, &code, &sig)
        if r <= 0 { return nil }
        return Exit(pid: r, code: code, signaled: sig != 0)
    }

    @discardableResult
    public static func kill(_ pid: Int32, _ signal: Int32) -> Bool { dx_kill(pid, signal) == 0 }

    public static func isAlive(_ pid: Int32) -> Bool { dx_kill(pid, 0) == 0 }

    /// Orphaned descendants are re-parented to this process (init's job).
    public static func becomeSubreaper() { _ = dx_set_subreaper() }

    public static func setParentDeathSignal(_ sig: Int32) { _ = dx_set_parent_death_signal(sig) }

    /// The path of the running executable (for re-exec of applets). After an
    /// in-place upgrade (the file replaced by rename) the kernel reports
    /// "PATH (deleted)": the new binary at PATH is the one to run.
    public static func selfExecutable() -> String {
        guard var path = try? FileSystem.readLink("/proc/self/exe") else { return "/proc/self/exe" }
        let suffix = " (deleted)"
        if path.hasSuffix(suffix) { path.removeLast(suffix.count) }
        return path
    }
}

public enum Signal {
    public static let hup = Int32(DX_SIGHUP)
    public static let int = Int32(DX_SIGINT)
    public static let quit = Int32(DX_SIGQUIT)
    public static let kill = Int32(DX_SIGKILL)
    public static let usr1 = Int32(DX_SIGUSR1)
    public static let usr2 = Int32(DX_SIGUSR2)
    public static let pipe = Int32(DX_SIGPIPE)
    public static let term = Int32(DX_SIGTERM)
    public static let chld = Int32(DX_SIGCHLD)

    public static func ignore(_ sig: Int32) { _ = dx_signal_ignore(sig) }

    public static func name(_ sig: Int32) -> String {
        switch sig {
        case hup: return "SIGHUP"
        case int: return "SIGINT"
        case quit: return "SIGQUIT"
        case kill: return "SIGKILL"
        case usr1: return "SIGUSR1"
        case usr2: return "SIGUSR2"
        case pipe: return "SIGPIPE"
        case term: return "SIGTERM"
        case chld: return "SIGCHLD"
        default: return "signal \(sig)"
        }
    }
}
