// The one way applets open the state database: one policy for opening,
// reopening after a failure (with backoff) and reporting it once.

import Core
import Runtime
import Store
import Sys

/// The store at `path`, opened when first asked for.
///
/// - `.required`: the applet cannot work without it (dhcpd's leases, the
///   API's writes, init's migrations): `open()` failing fails the start.
/// - `.optional`: the applet serves without it (dnsd serves the config's
///   zones) and `current()` tries again, at most once per backoff period
///   (1 s doubling to 30 s), until it opens. A store created later by
///   another applet is picked up that way.
public final class StoreHandle {
    public enum Policy { case required, optional }

    public let path: String
    public let policy: Policy
    public private(set) var store: Store?
    private var backoff = Backoff(initialMs: 1000, maxMs: 30_000)
    private var nextTry: UInt64 = 0
    private var reported = false

    public init(path: String, policy: Policy) {
        self.path = path
        self.policy = policy
    }

    /// Opens the store now (logging why not); true when it is open.
    @discardableResult
    public func open() -> Bool {
        if store != nil { return true }
        do throws(StoreError) {
            store = try Store(path: path)
            if reported { log.info("store opened", [("path", path)]) }
            backoff.reset()
            reported = false
            return true
        } catch {
            if !reported {
                switch policy {
                case .required: log.error("cannot open the store: \(error.description)")
                case .optional: log.warn("cannot open the store; going on without it: \(error.description)")
                }
                reported = true
            }
            nextTry = Sys.monotonicNanos() &+ backoff.fail() * 1_000_000
            return false
        }
    }

    /// The open store, trying to open it again when it is due.
    public func current() -> Store? {
        if let s = store { return s }
        guard Sys.monotonicNanos() >= nextTry else { return nil }
        open()
        return store
    }
}
