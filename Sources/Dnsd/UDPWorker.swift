// dnsd's UDP serving threads.

import Resolver
import Runtime
import Sys

/// One UDP serving thread on one socket: its recvmmsg/sendmmsg batch, its
/// output buffer and its current answerer. Nothing here is shared with other
/// workers; the main thread only hands over new answerers (`publish`).
///
/// With a thread, the socket is blocking and the thread sits in recvmmsg
/// (MSG_WAITFORONE, a 250 ms receive timeout to notice a stop): one system
/// call to receive a batch and one to send the replies, no epoll. Without a
/// thread (tests), the socket is non-blocking and `loop` (which only that
/// mode has) drives the same batch handling.
final class UDPWorker {
    static let stopCheckMs = 250
    let index: Int
    let socket: Socket
    let loop: EventLoop
    private let threaded: Bool
    private let wildcard: Bool
    static let slotSize = 4096
    private let batch = UDPBatch(slots: 32, slotSize: UDPWorker.slotSize)
    private let out = UnsafeMutableRawBufferPointer.allocate(byteCount: UDPWorker.slotSize, alignment: 8)
    private var frontend: Frontend
    let local = ResolverLocal()
    private(set) var upstream: UpstreamSockets
    private let lock = Lock()
    private let hasPending = AtomicInt32(0)
    private let stopping = AtomicInt32(0)
    // Guarded by `lock`.
    private var pending: Frontend?
    private var retired: Frontend?
    private var thread: Thread?
    /// Written by the worker only; read (racily, for status) by the main thread.
    private(set) var queries: UInt64 = 0
    /// An accepted NOTIFY for a secondary zone; called on this worker's
    /// thread (set before the thread starts).
    var onNotify: ((UnsafeRawBufferPointer, SocketAddress) -> Void)?

    init(index: Int, frontend: Frontend, address: SocketAddress, threaded: Bool) throws(SysError) {
        self.index = index
        self.frontend = frontend
        self.threaded = threaded
        loop = try EventLoop()
        upstream = UpstreamSockets(loop: loop, frontend: frontend, local: local)
        var o = Socket.Options()
        o.reusePort = true
        // Only a wildcard bind needs IP_PKTINFO to reply from the address a
        // query arrived at; a socket bound to one address replies from it,
        // and skipping the control messages saves kernel work per packet.
        wildcard = address.isUnspecified
        o.packetInfo = wildcard
        o.receiveBuffer = 1 << 20
        o.nonBlocking = !threaded
        socket = try Socket.udp(bind: address, options: o)
        do throws(SysError) {
            try loop.add(fd: socket.fd) { [unowned(unsafe) self] _ in self.drain() }
            if threaded { try socket.setReceiveTimeout(milliseconds: UDPWorker.stopCheckMs) }
        } catch {
            socket.close()
            throw error
        }
        let sock = socket
        upstream.onAnswer = { client, bytes in
            guard case .udp(let peer, let from) = client else { return }
            _ = try? sock.send(bytes, to: peer, from: from)
        }
    }

    deinit {
        upstream.cancelAll()
        out.deallocate()
        socket.close()
    }

    /// The thread: while no upstream query is in flight, it sits in
    /// recvmmsg on the blocking socket (one system call per batch, no epoll:
    /// local answers and cache hits need nothing else); while some are, it
    /// runs its event loop, which also watches the upstream sockets and the
    /// timeouts.
    func startThread() throws(SysError) {
        thread = try Thread { [unowned(unsafe) self] in self.serve() }
    }

    /// The thread's loop. A method, not the closure's body: inside it `self`
    /// is borrowed for the whole call, and the objects it uses every turn
    /// are taken once, so a turn retains and releases nothing (in the
    /// closure each access to `self` and its objects did, a dozen atomic
    /// reference-count operations per wake-up).
    private func serve() {
        let batch = self.batch, socket = self.socket, loop = self.loop
        let engine = upstream.engine!
        while stopping.load() == 0 {
            adopt()
            if engine.pendingCount > 0 {
                _ = loop.runOnce(timeoutMs: UDPWorker.stopCheckMs)
                continue
            }
            let n: Int
            do throws(SysError) { n = try batch.receiveWaiting(on: socket) } catch { n = 0 }
            adopt()
            if n > 0 { answer(n) }
        }
        upstream.cancelAll()
    }

    /// Stops the thread (if any) and waits for it.
    func requestStop() { stopping.store(1) }
    func join() {
        thread?.join()
        thread = nil
    }

    /// Hands a new frontend to the worker (main thread). The worker takes
    /// it before answering its next batch.
    func publish(_ f: Frontend) {
        lock.withLock { pending = f }
        hasPending.store(1)
    }

    /// Frees the frontend the worker gave back (main thread), so a large
    /// snapshot is never freed on a serving thread.
    @discardableResult
    func collectRetired() -> Bool {
        let old: Frontend? = lock.withLock {
            let r = retired
            retired = nil
            return r
        }
        return old != nil
    }

    /// Takes a published frontend, if any (worker thread; one atomic load
    /// when there is nothing new).
    func adopt() {
        guard hasPending.load() != 0 else { return }
        lock.withLock {
            if let p = pending {
                retired = frontend
                frontend = p
                pending = nil
            }
            hasPending.store(0)
        }
        upstream.engine.adopt(frontend)
    }

    /// Loop-driven mode: answers batches until the socket is drained.
    private func drain() {
        while true {
            adopt()
            let n: Int
            do throws(SysError) { n = try batch.receive(on: socket) } catch { return }
            if n == 0 { return }
            answer(n)
            // A short batch means the socket was drained: back to epoll
            // (level-triggered, so anything that arrived since wakes it at
            // once) instead of a recvmmsg that would only say EAGAIN.
            if n < batch.slots { return }
        }
    }

    /// Hot path: answers the `n` queries in the batch and sends the
    /// replies; queries to forward go to the forwarder. No allocation
    /// for local answers and cache hits.
    private func answer(_ n: Int) {
        // Taken once per batch, not retained and released per query.
        let frontend = self.frontend, batch = self.batch, out = self.out, local = self.local
        let forwarding = frontend.forwarding != nil
        let now = forwarding ? Frontend.seconds(Sys.monotonicNanos()) : 0
        var i = 0
        while i < n {
            let slot = batch.buffer(i)
            let query = UnsafeRawBufferPointer(start: slot.baseAddress, count: batch.length(i))
            let peer = forwarding || Frontend.isNotify(query) ? batch.peer(i) : SocketAddress.none
            switch frontend.handle(query, into: out, udp: true, peer: peer, now: now, local: local) {
            case .reply(let len):
                setReply(i, slot, len)
            case .notify(let len):
                onNotify?(query, peer)
                setReply(i, slot, len)
            case .forward(let group):
                batch.setReply(i, length: 0)
                upstream.engine.start(query, group: group, client: .udp(peer: peer, local: wildcard ? batch.local(i) : nil),
                                      udp: true, now: loop.now())
            }
            i &+= 1
        }
        batch.sendReplies(on: socket, count: n)
        queries &+= UInt64(n)
    }

    @inline(__always)
    private func setReply(_ i: Int, _ slot: UnsafeMutableRawBufferPointer, _ len: Int) {
        if len > 0 && len <= slot.count, let dst = slot.baseAddress, let src = out.baseAddress {
            dst.copyMemory(from: src, byteCount: len)
            batch.setReply(i, length: len)
        } else {
            batch.setReply(i, length: 0)
        }
    }
}
