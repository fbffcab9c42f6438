import Runtime
import Store
import Sys

/// dhcpd's commit thread: pipelined group commit.
///
/// The packet thread decides every packet at once (the engine's table is
/// the truth it answers from), sends what promises nothing (OFFER, NAK) and
/// hands each batch's lease changes here as a group, keeping its ACKs. This
/// thread takes every group queued while its previous commit was syncing,
/// commits them in one transaction (one fsync), and reports them done; the
/// packet thread then sends their ACKs. So the packet thread never waits on
/// the disk, and an ACK still leaves only once its lease is durable.
///
/// Contract: after `start`, only this thread uses `store`.
final class LeaseCommitter {
    struct Done {
        var id: UInt64
        var error: String?
    }

    private let store: Store
    private let lock = Lock()
    private var queued: [(id: UInt64, upserts: [StoredLease], removing: [String])] = []
    private var finished: [Done] = []
    private let loop: EventLoop
    unowned(unsafe) let mainLoop: EventLoop
    private var thread: Thread?
    private let stopping = AtomicInt32(0)
    private var nextID: UInt64 = 0
    /// Transactions committed (for status).
    let commits = AtomicInt32(0)

    init(store: Store, mainLoop: EventLoop) throws(SysError) {
        self.store = store
        self.mainLoop = mainLoop
        loop = try EventLoop()
    }

    func start() throws(SysError) {
        thread = try Thread { [unowned(unsafe) self] in self.run() }
    }

    /// Queues a group; its id comes back through `takeFinished`.
    func submit(upserts: [StoredLease], removing: [String]) -> UInt64 {
        nextID &+= 1
        let id = nextID
        lock.acquire()
        queued.append((id, upserts, removing))
        lock.release()
        loop.wake()
        return id
    }

    /// Groups committed (or failed) since the last call, in order.
    func takeFinished() -> [Done] {
        lock.acquire()
        let out = finished
        finished.removeAll()
        lock.release()
        return out
    }

    /// Commits what is queued and stops the thread.
    func stop() {
        stopping.store(1)
        loop.wake()
        thread?.join()
        thread = nil
    }

    private func run() {
        while true {
            lock.acquire()
            let batch = queued
            queued.removeAll()
            lock.release()
            if batch.isEmpty {
                if stopping.load() != 0 { return }
                _ = loop.runOnce(timeoutMs: 250)
                continue
            }
            var failure: String? = nil
            do throws(StoreError) {
                try store.commitLeaseGroups(batch.map { ($0.upserts, $0.removing) })
            } catch {
                failure = error.description
            }
            commits.store(commits.load() &+ 1)
            lock.acquire()
            for g in batch { finished.append(Done(id: g.id, error: failure)) }
            lock.release()
            mainLoop.wake()
        }
    }
}
