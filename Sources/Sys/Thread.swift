import CShim

/// A plain OS thread running a closure. Join it before dropping it.
public final class Thread {
    private var handle: OpaquePointer?

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    public init(_ body: @escaping () -> Void) throws(SysError) {
        let ctx = Unmanaged.passRetained(Box(body)).toOpaque()
        handle = dx_thread_start({ raw in
            guard let raw else { return }
            let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
            box.body()
        }, ctx)
        if handle == nil {
            Unmanaged<Box>.fromOpaque(ctx).release()
            throw SysError("pthread_create", code: Int32(DX_EAGAIN))
        }
    }

    public func join() {
        if let h = handle { _ = dx_thread_join(h) }
        handle = nil
    }
}

/// A pthread mutex (Synchronization.Mutex is not available in Embedded Swift).
public final class Lock {
    private let m: OpaquePointer

    public init() {
        guard let m = dx_mutex_new() else { fatalError("out of memory creating a mutex") }
        self.m = m
    }

    deinit { dx_mutex_free(m) }

    /// Lock and unlock without a closure (hot paths that hold it briefly).
    @inline(__always) public func acquire() { dx_mutex_lock(m) }
    @inline(__always) public func release() { dx_mutex_unlock(m) }

    public func withLock<T>(_ body: () -> T) -> T {
        dx_mutex_lock(m)
        defer { dx_mutex_unlock(m) }
        return body()
    }
}

/// A sequentially consistent Int32 cell shared between threads.
public final class AtomicInt32 {
    private let cell: UnsafeMutablePointer<Int32>

    public init(_ value: Int32 = 0) {
        guard let c = dx_atomic_new(value) else { fatalError("out of memory creating an atomic") }
        cell = c
    }

    deinit { dx_atomic_free(cell) }

    public func load() -> Int32 { dx_atomic_load(cell) }
    public func store(_ v: Int32) { dx_atomic_store(cell, v) }
}
