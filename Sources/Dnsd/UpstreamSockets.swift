// The sockets and timers behind one thread's forwarding engine: each
// upstream attempt on its own socket (a connected UDP socket on a fresh,
// kernel-chosen port, or a TCP connection after TC=1), with its timeout.
// The decisions are the engine's (Resolver.ForwardEngine); this only
// carries them out and reports what happened.

import DNS
import Resolver
import Runtime
import Sys

final class UpstreamSockets: ForwardIO {
    final class Attempt {
        let socket: Socket
        let tcp: Bool
        var timer: EventLoop.TimerID?
        /// TCP: the framed query still to send, and the reply so far.
        var out: [UInt8] = []
        var sent = 0
        var input: [UInt8] = []
        init(socket: Socket, tcp: Bool) {
            self.socket = socket
            self.tcp = tcp
        }
    }

    /// Held strongly: deinit closes what is still registered with it.
    let loop: EventLoop
    private(set) var engine: ForwardEngine<UpstreamSockets>!
    private var attempts: [UInt64: Attempt] = [:]
    private var buffer = [UInt8](repeating: 0, count: 65535)
    /// Sends a response to a client (set by the owner: a UDP worker or the TCP server).
    var onAnswer: (ForwardClient, UnsafeRawBufferPointer) -> Void = { _, _ in }

    init(loop: EventLoop, frontend: Frontend, local: ResolverLocal) {
        self.loop = loop
        engine = ForwardEngine(io: self, frontend: frontend, local: local)
    }

    deinit { cancelAll() }

    func cancelAll() {
        engine.cancelAll()
        for (id, _) in attempts { close(id) }
    }

    // MARK: ForwardIO

    func send(_ id: UInt64, to server: SocketAddress, query: [UInt8], tcp: Bool, timeoutMs: UInt64) -> ForwardSend {
        let sock: Socket
        do throws(SysError) { sock = try Socket.unbound(family: server.family, stream: tcp) } catch { return .noSocket }
        let a = Attempt(socket: sock, tcp: tcp)
        do throws(SysError) {
            _ = try sock.connect(server)
            if tcp {
                a.out = TCPFraming.framed(query)
                try loop.add(fd: sock.fd, events: EventLoop.readable | EventLoop.writable | EventLoop.hangup) {
                    [unowned(unsafe) self] ev in self.onTCP(id, a, ev)
                }
            } else {
                _ = try sock.send(query)
                try loop.add(fd: sock.fd) { [unowned(unsafe) self] _ in self.onUDP(id, a) }
            }
        } catch {
            sock.close()
            return .refused
        }
        attempts[id] = a
        a.timer = loop.schedule(after: timeoutMs) { [unowned(unsafe) self] in
            a.timer = nil
            self.engine.timedOut(id, now: self.loop.now())
        }
        return .sent
    }

    func close(_ id: UInt64) {
        guard let a = attempts.removeValue(forKey: id) else { return }
        if let t = a.timer { loop.cancel(t) }
        loop.remove(fd: a.socket.fd)
        a.socket.close()
    }

    func deliver(_ client: ForwardClient, _ response: UnsafeRawBufferPointer) { onAnswer(client, response) }

    // MARK: events

    private func onUDP(_ id: UInt64, _ a: Attempt) {
        while attempts[id] === a {
            let got: (Int, SocketAddress)?
            do throws(SysError) { got = try a.socket.receive(into: &buffer) } catch {
                // ECONNREFUSED and the like: this server is not there.
                return engine.failed(id, hard: true, now: loop.now())
            }
            guard let (n, _) = got else { return }
            let taken = buffer.withUnsafeBytes { engine.received(id, UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: loop.now()) }
            // Anything that does not answer the question is ignored (a stray or a spoofing attempt).
            if taken { return }
        }
    }

    private func onTCP(_ id: UInt64, _ a: Attempt, _ events: UInt32) {
        guard attempts[id] === a else { return }
        if events & EventLoop.writable != 0 && a.sent < a.out.count {
            if a.socket.pendingError() != 0 { return engine.failed(id, hard: false, now: loop.now()) }
            do throws(SysError) { a.sent += try a.socket.send(a.out, from: a.sent) } catch {
                if !error.wouldBlock { return engine.failed(id, hard: false, now: loop.now()) }
            }
            if a.sent == a.out.count { try? loop.modify(fd: a.socket.fd, events: EventLoop.readable | EventLoop.hangup) }
        }
        guard events & (EventLoop.readable | EventLoop.hangup) != 0 else { return }
        while true {
            let got: (Int, SocketAddress)?
            do throws(SysError) { got = try a.socket.receive(into: &buffer) } catch {
                return engine.failed(id, hard: false, now: loop.now())
            }
            guard let (n, _) = got else { return }
            if n == 0 { return engine.failed(id, hard: false, now: loop.now()) }
            a.input.append(contentsOf: buffer[0..<n])
            guard let range = TCPFraming.message(in: a.input, from: 0) else { continue }
            let ok = a.input.withUnsafeBytes { engine.received(id, UnsafeRawBufferPointer(rebasing: $0[range]), now: loop.now()) }
            if !ok { engine.failed(id, hard: false, now: loop.now()) }
            return
        }
    }
}
