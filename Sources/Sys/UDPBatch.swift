import CShim

/// recvmmsg/sendmmsg over preallocated slots. Receiving, reading a slot in
/// place and replying in place allocate nothing; the slots are allocated once.
public final class UDPBatch {
    private let b: OpaquePointer
    public let slots: Int
    public let slotSize: Int

    public init(slots: Int, slotSize: Int) {
        guard let b = dx_batch_new(Int32(slots), Int32(slotSize)) else { fatalError("out of memory allocating UDP batch") }
        self.b = b
        self.slots = slots
        self.slotSize = slotSize
    }

    deinit { dx_batch_free(b) }

    /// Receives up to `slots` datagrams without blocking; returns the count.
    public func receive(on socket: Socket) throws(SysError) -> Int {
        let n = dx_batch_recv(socket.fd, b)
        if n < 0 { throw SysError.last("recvmmsg") }
        return Int(n)
    }

    /// On a blocking socket: waits for at least one datagram (or the
    /// socket's receive timeout, then returns 0) and takes up to `slots`
    /// of those queued, with one system call and no epoll.
    public func receiveWaiting(on socket: Socket) throws(SysError) -> Int {
        let n = dx_batch_recv_wait(socket.fd, b)
        if n < 0 { throw SysError.last("recvmmsg") }
        return Int(n)
    }

    /// The whole slot i (capacity slotSize); the datagram is the first `length(i)` bytes.
    public func buffer(_ i: Int) -> UnsafeMutableRawBufferPointer {
        guard i >= 0 && i < slots else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        return UnsafeMutableRawBufferPointer(start: dx_batch_buf(b, Int32(i)), count: slotSize)
    }

    public func length(_ i: Int) -> Int { Int(dx_batch_len(b, Int32(i))) }

    public func peer(_ i: Int) -> SocketAddress {
        var raw = dx_addr()
        dx_batch_peer(b, Int32(i), &raw)
        return SocketAddress(raw: raw)
    }

    /// The address the datagram was sent to (IP_PKTINFO), if known.
    public func local(_ i: Int) -> SocketAddress? {
        var raw = dx_addr()
        dx_batch_local(b, Int32(i), &raw)
        return raw.family == 0 ? nil : SocketAddress(raw: raw)
    }

    public func interfaceIndex(_ i: Int) -> Int { Int(dx_batch_ifindex(b, Int32(i))) }

    /// Marks slot i to be answered with its first `length` bytes (0 = no reply).
    public func setReply(_ i: Int, length: Int) { dx_batch_set_reply(b, Int32(i), Int32(length)) }

    /// Sends every marked reply from the local address its query arrived at;
    /// returns how many the kernel accepted.
    @discardableResult
    public func sendReplies(on socket: Socket, count: Int) -> Int {
        Int(dx_batch_send_replies(socket.fd, b, Int32(count)))
    }
}
