// The stream (TCP) server every applet uses: dnsd's DNS over TCP (RFC 7766)
// and the HTTP API. It owns accepting, reading, writing and closing; the
// handler owns the protocol. Bounded everywhere: connections (a cap, with a
// last word for those over it), input and output per connection
// (backpressure: a connection whose output is full is not read further),
// idle and request deadlines. Accepting pauses for 100 ms when descriptors
// run out (EMFILE), instead of spinning on a listener that stays readable.
// A peer that half-closes (shutdown of its sending side) still gets every
// answer it is owed before the connection closes.

import Runtime
import Sys

/// One connection. The handler reads `input`, consumes what it used and
/// queues output with `send`; the flags steer the server.
public final class StreamConnection<State> {
    public let id: UInt64
    public let socket: Socket
    public let peer: SocketAddress
    public var state: State
    /// Bytes received and not yet consumed.
    public private(set) var input: [UInt8] = []
    /// Input is not read beyond this (default: the server's `maxInput`).
    public var inputLimit: Int
    public internal(set) var output: [UInt8] = []
    var outputStart = 0
    /// The handler does not want more input now (a request waits for its
    /// answer): the socket is not read, and input stays in the kernel.
    public var readingPaused = false
    /// Close once the queued output has gone out.
    public var closeWhenFlushed = false
    /// The peer has sent all it will (EOF).
    public internal(set) var peerClosed = false
    /// The handler still owes the peer something (a transfer, a forwarded
    /// answer, a response being committed): no expiry, no close at EOF.
    public var busy = false
    /// The connection expires when idle past this (monotonic ns).
    public var deadline: UInt64
    /// When the unconsumed input started arriving (0: none): a message must
    /// be whole within `messageTimeoutMs` of its first byte.
    var partialSince: UInt64 = 0
    /// The last read or write (monotonic ns): under pressure the longest
    /// idle connection is closed first.
    var lastActivity: UInt64 = 0
    public internal(set) var closed = false
    var events: UInt32 = 0
    /// No longer in the event loop (the peer hung up while an answer was owed).
    var detached = false

    init(id: UInt64, socket: Socket, peer: SocketAddress, state: State, inputLimit: Int, deadline: UInt64) {
        self.id = id
        self.socket = socket
        self.peer = peer
        self.state = state
        self.inputLimit = inputLimit
        self.deadline = deadline
    }

    /// Output not yet written to the socket.
    public var pendingOutput: Int { output.count - outputStart }

    /// Drops the first `n` input bytes (consumed by the handler).
    public func consume(_ n: Int) {
        guard n > 0 else { return }
        if n >= input.count { input.removeAll(keepingCapacity: true) } else { input.removeFirst(n) }
        // What is left is the start of the next message: its clock restarts
        // (stamped at the next read or sweep).
        partialSince = input.isEmpty ? 0 : UInt64.max
    }

    /// Drops all input (after an error answer).
    public func discardInput() { input.removeAll() }

    /// Queues bytes to send (written by the server's next flush).
    public func queue(_ bytes: [UInt8]) { output.append(contentsOf: bytes) }
    public func queue(_ bytes: UnsafeRawBufferPointer) { output.append(contentsOf: bytes) }
    /// Appends to the output in place (framing written straight into it).
    public func appendOutput(_ body: (inout [UInt8]) -> Void) { body(&output) }

    func appendInput(_ bytes: UnsafeRawBufferPointer) { input.append(contentsOf: bytes) }
}

