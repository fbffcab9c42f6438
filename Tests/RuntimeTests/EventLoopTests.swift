import Testing
@testable import Runtime
import Sys

@Suite struct EventLoopTimerTests {
    @Test func oneShotFiresOnceWhenDue() throws {
        let clock = ManualClock()
        let loop = try EventLoop(clock: clock.read)
        var fired = 0
        loop.schedule(after: 100) { fired += 1 }
        #expect(loop.fireDueTimers() == 0)
        clock.advance(milliseconds: 99)
        #expect(loop.fireDueTimers() == 0)
        clock.advance(milliseconds: 1)
        #expect(loop.fireDueTimers() == 1)
        clock.advance(milliseconds: 1000)
        #expect(loop.fireDueTimers() == 0)
        #expect(fired == 1)
        #expect(loop.pendingTimers == 0)
    }

    @Test func timersFireInDeadlineOrderThenInsertionOrder() throws {
        let clock = ManualClock()
        let loop = try EventLoop(clock: clock.read)
        var order: [String] = []
        loop.schedule(after: 30) { order.append("c") }
        loop.schedule(after: 10) { order.append("a") }
        loop.schedule(after: 20) { order.append("b1") }
        loop.schedule(after: 20) { order.append("b2") }
        clock.advance(milliseconds: 50)
        loop.fireDueTimers()
        #expect(order == ["a", "b1", "b2", "c"])
    }

    @Test func repeatingTimerSkipsMissedPeriodsAndCancels() throws {
        let clock = ManualClock()
        let loop = try EventLoop(clock: clock.read)
        var fired = 0
        let id = loop.schedule(after: 10, repeating: true) { fired += 1 }
        clock.advance(milliseconds: 10)
        loop.fireDueTimers()
        clock.advance(milliseconds: 10)
        loop.fireDueTimers()
        #expect(fired == 2)
        // A stall of 10 periods fires once, not ten times.
        clock.advance(milliseconds: 100)
        loop.fireDueTimers()
        #expect(fired == 3)
        #expect(loop.millisecondsToNextTimer() == 10)
        loop.cancel(id)
        clock.advance(milliseconds: 100)
        loop.fireDueTimers()
        #expect(fired == 3)
        #expect(loop.millisecondsToNextTimer() == nil)
    }

    @Test func timerHandlerMayScheduleAndCancelOthers() throws {
        let clock = ManualClock()
        let loop = try EventLoop(clock: clock.read)
        var log: [String] = []
        var victim: EventLoop.TimerID?
        loop.schedule(after: 5) {
            log.append("first")
            if let v = victim { loop.cancel(v) }
            loop.schedule(after: 0) { log.append("chained") }
        }
        victim = loop.schedule(after: 6) { log.append("victim") }
        clock.advance(milliseconds: 10)
        loop.fireDueTimers()
        #expect(log == ["first", "chained"])
    }

    @Test func runOnceWaitsForTheNextTimerOnTheRealClock() throws {
        let loop = try EventLoop()
        var fired = false
        loop.schedule(after: 20) { fired = true }
        let t0 = Sys.monotonicNanos()
        while !fired { loop.runOnce(timeoutMs: 1000) }
        let ms = (Sys.monotonicNanos() - t0) / 1_000_000
        #expect(ms >= 19 && ms < 900)
    }

    @Test func stopFromAnotherThreadWakesTheLoop() throws {
        let loop = try EventLoop()
        let t = try Thread {
            Sys.sleep(milliseconds: 30)
            loop.stop()
        }
        loop.run() // no timers, no fds: only the stop can end it
        t.join()
        #expect(!loop.isStopping)
    }

    @Test func stopBeforeRunMakesRunReturnAtOnce() throws {
        let loop = try EventLoop()
        loop.stop()
        #expect(loop.isStopping)
        loop.run()
        #expect(!loop.isStopping)
    }
}

@Suite struct EventLoopIOTests {
    @Test func readableHandlerGetsDatagramsAndCanRemoveItself() throws {
        let loop = try EventLoop()
        let server = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { server.close() }
        let addr = try server.localAddress()
        let client = try Socket.unbound(family: .v4, stream: false)
        defer { client.close() }
        var got: [String] = []
        try loop.add(fd: server.fd) { _ in
            var buf = [UInt8](repeating: 0, count: 64)
            while let (n, _) = try! buf.withUnsafeMutableBytes({ try server.receive(into: $0) }) {
                got.append(String(decoding: buf[0..<n], as: UTF8.self))
            }
            if got.count >= 2 { loop.remove(fd: server.fd) }
        }
        _ = try client.send(Array("one".utf8), to: addr)
        _ = try client.send(Array("two".utf8), to: addr)
        for _ in 0..<20 where got.count < 2 { loop.runOnce(timeoutMs: 50) }
        #expect(got == ["one", "two"])
        #expect(loop.watchedCount == 0)
    }

