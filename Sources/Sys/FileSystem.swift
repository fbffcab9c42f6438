import CShim

/// Files and directories. Every call retries EINTR (in the shim) and fails
/// with a SysError naming the path.
public enum FileSystem {
    public enum Kind: Equatable { case absent, directory, file, symlink, other }

    public static func kind(_ path: String) -> Kind {
        switch dx_path_kind(path) {
        case 1: return .directory
        case 2: return .file
        case 3: return .symlink
        case 4: return .other
        default: return .absent
        }
    }

    public static func exists(_ path: String) -> Bool { kind(path) != .absent }

    public static func readFile(_ path: String, limit: Int = 64 << 20) throws(SysError) -> [UInt8] {
        let fd = dx_open(path, Int32(DX_O_RDONLY | DX_O_CLOEXEC), 0)
        if fd < 0 { throw SysError.last("open \(path)") }
        defer { _ = dx_close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { dx_read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw SysError.last("read \(path)") }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw SysError("read \(path)", code: Int32(DX_ENOMEM)) }
        }
        return out
    }

    public static func readText(_ path: String) throws(SysError) -> String {
        String(decoding: try readFile(path), as: UTF8.self)
    }

    /// Replaces the file atomically: write a temporary beside it, fsync, rename.
    public static func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o644) throws(SysError) {
        let tmp = path + ".tmp.\(Sys.pid)"
        let fd = dx_open(tmp, Int32(DX_O_WRONLY | DX_O_CREAT | DX_O_TRUNC | DX_O_CLOEXEC), mode)
        if fd < 0 { throw SysError.last("open \(tmp)") }
        let rc = bytes.withUnsafeBytes { dx_write_all(fd, $0.baseAddress, $0.count) }
        if rc != 0 || dx_fsync(fd) != 0 {
            let e = SysError.last("write \(tmp)")
            _ = dx_close(fd)
            _ = dx_unlink(tmp)
            throw e
        }
        _ = dx_close(fd)
        if dx_rename(tmp, path) != 0 {
            let e = SysError.last("rename \(tmp)")
            _ = dx_unlink(tmp)
            throw e
        }
    }

    public static func writeText(_ path: String, _ text: String, mode: UInt32 = 0o644) throws(SysError) {
        try writeFileAtomically(path, Array(text.utf8), mode: mode)
    }

    /// Creates the directory and its missing parents with `mode`.
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o755) throws(SysError) {
        if kind(path) == .directory { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += String(part)
            if kind(prefix) != .directory {
                if dx_mkdir(prefix, mode) != 0 && dx_errno() != Int32(DX_EEXIST) {
                    throw SysError.last("mkdir \(prefix)")
                }
            }
            prefix += "/"
        }
    }

    public static func remove(_ path: String) throws(SysError) {
        if dx_unlink(path) != 0 && dx_errno() != Int32(DX_ENOENT) { throw SysError.last("unlink \(path)") }
    }

    public static func rename(_ from: String, _ to: String) throws(SysError) {
        if dx_rename(from, to) != 0 { throw SysError.last("rename \(from)") }
    }

    public static func symlink(target: String, at path: String) throws(SysError) {
        if dx_symlink(target, path) != 0 { throw SysError.last("symlink \(path)") }
    }

    public static func readLink(_ path: String) throws(SysError) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        if dx_readlink(path, &buf, buf.count) < 0 { throw SysError.last("readlink \(path)") }
        return Sys.string(cString: buf)
    }

    public static func chmod(_ path: String, _ mode: UInt32) throws(SysError) {
        if dx_chmod(path, mode) != 0 { throw SysError.last("chmod \(path)") }
    }

    public static func chown(_ path: String, uid: UInt32, gid: UInt32) throws(SysError) {
        if dx_chown(path, uid, gid) != 0 { throw SysError.last("chown \(path)") }
    }

    public static func isWritable(_ path: String) -> Bool { dx_access(path, 2) == 0 }

    /// The directory part of a path ("/a/b" → "/a", "b" → ".").
    public static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[path.startIndex..<slash])
    }

    /// The last component of a path ("/usr/sbin/dnsd" → "dnsd").
    public static func basename(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return String(p) }
        return String(p[p.index(after: slash)...])
    }
}

/// Raw reads and writes on a descriptor (EINTR retried in the shim).
public enum FileDescriptorIO {
    /// Reads into `buf`; returns the byte count, 0 at EOF, -1 on error.
    public static func read(_ fd: Int32, _ buf: inout [UInt8]) -> Int {
        buf.withUnsafeMutableBytes { dx_read(fd, $0.baseAddress, $0.count) }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { dx_write_all(fd, $0.baseAddress, $0.count) } == 0
    }

    public static func close(_ fd: Int32) { _ = dx_close(fd) }

    /// dup2: makes `target` refer to what `fd` refers to (closing `target` first).
    public static func duplicate(_ fd: Int32, onto target: Int32) -> Bool { dx_dup2(fd, target) == target }
}
