// Paced sending: at most so many items a millisecond, with a small burst
// saved up, so a burst of replies released together (the ACKs of one DHCP
// group commit) does not overflow the receive buffer of a client or relay
// that reads one datagram at a time.

import Core
import Runtime

public final class Pacer<Item> {
    unowned(unsafe) let loop: EventLoop
    private var bucket: TokenBucket
    private var queue: [Item] = []
    private var head = 0
    private var timer: EventLoop.TimerID?
    private let send: (Item) -> Void

    /// `perMillisecond` items a millisecond, `burstMs` milliseconds' worth saved up.
    public init(loop: EventLoop, perMillisecond: Int, burstMs: Int, send: @escaping (Item) -> Void) {
        self.loop = loop
        self.send = send
        bucket = TokenBucket(ratePerSecond: perMillisecond * 1000, burst: perMillisecond * burstMs, now: loop.now())
    }

    /// Items waiting for their turn.
    public var backlog: Int { queue.count - head }

    /// Sends `item` now if the pace allows, else after those queued before it.
    public func submit(_ item: Item) {
        queue.append(item)
        if timer == nil { drain() }
    }

    private func drain() {
        timer = nil
        let now = loop.now()
        while head < queue.count && bucket.take(now: now) {
            let item = queue[head]
            head += 1
            send(item)
        }
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
            return
        }
        let waitMs = max(1, (bucket.wait(now: now) + 999_999) / 1_000_000)
        timer = loop.schedule(after: waitMs) { [unowned(unsafe) self] in self.drain() }
    }
}
