// Retry timing shared by everything that retries: the supervisor restarting
// a child, the NOTIFY sender, upstream servers left alone after failures,
// the store reopened after an error. Pure arithmetic: callers own the clock.

/// Exponential backoff: `initialMs` after the first failure, doubling per
/// further failure, never more than `maxMs`. `failures` counts consecutive
/// failures; a success (or a long enough quiet spell, the caller's rule)
/// resets it.
public struct Backoff: Equatable, Sendable {
    public let initialMs: UInt64
    public let maxMs: UInt64
    /// Consecutive failures so far.
    public var failures: Int = 0

    public init(initialMs: UInt64, maxMs: UInt64) {
        self.initialMs = initialMs
        self.maxMs = max(initialMs, maxMs)
    }

    /// The wait after `n` consecutive failures (0 for none).
    @inlinable
    public func delay(afterFailures n: Int) -> UInt64 {
        guard n > 0 else { return 0 }
        let shift = UInt64(min(n - 1, 40))
        let d = initialMs << shift
        return d >> shift != initialMs ? maxMs : min(d, maxMs)
    }

    /// The wait after the failures counted so far.
    public var delay: UInt64 { delay(afterFailures: failures) }

    /// Counts one more failure and returns the wait before the next try.
    @discardableResult
    public mutating func fail() -> UInt64 {
        failures = failures < Int.max ? failures + 1 : failures
        return delay
    }

    public mutating func reset() { failures = 0 }
}

/// A token bucket: `ratePerSecond` tokens a second, at most `burst` saved
/// up; it starts full. Rate limits (API writes) and pacing (DHCP replies)
/// both take tokens from one. Times are nanoseconds on the caller's
/// monotonic clock.
public struct TokenBucket: Sendable {
    public let ratePerSecond: Int64
    public let burst: Int64
    /// Tokens × 10^9 (a token accrues over 10^9 / rate ns).
    private var level: Int64
    private var at: UInt64

    public init(ratePerSecond: Int, burst: Int, now: UInt64) {
        self.ratePerSecond = Int64(max(ratePerSecond, 1))
        self.burst = Int64(max(burst, 1))
        level = self.burst * 1_000_000_000
        at = now
    }

    private mutating func refill(_ now: UInt64) {
        guard now > at else { return }
        let cap = burst * 1_000_000_000
        // Long idle: full. Bounded so elapsed × rate cannot overflow.
        let full = UInt64(cap / ratePerSecond) + 1
        let elapsed = Int64(min(now &- at, full))
        at = now
        level = min(cap, level + elapsed * ratePerSecond)
    }

    /// Takes a token; false when none is left.
    public mutating func take(now: UInt64) -> Bool {
        refill(now)
        guard level >= 1_000_000_000 else { return false }
        level -= 1_000_000_000
        return true
    }

    /// Nanoseconds until the next token is there (0: now).
    public mutating func wait(now: UInt64) -> UInt64 {
        refill(now)
        guard level < 1_000_000_000 else { return 0 }
        return UInt64((1_000_000_000 - level + ratePerSecond - 1) / ratePerSecond)
    }
}
