import CShim

/// A failed system call: the operation that failed and its errno.
public struct SysError: Error, Equatable, CustomStringConvertible {
    public var op: String
    public var code: Int32

    public init(_ op: String, code: Int32) {
        self.op = op
        self.code = code
    }

    /// Captures errno right after a failed call.
    public static func last(_ op: String) -> SysError { SysError(op, code: dx_errno()) }

    public var message: String { Sys.strerror(code) }
    /// EAGAIN: a non-blocking call would have blocked.
    public var wouldBlock: Bool { code == Int32(DX_EAGAIN) }
    /// EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or memory; trying
    /// again at once fails again.
    public var isExhaustion: Bool { code == 24 || code == 23 || code == Int32(DX_ENOBUFS) || code == Int32(DX_ENOMEM) }
    public var description: String { "\(op): \(message)" }
}

public enum Sys {
    public static func strerror(_ code: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 128)
        dx_strerror(code, &buf, buf.count)
        return Sys.string(cString: buf)
    }

    /// Decodes a NUL-terminated C buffer as UTF-8 (invalid bytes repaired).
    public static func string(cString buf: [CChar]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(buf.count)
        for c in buf {
            if c == 0 { break }
            bytes.append(UInt8(bitPattern: c))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func string(cString p: UnsafePointer<CChar>) -> String {
        String(cString: p)
    }

    public static var pid: Int32 { dx_getpid() }
    public static var parentPid: Int32 { dx_getppid() }
    public static var uid: UInt32 { dx_getuid() }
    /// CPUs this process may run on (its affinity mask), at least 1.
    public static var processorCount: Int { Int(dx_nprocs()) }

    /// Returns freed heap memory to the system (after building a large
    /// structure whose temporaries are gone).
    public static func releaseFreeMemory() { dx_malloc_trim() }

    /// Nanoseconds on the monotonic clock (never jumps; for timers).
    public static func monotonicNanos() -> UInt64 { dx_monotonic_ns() }
    /// Nanoseconds since the Unix epoch (wall clock; for logs and leases).
    public static func realtimeNanos() -> Int64 { dx_realtime_ns() }
    public static func sleep(milliseconds: UInt32) { dx_sleep_ms(milliseconds) }

    public static func getenv(_ name: String) -> String? {
        guard let p = dx_getenv(name) else { return nil }
        return String(cString: p)
    }

    public static func setenv(_ name: String, _ value: String?) {
        if let value { _ = dx_setenv(name, value) } else { _ = dx_unsetenv(name) }
    }

    /// Exits immediately without running atexit handlers (children after fork).
    public static func exitNow(_ code: Int32) -> Never {
        dx_exit_now(code)
        while true {}
    }

    /// Exits normally (stdio flushed).
    public static func exit(_ code: Int32) -> Never {
        dx_exit(code)
        while true {}
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        _ = out.withUnsafeMutableBytes { dx_random($0.baseAddress, $0.count) }
        return out
    }

    public static func random64() -> UInt64 {
        var v: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &v) { dx_random($0.baseAddress, 8) }
        return v
    }
}

/// Writes to standard output and standard error without Foundation.
public enum Console {
    public static func out(_ s: String) { write(1, s) }
    public static func err(_ s: String) { write(2, s) }

    public static func write(_ fd: Int32, _ s: String) {
        var s = s
        s.withUTF8 { buf in _ = dx_write_all(fd, buf.baseAddress, buf.count) }
    }
}
