@testable import Runtime
import Testing

@Suite struct TimerHeapTests {
    /// Many timers scheduled in random order fire in deadline order, ties
    /// in scheduling order, and cancelled ones never fire.
    @Test func manyTimersFireInOrderAndCancelledOnesNever() throws {
        let clock = ManualClock()
        let loop = try EventLoop(clock: clock.read)
        var rng = SystemRandomNumberGenerator()
        var fired: [(UInt64, Int)] = []
        var ids: [(EventLoop.TimerID, UInt64, Int)] = []
        for i in 0..<5000 {
            let after = UInt64.random(in: 0...2000, using: &rng)
            let id = loop.schedule(after: after) { fired.append((after, i)) }
            ids.append((id, after, i))
        }
        var cancelled: Set<Int> = []
        for (id, _, i) in ids where i % 3 == 0 {
            loop.cancel(id)
            cancelled.insert(i)
        }
        #expect(loop.pendingTimers == 5000 - cancelled.count)
        clock.advance(milliseconds: 2001)
        loop.fireDueTimers()
        #expect(loop.pendingTimers == 0)
        #expect(fired.count == 5000 - cancelled.count)
        #expect(!fired.contains { cancelled.contains($0.1) })
        for k in 1..<fired.count {
            let (a, b) = (fired[k - 1], fired[k])
            #expect(a.0 < b.0 || (a.0 == b.0 && a.1 < b.1), "out of order at \(k)")
        }
    }

    /// An ID whose timer already fired cancels nothing, even when its slot
    /// has been reused by a newer timer.
    @Test func aStaleIDDoesNotCancelTheTimerThatReusedItsSlot() throws {
        let clock = ManualClock()
        let loop = try EventLoop(clock: clock.read)
        var first = 0, second = 0
        let old = loop.schedule(after: 1) { first += 1 }
        clock.advance(milliseconds: 1)
        loop.fireDueTimers()
        _ = loop.schedule(after: 5) { second += 1 }
        loop.cancel(old)
        loop.cancel(old)
        clock.advance(milliseconds: 5)
        loop.fireDueTimers()
        #expect(first == 1 && second == 1)
    }

    /// A repeating timer cancelled from its own handler stops.
    @Test func repeatingTimerCancelsItself() throws {
        let clock = ManualClock()
        let loop = try EventLoop(clock: clock.read)
        var n = 0
        var id: EventLoop.TimerID?
        id = loop.schedule(after: 10, repeating: true) {
            n += 1
            if n == 3, let me = id { loop.cancel(me) }
        }
        for _ in 0..<10 {
            clock.advance(milliseconds: 10)
            loop.fireDueTimers()
        }
        #expect(n == 3)
        #expect(loop.pendingTimers == 0)
    }

    /// Cancelling from the middle of a large heap keeps the rest in order
    /// (the removal sifts both ways).
    @Test func cancelFromTheMiddleKeepsHeapOrder() throws {
        var heap = TimerHeap()
        var handles: [(Int, UInt32, UInt64)] = []
        for d in stride(from: UInt64(1000), to: 0, by: -7) {
            let (s, g) = heap.add(deadline: d, interval: 0, TimerBox({}))
            handles.append((s, g, d))
        }
        var removed: Set<UInt64> = []
        for (k, h) in handles.enumerated() where k % 4 == 1 {
            heap.cancel(slot: h.0, generation: h.1)
            removed.insert(h.2)
        }
        var last: UInt64 = 0
        var count = 0
        while let next = heap.nextDeadline {
            #expect(next >= last)
            #expect(!removed.contains(next))
            last = next
            _ = heap.popDue(now: next)
            count += 1
        }
        #expect(count == handles.count - removed.count)
    }
}
