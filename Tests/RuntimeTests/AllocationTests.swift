import AllocCounter
import Testing
@testable import Runtime
import Sys

/// The claims in README's design notes: dispatch and batched UDP I/O
/// allocate nothing per packet once set up.
@Suite struct AllocationTests {
    @Test func theCounterSeesAllocations() {
        #expect(alloc_counter_active() == 1)
        let before = alloc_count_this_thread()
        let a = [Int](repeating: 1, count: 1000)
        #expect(a.count == 1000)
        #expect(alloc_count_this_thread() > before)
    }

    @Test func udpBatchReceiveAndReplyAllocateNothingPerPacket() throws {
        var o = Socket.Options()
        o.packetInfo = true
        let server = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, options: o)
        defer { server.close() }
        let client = try Socket.udp(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { client.close() }
        let to = try server.localAddress()
        let batch = UDPBatch(slots: 32, slotSize: 512)
        let loop = try EventLoop()
        var answered = 0
        // The handler captures only references made before the measurement.
        try loop.add(fd: server.fd) { _ in
            while let n = try? batch.receive(on: server), n > 0 {
                for i in 0..<n {
                    // What a DNS worker reads per query: peer and local address.
                    let peer = batch.peer(i)
                    let local = batch.local(i)
                    guard peer.port != 0, peer[byte: 0] == 127, local?.family == .v4 else { continue }
                    let buf = batch.buffer(i)
                    buf[0] = buf[0] &+ 1
                    batch.setReply(i, length: batch.length(i))
                }
                answered += batch.sendReplies(on: server, count: n)
            }
        }
        let query: [UInt8] = Array(repeating: 7, count: 48)
        var reply = [UInt8](repeating: 0, count: 512)
        // Only the server side (loop dispatch, batch receive, reply) is counted.
        var serverAllocations: Int64 = 0
        func serve(_ timeout: Int) {
            let before = alloc_count_this_thread()
            loop.runOnce(timeoutMs: timeout)
            serverAllocations += alloc_count_this_thread() - before
        }
        func exchange(_ rounds: Int) throws {
            for _ in 0..<rounds {
                _ = try query.withUnsafeBytes { try client.send($0, to: to) }
                serve(100)
                while try reply.withUnsafeMutableBytes({ try client.receive(into: $0) }) == nil { serve(10) }
            }
        }
        try exchange(50) // warm up: lazily created runtime state
        serverAllocations = 0
        try exchange(2000)
        #expect(answered == 2050)
        #expect(serverAllocations == 0, "server-side allocations for 2000 round trips: \(serverAllocations)")
    }
}
