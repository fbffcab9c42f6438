import Testing
@testable import Runtime
import Sys

@Suite struct SocketTests {
    @Test func tcpOverIPv4AndIPv6WithTheEventLoop() throws {
        for ip in ["127.0.0.1", "::1"] {
            let loop = try EventLoop()
            let listener = try Socket.tcpListen(bind: SocketAddress(ip: ip, port: 0)!)
            defer { listener.close() }
            let addr = try listener.localAddress()
            #expect(addr.port != 0 && addr.ipString == ip)
            var server: Socket?
            var received: [UInt8] = []
            try loop.add(fd: listener.fd) { _ in
                while let (conn, peer) = try! listener.accept() {
                    #expect(peer.ipString == ip)
                    server = conn
                    try! loop.add(fd: conn.fd) { _ in
                        var buf = [UInt8](repeating: 0, count: 256)
                        while let (n, _) = try! buf.withUnsafeMutableBytes({ try conn.receive(into: $0) }), n > 0 {
                            received.append(contentsOf: buf[0..<n])
                        }
                    }
                }
            }
            let client = try Socket.unbound(family: addr.family, stream: true)
            defer { client.close() }
            var connected = try client.connect(addr)
            for _ in 0..<50 where !connected {
                loop.runOnce(timeoutMs: 10)
                connected = client.pendingError() == 0
            }
            for _ in 0..<50 where server == nil { loop.runOnce(timeoutMs: 10) }
            #expect(try client.send(Array("hello over tcp".utf8)) == 14)
            for _ in 0..<50 where received.count < 14 { loop.runOnce(timeoutMs: 10) }
            #expect(String(decoding: received, as: UTF8.self) == "hello over tcp")
            if let s = server {
                loop.remove(fd: s.fd)
                s.close()
            }
        }
    }

    @Test func udpOverIPv6() throws {
        let a = try Socket.udp(bind: SocketAddress(ip: "::1", port: 0)!)
        defer { a.close() }
        let b = try Socket.udp(bind: SocketAddress(ip: "::1", port: 0)!)
        defer { b.close() }
        _ = try b.send(Array("six".utf8), to: try a.localAddress())
        var buf = [UInt8](repeating: 0, count: 16)
        var got: (Int, SocketAddress)?
        for _ in 0..<100 where got == nil {
            got = try buf.withUnsafeMutableBytes { try a.receive(into: $0) }
            if got == nil { Sys.sleep(milliseconds: 1) }
        }
        #expect(got?.0 == 3)
        #expect(got?.1 == (try b.localAddress()))
        #expect(got?.1.description.hasPrefix("[::1]:") == true)
    }

    @Test func reusePortLetsTwoWorkersShareAnAddress() throws {
        var o = Socket.Options()
        o.reusePort = true
        let first = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, options: o)
        defer { first.close() }
        let second = try Socket.udp(bind: try first.localAddress(), options: o)
        second.close()
        // Without SO_REUSEPORT the same bind fails with a clear error: a second
        // server on a busy port must not start (and silently steal datagrams).
        #expect(throws: SysError.self) { try Socket.udp(bind: try first.localAddress()) }
        do {
            _ = try Socket.udp(bind: try first.localAddress())
        } catch {
            #expect(error.description.contains("bind 127.0.0.1:"))
            #expect(error.code == 98) // EADDRINUSE
        }
    }

    @Test(.enabled(if: Sys.uid == 0, "SO_BINDTODEVICE needs root"))
    func bindToDevice() throws {
        var o = Socket.Options()
        o.device = "lo"
        let s = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, options: o)
        s.close()
        o.device = "nosuchdev0"
        do {
            _ = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, options: o)
            Issue.record("binding to a missing device must fail")
        } catch {
            #expect(error.description.contains("SO_BINDTODEVICE nosuchdev0"))
        }
    }

    @Test func hostPortParsing() {
        #expect(SocketAddress(hostPort: "127.0.0.1:53")?.description == "127.0.0.1:53")
        #expect(SocketAddress(hostPort: "[::]:5353")?.description == "[::]:5353")
        #expect(SocketAddress(hostPort: "::1", defaultPort: 53)?.description == "[::1]:53")
        #expect(SocketAddress(hostPort: "10.0.0.1", defaultPort: 67)?.port == 67)
        #expect(SocketAddress(hostPort: "10.0.0.1") == nil)
        #expect(SocketAddress(hostPort: "[::1]x") == nil)
        #expect(SocketAddress(hostPort: "300.1.1.1:53") == nil)
        #expect(SocketAddress(hostPort: "1.2.3.4:99999") == nil)
    }

    @Test func lockSerialisesThreads() throws {
        final class Counter { var n = 0 }
        let lock = Lock()
        let c = Counter()
        let threads = try (0..<4).map { _ in
            try Thread { for _ in 0..<10_000 { lock.withLock { c.n += 1 } } }
        }
        for t in threads { t.join() }
        #expect(c.n == 40_000)
    }
}