public struct StreamLimits {
    public var maxConnections: Int
    /// Input buffered per connection (unless the handler sets `inputLimit`).
    public var maxInput: Int
    /// Output queued per connection beyond which it is not read further.
    public var maxOutput: Int
    /// A connection without activity this long expires.
    public var idleTimeoutMs: UInt64
    /// True: reading or writing moves the deadline (idle timeout). False:
    /// the handler sets `deadline` itself (a whole request within a time).
    public var activityExtendsDeadline: Bool
    /// A message (the input not yet consumed) must arrive whole within this
    /// of its first byte (RFC 7766 §6.2.3; Knot's tcp-io-timeout): a peer
    /// trickling a byte at a time does not keep its slot. 0: no limit.
    public var messageTimeoutMs: UInt64
    /// Connections one peer address may hold (0: no cap).
    public var maxPerPeer: Int
    /// When full, close the connection idle the longest for a new one
    /// (RFC 7766 §6.2.2, DNS) instead of refusing the new one (HTTP: 503).
    public var evictIdleWhenFull: Bool

    public init(maxConnections: Int, maxInput: Int, maxOutput: Int, idleTimeoutMs: UInt64,
                activityExtendsDeadline: Bool = true, messageTimeoutMs: UInt64 = 0, maxPerPeer: Int = 0,
                evictIdleWhenFull: Bool = false) {
        self.maxConnections = maxConnections
        self.maxInput = maxInput
        self.maxOutput = maxOutput
        self.idleTimeoutMs = idleTimeoutMs
        self.activityExtendsDeadline = activityExtendsDeadline
        self.messageTimeoutMs = messageTimeoutMs
        self.maxPerPeer = maxPerPeer
        self.evictIdleWhenFull = evictIdleWhenFull
    }
}

/// The protocol side of a stream server. Runs on the loop's thread.
public protocol StreamHandler: AnyObject {
    associatedtype State
    /// The state of a new connection from `peer`.
    func accepted(peer: SocketAddress) -> State
    /// What to write to a connection refused for being over the cap
    /// (e.g. an HTTP 503), or nothing.
    func refusalMessage() -> [UInt8]
    /// New input, or the peer finished sending (`peerClosed`).
    func received(_ c: StreamConnection<State>)
    /// Everything queued has been written: more may follow (the next
    /// messages of a zone transfer, requests pipelined behind an answer).
    func drained(_ c: StreamConnection<State>)
    /// Past its deadline: a last word may be queued before it closes.
    func expired(_ c: StreamConnection<State>)
    func closed(_ c: StreamConnection<State>)
}

extension StreamHandler {
    public func refusalMessage() -> [UInt8] { [] }
    public func drained(_ c: StreamConnection<State>) {}
    public func expired(_ c: StreamConnection<State>) {}
    public func closed(_ c: StreamConnection<State>) {}
}

public final class StreamServer<H: StreamHandler> {
    public typealias Connection = StreamConnection<H.State>

    unowned(unsafe) let loop: EventLoop
    unowned(unsafe) let handler: H
    public var limits: StreamLimits
    private var listeners: [Socket] = []
    private var connections: [UInt64: Connection] = [:]
    /// Connections per peer address (port 0).
    private var perPeer: [SocketAddress: Int] = [:]
    /// Connections refused for their peer's cap, and idle ones closed to
    /// make room (for status and tests).
    public private(set) var refusedPerPeer: UInt64 = 0
    public private(set) var evictedIdle: UInt64 = 0
    private var nextID: UInt64 = 0
    private var chunk = [UInt8](repeating: 0, count: 65536)
    private var sweep: EventLoop.TimerID?
    private var paused = false
    private var lastPauseLog: UInt64 = 0
    /// Accepts paused because descriptors ran out (for status and tests).
    public private(set) var acceptPauses: UInt64 = 0

    public static var pauseMs: UInt64 { 100 }

    public init(loop: EventLoop, limits: StreamLimits, handler: H) {
        self.loop = loop
        self.limits = limits
        self.handler = handler
    }

    deinit {
        for (_, c) in connections { c.socket.close() }
    }

    public var count: Int { connections.count }

    public func connection(_ id: UInt64) -> Connection? { connections[id] }

    /// Starts accepting on a listening socket (the server does not own it).
    public func listen(_ l: Socket) throws(SysError) {
        try loop.add(fd: l.fd) { [unowned(unsafe) self] _ in self.accept(l) }
        listeners.append(l)
    }

