import CShim
import Sys

/// An applet's control socket: a unix datagram socket at
/// `<rundir>/<applet>.sock` taking one-line commands (`reload`, `status`, …)
/// and answering the sender with one datagram.
public final class ControlServer {
    public let path: String
    private let fd: Int32
    private unowned(unsafe) let loop: EventLoop
    private var buffer = [UInt8](repeating: 0, count: 4096)

    /// `handler` maps a command to its reply text; it runs on the loop thread.
    /// Fails with EADDRINUSE when a live process already answers at `path`
    /// (a second instance must not steal the first one's socket); a stale
    /// socket left by a dead process is replaced.
    public init(path: String, loop: EventLoop, handler: @escaping (String) -> String) throws(SysError) {
        if FileSystem.kind(path) == .other, (try? ControlClient.send("ping", to: path, timeoutMs: 300)) != nil {
            throw SysError("control socket \(path) answers: another instance is running", code: Int32(DX_EADDRINUSE))
        }
        let fd = dx_unix_dgram_bind(path)
        if fd < 0 { throw SysError.last("control socket \(path)") }
        _ = dx_chmod(path, 0o660)
        self.path = path
        self.fd = fd
        self.loop = loop
        try loop.add(fd: fd) { [unowned(unsafe) self] _ in self.drain(handler) }
    }

    private func drain(_ handler: (String) -> String) {
        var peer = dx_unix_peer()
        while true {
            let n = buffer.withUnsafeMutableBytes { dx_unix_recv(fd, $0.baseAddress, $0.count, &peer) }
            if n < 0 { return }
            var cmd = String(decoding: buffer[0..<n], as: UTF8.self)
            while let last = cmd.last, last == "\n" || last == " " || last == "\r" { cmd.removeLast() }
            let reply = handler(cmd)
            var r = reply
            r.withUTF8 { b in _ = dx_unix_reply(fd, &peer, b.baseAddress, b.count) }
        }
    }

    public func close() {
        loop.remove(fd: fd)
        _ = dx_close(fd)
        _ = dx_unlink(path)
    }
}

public enum ControlClient {
    /// Sends `command` to the control socket at `path` and waits for the reply.
    public static func send(_ command: String, to path: String, timeoutMs: Int = 3000) throws(SysError) -> String {
        let fd = dx_unix_dgram_client()
        if fd < 0 { throw SysError.last("control client socket") }
        defer { _ = dx_close(fd) }
        var c = command
        let sent = c.withUTF8 { b in dx_unix_sendto(fd, path, b.baseAddress, b.count) }
        if sent < 0 { throw SysError.last("send to \(path)") }
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Sys.monotonicNanos() + UInt64(timeoutMs) * 1_000_000
        while true {
            let n = buf.withUnsafeMutableBytes { dx_unix_recv(fd, $0.baseAddress, $0.count, nil) }
            if n >= 0 { return String(decoding: buf[0..<n], as: UTF8.self) }
            if dx_errno() != Int32(DX_EAGAIN) { throw SysError.last("receive from \(path)") }
            let now = Sys.monotonicNanos()
            if now >= deadline { throw SysError("no reply from \(path)", code: Int32(DX_ETIMEDOUT)) }
            _ = dx_wait_fd(fd, 1, Int32((deadline - now) / 1_000_000 + 1))
        }
    }
}

/// A control-socket client that does not wait: it sends commands from an
/// event loop and hands each reply to `onReply` when it arrives (the API
/// pokes dnsd this way and holds its responses until dnsd says it has
/// rebuilt, without stopping its loop).
public final class ControlPoker {
    let fd: Int32
    unowned(unsafe) let loop: EventLoop
    public var onReply: (String) -> Void = { _ in }
    private var buf = [UInt8](repeating: 0, count: 4096)

    public init(loop: EventLoop) throws(SysError) {
        fd = dx_unix_dgram_client()
        if fd < 0 { throw SysError.last("control client socket") }
        self.loop = loop
        do throws(SysError) {
            try loop.add(fd: fd) { [unowned(unsafe) self] _ in self.drain() }
        } catch {
            _ = dx_close(fd)
            throw error
        }
    }

    deinit {
        loop.remove(fd: fd)
        _ = dx_close(fd)
    }

    /// Sends `command` to the socket at `path`; false when it cannot be
    /// delivered (no such applet running, or its queue is full).
    public func send(_ command: String, to path: String) -> Bool {
        var c = command
        return c.withUTF8 { b in dx_unix_sendto(fd, path, b.baseAddress, b.count) } >= 0
    }

    private func drain() {
        while true {
            let n = buf.withUnsafeMutableBytes { dx_unix_recv(fd, $0.baseAddress, $0.count, nil) }
            if n < 0 { return }
            onReply(String(decoding: buf[0..<n], as: UTF8.self))
        }
    }
}
