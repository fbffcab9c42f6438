// Links and addresses as the kernel has them, followed through rtnetlink
// events instead of polled. Applets subscribe; after a batch of events the
// watcher re-reads the tables (also after the kernel dropped notifications,
// ENOBUFS: the socket's buffer then grows, as odhcpd does) and tells the
// subscribers only when something they can see changed.

import Sys

public final class InterfaceWatcher {
    public private(set) var links: [Netlink.Link] = []
    public private(set) var addresses: [Netlink.Address] = []
    private let netlink: Netlink
    private let watch: NetlinkWatch
    /// Held strongly: deinit unregisters from it.
    let loop: EventLoop
    private var subscribers: [() -> Void] = []
    /// Re-reads done (for status and tests).
    public private(set) var refreshes: UInt64 = 0

    /// Subscribes to link and address events on `loop` and reads the tables.
    public init(loop: EventLoop) throws(SysError) {
        self.loop = loop
        netlink = try Netlink()
        watch = try NetlinkWatch()
        try loop.add(fd: watch.fd) { [unowned(unsafe) self] _ in
            let (changes, overflowed) = self.watch.read()
            if overflowed || !changes.isEmpty { self.refresh() }
        }
        links = try netlink.links()
        addresses = try netlink.addresses()
    }

    deinit { loop.remove(fd: watch.fd) }

    /// Calls `onChange` after every change of links or addresses.
    public func subscribe(_ onChange: @escaping () -> Void) {
        subscribers.append(onChange)
    }

    /// Re-reads links and addresses; tells the subscribers if they changed.
    public func refresh() {
        refreshes &+= 1
        guard let l = try? netlink.links(), let a = try? netlink.addresses() else { return }
        guard l != links || a != addresses else { return }
        links = l
        addresses = a
        for s in subscribers { s() }
    }

    /// The index of the interface named `name`, if it exists.
    public func index(of name: String) -> Int? {
        for l in links where l.name == name { return l.index }
        return nil
    }

    /// The addresses of interface `name` (IPv4 first, in the kernel's order).
    public func addresses(of name: String) -> [Netlink.Address] {
        guard let i = index(of: name) else { return [] }
        let mine = addresses.filter { $0.interfaceIndex == i }
        return mine.filter { $0.address.family == .v4 } + mine.filter { $0.address.family == .v6 }
    }

    /// The first IPv4 address and prefix of interface `name`.
    public func ipv4(of name: String) -> (address: UInt32, prefix: Int)? {
        for a in addresses(of: name) where a.address.family == .v4 {
            var v: UInt32 = 0
            for b in a.address.bytes { v = v << 8 | UInt32(b) }
            return (v, a.prefixLength)
        }
        return nil
    }

    /// The IPv4 network and prefix of each named interface that has one.
    public func ipv4Subnets(_ names: [String]) -> [String: (UInt32, Int)] {
        var out: [String: (UInt32, Int)] = [:]
        for n in names {
            guard let (v, p) = ipv4(of: n) else { continue }
            let mask = p == 0 ? 0 : UInt32.max << UInt32(32 - min(p, 32))
            out[n] = (v & mask, p)
        }
        return out
    }
}
