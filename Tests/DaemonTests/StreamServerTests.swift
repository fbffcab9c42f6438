// The shared stream server with a tiny line protocol on loopback: each
// "\n"-terminated line is answered in upper case; a line "LATER" is
// answered only when the test says so (an answer owed, as a forwarded DNS
// query or an API write waiting for its commit).

@testable import Daemon
import Foundation
import Runtime
import Sys
import Testing

final class Lines: StreamHandler {
    typealias State = Int
    var server: StreamServer<Lines>!
    var owed: [UInt64] = []
    var closedCount = 0
    var expiredCount = 0

    func accepted(peer: SocketAddress) -> Int { 0 }
    func refusalMessage() -> [UInt8] { Array("BUSY\n".utf8) }
    func received(_ c: StreamConnection<Int>) {
        while let nl = c.input.firstIndex(of: 0x0A) {
            let line = String(decoding: c.input[0..<nl], as: UTF8.self)
            c.consume(nl + 1)
            if line == "LATER" {
                owed.append(c.id)
                c.busy = true
            } else {
                c.queue(Array((line.uppercased() + "\n").utf8))
            }
        }
    }
    func expired(_ c: StreamConnection<Int>) { expiredCount += 1; c.queue(Array("BYE\n".utf8)) }
    func closed(_ c: StreamConnection<Int>) { closedCount += 1 }

    func answerOwed() {
        for id in owed {
            guard let c = server.connection(id) else { continue }
            c.busy = false
            c.queue(Array("DONE\n".utf8))
            server.flush(c)
        }
        owed.removeAll()
    }
}

@Suite(.serialized) struct StreamServerTests {
    let loop: EventLoop
    let handler = Lines()
    let port: UInt16
    let listener: Socket

    init() throws {
        loop = try EventLoop()
        listener = try Socket.tcpListen(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        port = try listener.localAddress().port
        handler.server = StreamServer(loop: loop, limits: StreamLimits(maxConnections: 2, maxInput: 1024, maxOutput: 4096,
                                                                       idleTimeoutMs: 300), handler: handler)
        try handler.server.listen(listener)
    }

    /// A blocking client socket connected to the server.
    func connect() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(r == 0)
        var tv = timeval(tv_sec: 0, tv_usec: 20_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    func write(_ fd: Int32, _ s: String) { _ = s.withCString { Foundation.write(fd, $0, strlen($0)) } }

    /// Runs the loop until `fd` has sent `want` bytes or EOF, or 2 s pass.
    func read(_ fd: Int32, until want: String? = nil) -> (String, eof: Bool) {
        var got = [UInt8]()
        let deadline = Date().addingTimeInterval(2)
        var buf = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            loop.runOnce(timeoutMs: 10)
            let n = Foundation.read(fd, &buf, buf.count)
            if n == 0 { return (String(decoding: got, as: UTF8.self), true) }
            if n > 0 { got += buf[0..<n] }
            if let w = want, String(decoding: got, as: UTF8.self).hasSuffix(w) { break }
        }
        return (String(decoding: got, as: UTF8.self), false)
    }

    @Test func answersPipelinedLinesInOrder() throws {
        let fd = try connect()
        defer { close(fd) }
        write(fd, "a\nb\nc\n")
        #expect(read(fd, until: "C\n").0 == "A\nB\nC\n")
    }

    @Test func aHalfClosedPeerStillGetsWhatItIsOwedThenTheConnectionCloses() throws {
        let fd = try connect()
        defer { close(fd) }
        write(fd, "x\nLATER\n")
        shutdown(fd, Int32(SHUT_WR))
        #expect(read(fd, until: "X\n").0 == "X\n")
        #expect(handler.server.count == 1)
        handler.answerOwed()
        let (rest, eof) = read(fd)
        #expect(rest == "DONE\n" && eof)
        #expect(handler.server.count == 0 && handler.closedCount == 1)
    }

    @Test func connectionsOverTheCapGetTheRefusalWhenNoneIsIdle() throws {
        let a = try connect(), b = try connect()
        defer { close(a); close(b) }
        write(a, "LATER\n"); write(b, "LATER\n")   // both owe an answer: none may go
        for _ in 0..<10 { loop.runOnce(timeoutMs: 5) }
        let c = try connect()
        defer { close(c) }
        let (text, eof) = read(c)
        #expect(text == "BUSY\n" && eof)
        #expect(handler.server.count == 2)
        handler.answerOwed()
    }

    @Test func whenFullTheLongestIdleConnectionMakesRoom() throws {
        handler.server.limits.evictIdleWhenFull = true
        let a = try connect()
        defer { close(a) }
        write(a, "1\n")
        _ = read(a, until: "1\n")
        for _ in 0..<4 { loop.runOnce(timeoutMs: 5) }
        let b = try connect()
        defer { close(b) }
        write(b, "2\n")
        _ = read(b, until: "2\n")
        let c = try connect()
        defer { close(c) }
        write(c, "3\n")
        #expect(read(c, until: "3\n").0 == "3\n")
        #expect(read(a).1)   // a, idle the longest, was closed for c
        #expect(handler.server.count == 2 && handler.server.evictedIdle == 1)
        write(b, "4\n")
        #expect(read(b, until: "4\n").0 == "4\n")
    }

    @Test func idleConnectionsExpireWithALastWordButOwedOnesDoNot() throws {
        let idle = try connect(), owing = try connect()
        defer { close(idle); close(owing) }
        write(owing, "LATER\n")
        write(idle, "q\n")
        _ = read(idle, until: "Q\n")
        Thread.sleep(forTimeInterval: 0.6)
        let (text, eof) = read(idle)
        #expect(text == "BYE\n" && eof)
        #expect(handler.server.count == 1, "the connection with an answer owed stays")
        handler.answerOwed()
        #expect(read(owing, until: "DONE\n").0 == "DONE\n")
    }

    @Test func aClientThatDoesNotReadIsNotReadFurther() throws {
        let fd = try connect()
        defer { close(fd) }
        var big = ""
        for _ in 0..<2000 { big += "abcdefghijklmnopqrstuvwxyz0123456789\n" }
        // Far more than maxOutput of answers: the server stops reading once
        // its queue is full, and its memory stays bounded.
        for _ in 0..<20 { write(fd, big) }
        for _ in 0..<50 { loop.runOnce(timeoutMs: 5) }
        let c = try #require(handler.server.connection(1))
        #expect(c.input.count <= 1024)
        #expect(c.pendingOutput < 4096 + 1024)
    }
}
