import CShim
import Sys

/// One epoll loop per thread: file-descriptor handlers, timers on an
/// injectable monotonic clock, and signals through a signalfd.
///
/// Contract: handlers run on the loop's thread, one at a time, and must not
/// block. Registration allocates (a closure is stored); dispatch does not.
public final class EventLoop {
    public typealias FDHandler = (_ events: UInt32) -> Void
    public typealias TimerHandler = () -> Void
    public typealias SignalHandler = (_ signal: Int32) -> Void

    /// A scheduled timer: its slot and the slot's generation (a stale ID cancels nothing).
    public struct TimerID: Hashable {
        let slot: Int
        let generation: UInt32
    }

    public static let readable = UInt32(DX_EPOLLIN)
    public static let writable = UInt32(DX_EPOLLOUT)
    public static let hangup = UInt32(DX_EPOLLHUP) | UInt32(DX_EPOLLERR) | UInt32(DX_EPOLLRDHUP)
    /// Error or full hangup (reported even when not asked for).
    public static let failed = UInt32(DX_EPOLLHUP) | UInt32(DX_EPOLLERR)

    private let ep: Int32
    /// One fd's registration. A class, so the handler stays at its natural
    /// abstraction: a closure stored directly as a Dictionary value comes back
    /// through a reabstraction thunk that allocates on every dispatch.
    private final class Registration {
        let token: UInt32
        let handler: FDHandler
        init(token: UInt32, handler: @escaping FDHandler) {
            self.token = token
            self.handler = handler
        }
    }

    /// fd → registration. The token also rides in the epoll data, so an event
    /// for an fd that was closed and re-registered within one epoll_wait
    /// batch is dropped instead of reaching the new handler.
    private var handlers: [Int32: Registration] = [:]
    private var nextToken: UInt32 = 1
    private var timers = TimerHeap()
    private var signalFD: Int32 = -1
    private var signalHandler: SignalHandler?
    private var events = [dx_event](repeating: dx_event(), count: 64)
    /// 1 while run() should keep going; an atomic cell because stop() may be
    /// called from any thread. A stop before run() starts makes run() return.
    private let stopFlag: UnsafeMutablePointer<Int32>
    private let wakeFD: Int32
    /// The monotonic clock in nanoseconds; tests pass a manual clock.
    public let now: () -> UInt64

    public init(clock: @escaping () -> UInt64 = { Sys.monotonicNanos() }) throws(SysError) {
        ep = dx_epoll_create()
        if ep < 0 { throw SysError.last("epoll_create") }
        wakeFD = dx_eventfd()
        if wakeFD < 0 { throw SysError.last("eventfd") }
        now = clock
        guard let flag = dx_atomic_new(0) else { throw SysError("allocate stop flag", code: Int32(DX_ENOMEM)) }
        stopFlag = flag
        _ = dx_epoll_add(ep, wakeFD, UInt32(DX_EPOLLIN), EventLoop.key(wakeFD, token: 0))
    }

    deinit {
        if signalFD >= 0 { _ = dx_close(signalFD) }
        _ = dx_close(wakeFD)
        _ = dx_close(ep)
        dx_atomic_free(stopFlag)
    }

    // MARK: file descriptors