    @Test func aStaleEventNeverReachesAHandlerRegisteredOnTheSameFdNumber() throws {
        let loop = try EventLoop()
        let a = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let b = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { b.close() }
        let sender = try Socket.unbound(family: .v4, stream: false)
        defer { sender.close() }
        var calls: [String] = []
        var replacement: Socket?
        // Both readable in one batch; b's handler (whichever runs first) swaps a
        // for a new socket that gets a's fd number; a's old event must be dropped.
        let aFD = a.fd
        try loop.add(fd: a.fd) { _ in calls.append("old a") }
        try loop.add(fd: b.fd) { _ in
            calls.append("b")
            var drain = [UInt8](repeating: 0, count: 8)
            _ = try? drain.withUnsafeMutableBytes { try b.receive(into: $0) }
            if replacement == nil {
                loop.remove(fd: aFD)
                // A new socket under a's number: dup2 closes a and reuses the
                // number atomically (tests run in parallel, so a number freed by
                // close could be taken by another test in between).
                let r = try! Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
                #expect(FileDescriptorIO.duplicate(r.fd, onto: aFD))
                r.close()
                replacement = Socket(fd: aFD)
                try! loop.add(fd: aFD) { _ in calls.append("new") }
            }
        }
        // b becomes readable first, so epoll reports it first (ready-list order).
        _ = try sender.send([1], to: try b.localAddress())
        _ = try sender.send([1], to: try a.localAddress())
        Sys.sleep(milliseconds: 20)
        loop.runOnce(timeoutMs: 100)
        #expect(!calls.contains("new"))
        replacement?.close()
    }

    @Test func batchReceivesAndRepliesFromTheQueriedAddress() throws {
        var o = Socket.Options()
        o.packetInfo = true
        let server = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, options: o)
        defer { server.close() }
        let addr = try server.localAddress()
        let client = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { client.close() }
        for i in 0..<3 { _ = try client.send(Array("q\(i)".utf8), to: addr) }
        let batch = UDPBatch(slots: 8, slotSize: 512)
        var n = 0
        for _ in 0..<50 where n == 0 {
            n = try batch.receive(on: server)
            if n == 0 { Sys.sleep(milliseconds: 2) }
        }
        #expect(n == 3)
        let clientAddr = try client.localAddress()
        for i in 0..<n {
            #expect(batch.peer(i) == clientAddr)
            #expect(batch.local(i)?.ipString == "127.0.0.1")
            let buf = batch.buffer(i)
            buf[0] = UInt8(ascii: "r") // answer in place: "r0", "r1", "r2"
            batch.setReply(i, length: i == 1 ? 0 : batch.length(i)) // slot 1 is dropped
        }
        #expect(batch.sendReplies(on: server, count: n) == 2)
        var replies: [String] = []
        var buf = [UInt8](repeating: 0, count: 64)
        for _ in 0..<50 where replies.count < 2 {
            if let (len, from) = try buf.withUnsafeMutableBytes({ try client.receive(into: $0) }) {
                #expect(from == addr)
                replies.append(String(decoding: buf[0..<len], as: UTF8.self))
            } else { Sys.sleep(milliseconds: 2) }
        }
        #expect(replies == ["r0", "r2"])
    }

    @Test func wildcardBatchRepliesFromTheAddressTheQueryHit() throws {
        // Bound to 0.0.0.0: a query to 127.0.0.2 must be answered from 127.0.0.2,
        // or the client (which checks the source) would drop the answer.
        var o = Socket.Options()
        o.packetInfo = true
        let server = try Socket.udp(bind: SocketAddress(ip: "0.0.0.0", port: 0)!, options: o)
        defer { server.close() }
        let port = try server.localAddress().port
        let client = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { client.close() }
        let target = SocketAddress(ip: "127.0.0.2", port: port)!
        _ = try client.send(Array("q".utf8), to: target)
        let batch = UDPBatch(slots: 4, slotSize: 64)
        var n = 0
        for _ in 0..<100 where n == 0 {
            n = try batch.receive(on: server)
            if n == 0 { Sys.sleep(milliseconds: 1) }
        }
        #expect(n == 1)
        #expect(batch.local(0)?.ipString == "127.0.0.2")
        batch.setReply(0, length: 1)
        #expect(batch.sendReplies(on: server, count: n) == 1)
        var buf = [UInt8](repeating: 0, count: 8)
        var from: SocketAddress?
        for _ in 0..<100 where from == nil {
            from = try buf.withUnsafeMutableBytes { try client.receive(into: $0) }?.1
            if from == nil { Sys.sleep(milliseconds: 1) }
        }
        #expect(from == target)
        // Out-of-range slots are empty, never a wild pointer.
        #expect(batch.buffer(4).count == 0 && batch.length(-1) == 0 && batch.local(9) == nil)
    }

    @Test func controlSocketAnswersTheSender() throws {
        let dir = "/tmp/dnsbox-ctl-test-\(Sys.pid)-\(Sys.random64() % 100000)"
        try FileSystem.makeDirectories(dir)
        let loop = try EventLoop()
        let server = try ControlServer(path: dir + "/x.sock", loop: loop) { cmd in cmd == "status" ? "ok fine" : "error: \(cmd)" }
        // The loop runs on its own thread; the client calls block until it answers,
        // so run() has started before stop() is called.
        let t = try Thread { loop.run() }
        #expect(try ControlClient.send("status", to: dir + "/x.sock") == "ok fine")
        #expect(try ControlClient.send("bogus\n", to: dir + "/x.sock") == "error: bogus")
        loop.stop()
        t.join()
        server.close()
        #expect(!FileSystem.exists(dir + "/x.sock"))
        #expect(throws: SysError.self) { try ControlClient.send("status", to: dir + "/x.sock", timeoutMs: 50) }
    }
}
