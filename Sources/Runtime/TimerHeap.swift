// Timers for the event loop: a binary min-heap over slots, so scheduling
// and cancelling are O(log n) and finding the next deadline O(1). Slots are
// reused through a free list; a TimerID carries the slot's generation, so
// cancelling a timer that already fired (its slot since reused) does
// nothing. Deadlines tie-break by the order timers were scheduled.

/// A timer handler, boxed once at scheduling: a closure kept at its natural
/// abstraction in a class is called without a reabstraction thunk, so
/// firing allocates nothing.
final class TimerBox {
    let handler: () -> Void
    init(_ handler: @escaping () -> Void) { self.handler = handler }
}

struct TimerHeap {
    struct Slot {
        var generation: UInt32 = 0
        var deadline: UInt64 = 0
        /// Scheduling order: ties on `deadline` fire in this order.
        var order: UInt64 = 0
        /// 0 = one-shot.
        var interval: UInt64 = 0
        var box: TimerBox?
        /// Position in `heap`, -1 when not scheduled.
        var position: Int = -1
    }

    private(set) var slots: [Slot] = []
    private var free: [Int] = []
    /// Slot indices, a min-heap by (deadline, order).
    private var heap: [Int] = []
    private var nextOrder: UInt64 = 0

    var count: Int { heap.count }

    /// Deadline of the earliest timer.
    var nextDeadline: UInt64? { heap.isEmpty ? nil : slots[heap[0]].deadline }

    @inline(__always)
    private func before(_ a: Int, _ b: Int) -> Bool {
        let x = slots[a], y = slots[b]
        return x.deadline < y.deadline || (x.deadline == y.deadline && x.order < y.order)
    }

    /// Schedules a timer; returns (slot, generation).
    mutating func add(deadline: UInt64, interval: UInt64, _ box: TimerBox) -> (Int, UInt32) {
        let s: Int
        if let f = free.popLast() {
            s = f
        } else {
            s = slots.count
            slots.append(Slot())
        }
        nextOrder &+= 1
        slots[s].generation &+= 1
        slots[s].deadline = deadline
        slots[s].order = nextOrder
        slots[s].interval = interval
        slots[s].box = box
        push(s)
        return (s, slots[s].generation)
    }

    /// Cancels the timer in `slot` if it is still the one with `generation`.
    mutating func cancel(slot: Int, generation: UInt32) {
        guard slot >= 0, slot < slots.count, slots[slot].generation == generation,
              slots[slot].position >= 0 else { return }
        remove(at: slots[slot].position)
        release(slot)
    }

    /// Takes the earliest timer if it is due at `now`: a repeating one is
    /// re-armed for its next period (missed periods skipped), a one-shot
    /// one's slot is freed. Returns the handler to call.
    mutating func popDue(now: UInt64) -> TimerBox? {
        guard let first = heap.first, slots[first].deadline <= now else { return nil }
        let box = slots[first].box
        if slots[first].interval > 0 {
            var next = slots[first].deadline &+ slots[first].interval
            if next <= now { next = now &+ slots[first].interval }
            slots[first].deadline = next
            siftDown(0)
        } else {
            remove(at: 0)
            release(first)
        }
        return box
    }

    private mutating func release(_ s: Int) {
        slots[s].box = nil
        slots[s].position = -1
        slots[s].generation &+= 1
        free.append(s)
    }

    private mutating func push(_ s: Int) {
        heap.append(s)
        slots[s].position = heap.count - 1
        siftUp(heap.count - 1)
    }

    private mutating func remove(at i: Int) {
        let last = heap.count - 1
        let s = heap[i]
        slots[s].position = -1
        if i != last {
            heap[i] = heap[last]
            slots[heap[i]].position = i
        }
        heap.removeLast()
        if i < heap.count {
            siftUp(i)
            siftDown(slots[heap[i]].position)
        }
    }

    private mutating func swapAt(_ i: Int, _ j: Int) {
        heap.swapAt(i, j)
        slots[heap[i]].position = i
        slots[heap[j]].position = j
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(heap[i], heap[parent]) else { return }
            swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1
            guard l < heap.count else { return }
            var m = l
            if l + 1 < heap.count && before(heap[l + 1], heap[l]) { m = l + 1 }
            guard before(heap[m], heap[i]) else { return }
            swapAt(i, m)
            i = m
        }
    }
}