    /// Stops accepting and closes every connection.
    public func shutdown() {
        for l in listeners { loop.remove(fd: l.fd) }
        listeners.removeAll()
        for (_, c) in connections { close(c) }
        if let t = sweep { loop.cancel(t) }
        sweep = nil
    }

    private func accept(_ l: Socket) {
        while !paused {
            let next: (Socket, SocketAddress)?
            do throws(SysError) { next = try l.accept() } catch {
                if error.isExhaustion { return pause(error) }
                // A connection reset before it was accepted: the next one.
                if error.code == 103 || error.code == 71 { continue }
                log.warn("accept failed: \(error.description)")
                return pause(error)
            }
            guard let (sock, peer) = next else { return }
            var key = peer
            key.port = 0
            let held = perPeer[key] ?? 0
            // Full: make room by closing the connection idle the longest
            // (RFC 7766 §6.2.2), unless this peer is at its own cap.
            let overPeer = limits.maxPerPeer > 0 && held >= limits.maxPerPeer
            if overPeer || (connections.count >= limits.maxConnections && !(limits.evictIdleWhenFull && evictIdle())) {
                if overPeer { refusedPerPeer &+= 1 }
                let last = handler.refusalMessage()
                if !last.isEmpty { _ = try? sock.send(last) }
                sock.close()
                continue
            }
            nextID &+= 1
            let c = Connection(id: nextID, socket: sock, peer: peer, state: handler.accepted(peer: peer),
                               inputLimit: limits.maxInput, deadline: loop.now() &+ limits.idleTimeoutMs &* 1_000_000)
            c.events = EventLoop.readable | EventLoop.hangup
            do throws(SysError) {
                try loop.add(fd: sock.fd, events: c.events) { [unowned(unsafe) self] ev in self.onEvent(c, ev) }
            } catch {
                sock.close()
                continue
            }
            c.lastActivity = loop.now()
            connections[c.id] = c
            perPeer[key] = held &+ 1
            armSweep()
        }
    }

    /// Out of descriptors: the listener would stay readable, so stop
    /// watching it for a moment (and say so at most every 10 s).
    private func pause(_ error: SysError) {
        paused = true
        acceptPauses &+= 1
        let now = loop.now()
        if lastPauseLog == 0 || now &- lastPauseLog > 10_000_000_000 {
            log.warn("accept failed: \(error.description); pausing new connections for \(StreamServer.pauseMs) ms")
            lastPauseLog = now
        }
        for l in listeners { try? loop.modify(fd: l.fd, events: 0) }
        loop.schedule(after: StreamServer.pauseMs) { [unowned(unsafe) self] in
            self.paused = false
            for l in self.listeners {
                try? self.loop.modify(fd: l.fd, events: EventLoop.readable)
                self.accept(l)
            }
        }
    }

    private func armSweep() {
        guard sweep == nil else { return }
        sweep = loop.schedule(after: 250, repeating: true) { [unowned(unsafe) self] in self.expire() }
    }

    private func touch(_ c: Connection) {
        let now = loop.now()
        c.lastActivity = now
        if limits.activityExtendsDeadline { c.deadline = now &+ limits.idleTimeoutMs &* 1_000_000 }
    }

    /// Closes the connection idle the longest (nothing owed, nothing half
    /// received, nothing to send); false when every connection is working.
    private func evictIdle() -> Bool {
        var oldest: Connection? = nil
        for (_, c) in connections where !c.busy && c.pendingOutput == 0 && c.input.isEmpty {
            if oldest == nil || c.lastActivity < oldest!.lastActivity { oldest = c }
        }
        guard let c = oldest else { return false }
        evictedIdle &+= 1
        handler.expired(c)
        c.closeWhenFlushed = true
        flush(c)
        close(c)
        return true
    }

    private func wantsRead(_ c: Connection) -> Bool {
        !c.closed && !c.peerClosed && !c.readingPaused && !c.closeWhenFlushed
            && c.pendingOutput < limits.maxOutput && c.input.count < c.inputLimit
    }