    private static func key(_ fd: Int32, token: UInt32) -> UInt64 {
        UInt64(token) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    public func add(fd: Int32, events: UInt32 = EventLoop.readable, _ handler: @escaping FDHandler) throws(SysError) {
        let token = nextToken
        nextToken = nextToken == UInt32.max ? 1 : nextToken + 1
        if dx_epoll_add(ep, fd, events, EventLoop.key(fd, token: token)) != 0 { throw SysError.last("epoll add fd \(fd)") }
        handlers[fd] = Registration(token: token, handler: handler)
    }

    public func modify(fd: Int32, events: UInt32) throws(SysError) {
        guard let entry = handlers[fd] else { throw SysError("epoll mod fd \(fd)", code: Int32(DX_EBADF)) }
        if dx_epoll_mod(ep, fd, events, EventLoop.key(fd, token: entry.token)) != 0 { throw SysError.last("epoll mod fd \(fd)") }
    }

    /// Stops watching fd (the caller still owns and closes it).
    public func remove(fd: Int32) {
        _ = dx_epoll_del(ep, fd)
        handlers[fd] = nil
    }

    public var watchedCount: Int { handlers.count }

    // MARK: timers

    /// Runs `handler` once after `milliseconds`, or every `milliseconds`
    /// when `repeating`. O(log n).
    @discardableResult
    public func schedule(after milliseconds: UInt64, repeating: Bool = false, _ handler: @escaping TimerHandler) -> TimerID {
        let ns = milliseconds &* 1_000_000
        let (slot, generation) = timers.add(deadline: now() &+ ns, interval: repeating ? max(ns, 1) : 0, TimerBox(handler))
        return TimerID(slot: slot, generation: generation)
    }

    /// Cancels a timer (nothing when it already fired). O(log n).
    public func cancel(_ id: TimerID) {
        timers.cancel(slot: id.slot, generation: id.generation)
    }

    public var pendingTimers: Int { timers.count }

    /// Fires every timer that is due; returns how many fired.
    @discardableResult
    public func fireDueTimers() -> Int {
        var fired = 0
        let t0 = now()
        while let box = timers.popDue(now: t0) {
            box.handler()
            fired += 1
        }
        return fired
    }

    /// Milliseconds until the next timer (rounded up), nil when none.
    public func millisecondsToNextTimer() -> Int? {
        guard let deadline = timers.nextDeadline else { return nil }
        let t0 = now()
        if deadline <= t0 { return 0 }
        let ns = deadline - t0
        return Int(min((ns + 999_999) / 1_000_000, UInt64(Int32.max)))
    }

    // MARK: signals

    /// Routes `signals` to `handler` through a signalfd. Call on the main
    /// thread before starting other threads, so they inherit the blocked mask.
    public func handleSignals(_ signals: [Int32], _ handler: @escaping SignalHandler) throws(SysError) {
        if signalFD >= 0 {
            remove(fd: signalFD)
            _ = dx_close(signalFD)
        }
        let fd = signals.withUnsafeBufferPointer { dx_signalfd_open($0.baseAddress, Int32($0.count)) }
        if fd < 0 { throw SysError.last("signalfd") }
        signalFD = fd
        signalHandler = handler
        try add(fd: fd) { [unowned(unsafe) self] _ in
            while true {
                let sig = dx_signalfd_read(self.signalFD)
                if sig <= 0 { break }
                self.signalHandler?(sig)
            }
        }
    }

    // MARK: running

    /// Waits up to `timeoutMs` (or the next timer, if sooner; -1 = no limit)
    /// and dispatches what is ready. Returns the number of fd events handled.
    @discardableResult
    public func runOnce(timeoutMs: Int = -1) -> Int {
        var timeout = timeoutMs
        if let next = millisecondsToNextTimer() { timeout = timeout < 0 ? next : min(timeout, next) }
        let n = Int(events.withUnsafeMutableBufferPointer { dx_epoll_wait(ep, $0.baseAddress, Int32($0.count), Int32(timeout)) })
        var handled = 0
        if n > 0 {
            for i in 0..<n {
                let data = events[i].data
                let fd = Int32(truncatingIfNeeded: data & 0xffff_ffff)
                if fd == wakeFD {
                    _ = dx_eventfd_drain(wakeFD)
                    continue
                }
                // An earlier handler in this batch may have removed this fd, or
                // closed it and registered a new one under the same number.
                if let entry = handlers[fd], entry.token == UInt32(truncatingIfNeeded: data >> 32) {
                    entry.handler(events[i].events)
                    handled += 1
                }
            }
        }
        if let after = afterDispatch { after() }
        fireDueTimers()
        return handled
    }

    /// Runs after each batch of fd events, before timers: a server that
    /// collects work from many handlers (the API's group commit) does it here.
    public var afterDispatch: (() -> Void)?

    /// Runs until `stop()` is called (from a handler or another thread),
    /// then clears the request so the loop can be run again.
    public func run() {
        while dx_atomic_load(stopFlag) == 0 { runOnce() }
        dx_atomic_store(stopFlag, 0)
    }

    /// Makes `run()` return after the current iteration (or at once, if it
    /// has not started yet). Safe from any thread.
    public func stop() {
        dx_atomic_store(stopFlag, 1)
        _ = dx_eventfd_signal(wakeFD)
    }

    /// Makes a `runOnce` blocked in epoll_wait return (from any thread).
    public func wake() {
        _ = dx_eventfd_signal(wakeFD)
    }

    /// True while a stop is pending (set by `stop()`, cleared when `run()` returns).
    public var isStopping: Bool { dx_atomic_load(stopFlag) != 0 }
}

/// A manually advanced clock for tests of timer-driven code.
public final class ManualClock {
    public var nanos: UInt64

    public init(start: UInt64 = 1_000_000_000) { nanos = start }

    public func advance(milliseconds: UInt64) { nanos += milliseconds * 1_000_000 }

    /// The clock function to pass to `EventLoop(clock:)` (holds the clock).
    public var read: () -> UInt64 { { self.nanos } }
}