    private func onEvent(_ c: Connection, _ events: UInt32) {
        if c.closed { return }
        if events & (EventLoop.readable | EventLoop.hangup) != 0 {
            if wantsRead(c) {
                read(c)
                if c.closed { return }
                handler.received(c)
                if c.closed { return }
            } else if events & EventLoop.failed != 0 {
                // Reset or gone while we were not reading.
                guard c.busy else { return close(c) }
                // An answer is still coming: stop watching (a hangup stays
                // reported and would spin); its write fails and closes.
                c.peerClosed = true
                loop.remove(fd: c.socket.fd)
                c.detached = true
                return
            }
        }
        flush(c)
    }

    private func read(_ c: Connection) {
        while c.input.count < c.inputLimit {
            let got: (Int, SocketAddress)?
            do throws(SysError) { got = try c.socket.receive(into: &chunk, limit: c.inputLimit - c.input.count) } catch {
                return close(c)
            }
            guard let (n, _) = got else { break }
            if n == 0 {
                c.peerClosed = true
                break
            }
            if c.input.isEmpty || c.partialSince == 0 || c.partialSince == UInt64.max { c.partialSince = loop.now() }
            chunk.withUnsafeBytes { c.appendInput(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            touch(c)
        }
    }

    /// Writes what it can, tells the handler when everything is out (it
    /// may queue more), and closes the connection or updates what it waits
    /// for. Call it after queueing output outside an event.
    public func flush(_ c: Connection) {
        var rounds = 0
        while !c.closed {
            while c.pendingOutput > 0 {
                do throws(SysError) {
                    c.outputStart += try c.socket.send(c.output, from: c.outputStart)
                    touch(c)
                } catch {
                    if !error.wouldBlock || c.detached { return close(c) }
                    return interest(c)
                }
            }
            c.output.removeAll(keepingCapacity: c.output.capacity <= 65536)
            c.outputStart = 0
            if c.closeWhenFlushed { return close(c) }
            // Bounded work per event; with output left, EPOLLOUT calls again.
            rounds += 1
            if rounds > 64 { break }
            handler.drained(c)
            if c.pendingOutput == 0 { break }
        }
        if c.closed { return }
        if c.peerClosed && !c.busy && c.pendingOutput == 0 { return close(c) }
        interest(c)
    }

    /// Watches for what the connection can do next: read while it may take
    /// more, write while output is queued.
    private func interest(_ c: Connection) {
        guard !c.closed, !c.detached else { return }
        var ev: UInt32 = wantsRead(c) ? EventLoop.readable | EventLoop.hangup : 0
        if c.pendingOutput > 0 { ev |= EventLoop.writable }
        if ev != c.events {
            c.events = ev
            try? loop.modify(fd: c.socket.fd, events: ev)
        }
    }

    public func close(_ c: Connection) {
        guard !c.closed else { return }
        c.closed = true
        if !c.detached { loop.remove(fd: c.socket.fd) }
        connections[c.id] = nil
        var key = c.peer
        key.port = 0
        if let n = perPeer[key] { perPeer[key] = n > 1 ? n &- 1 : nil }
        c.socket.close()
        handler.closed(c)
        if connections.isEmpty, let t = sweep {
            loop.cancel(t)
            sweep = nil
        }
    }

    private func expire() {
        let now = loop.now()
        var late: [Connection] = []
        let slow = limits.messageTimeoutMs &* 1_000_000
        for (_, c) in connections where !c.busy {
            if c.partialSince == UInt64.max { c.partialSince = now }
            if now > c.deadline || (slow > 0 && !c.input.isEmpty && c.partialSince != 0 && now &- c.partialSince > slow) {
                late.append(c)
            }
        }
        for c in late {
            handler.expired(c)
            c.closeWhenFlushed = true
            flush(c)
            close(c)
        }
    }
}
