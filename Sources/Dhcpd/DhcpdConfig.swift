// dhcpd's pools from the typed config: a `dhcp` section on an interface
// with an IPv4 address/prefix becomes a `DHCPPool` (start and limit are
// offsets into the subnet, as OpenWrt), with the `host` reservations in it.

import Config
import Core
import Daemon
import DHCP
import Store

enum DhcpdConfig {
    /// A duration text or 'infinite', in seconds.
    static func leaseSeconds(_ text: String?) -> UInt32? {
        guard let t = text else { return nil }
        if t == "infinite" { return DHCPPool.infinite }
        guard let ms = Duration.parseMilliseconds(t), ms >= 60_000 else { return nil }
        return UInt32(min(ms / 1000, Int(UInt32.max - 1)))
    }

    static func ipv4(_ text: String?) -> UInt32? {
        guard let t = text, let a = IPAddress(t), a.bytes.count == 4 else { return nil }
        return a.bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// `list option 'CODE,VALUE'`: addresses when every part is one, else text.
    static func extraOption(_ text: String) -> (code: UInt8, value: [UInt8])? {
        let parts = text.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let code = UInt8(Text.trimmed(parts[0])), code > 0, code < 255 else { return nil }
        let rest = String(parts[1])
        let items = rest.split(separator: ",").map { Text.trimmed($0) }
        let addrs = items.compactMap { ipv4($0) }
        if !items.isEmpty && addrs.count == items.count { return (code, addrs.flatMap { DHCPMessage.addressBytes($0) }) }
        return (code, Array(rest.utf8))
    }

    /// The pool of section `s` on an interface with `address`/`prefix`.
    static func pool(_ s: DHCPSection, hosts: [HostSection], address: UInt32, prefix: Int) -> Result<DHCPPool, UsageError> {
        let iface = s.interface ?? "?"
        var probe = DHCPPool(serverAddress: address, prefixLength: prefix, first: 0, count: 0)
        let start = UInt32(clamping: s.start)
        let first = probe.network &+ start
        // Keep the pool inside the subnet, before its broadcast address.
        let room = Int(probe.broadcast) - Int(first)
        guard room > 0, prefix < 31 else {
            return .failure(UsageError(message: "dhcp \(iface): start \(start) is outside the subnet of \(DHCPEngine.dotted(address))/\(prefix)"))
        }
        probe.first = first
        probe.count = min(s.limit, room)
        guard let lt = leaseSeconds(s.leasetime) else {
            return .failure(UsageError(message: "dhcp \(iface): leasetime '\(s.leasetime)': give a duration of at least 1m, or 'infinite'"))
        }
        probe.leaseTime = lt
        probe.domain = s.domain
        probe.dns = s.dns.compactMap { ipv4($0) }
        probe.router = ipv4(s.router)
        probe.search = s.search
        probe.nextServer = ipv4(s.nextServer)
        probe.bootFile = s.bootFile
        probe.bootFileEFI = s.bootFileEFI
        probe.ipxeURL = s.ipxeBootURL
        for o in s.options {
            guard let e = extraOption(o) else {
                return .failure(UsageError(message: "dhcp \(iface): option '\(o)': give CODE,VALUE with CODE 1-254"))
            }
            probe.extra.append(e)
        }
        for h in hosts {
            guard let ipText = h.ip, let a = ipv4(ipText), probe.inSubnet(a) else { continue }
            let macs = h.macs.compactMap { Text.parseMAC($0) }
            guard !macs.isEmpty else { continue }
            var lt: UInt32? = nil
            if let t = h.leasetime {
                guard let v = leaseSeconds(t) else {
                    return .failure(UsageError(message: "host \(ipText): leasetime '\(t)': give a duration of at least 1m, or 'infinite'"))
                }
                lt = v
            }
            let name = h.name.flatMap { DHCPNames.sanitize(Array($0.utf8)) }
            probe.reservations.append(DHCPPool.Reservation(macs: macs, address: a, name: name, leaseTime: lt))
        }
        return .success(probe)
    }

    static func lease(from s: StoredLease) -> DHCPLease? {
        guard let a = ipv4(s.address), let state = DHCPLease.State(rawValue: UInt8(truncatingIfNeeded: s.state)) else { return nil }
        return DHCPLease(client: s.client, mac: Text.parseMAC(s.mac) ?? [], address: a,
                         expires: s.expires < 0 ? UInt64.max : UInt64(s.expires), state: state, name: s.name)
    }

    static func stored(_ l: DHCPLease, interface: String) -> StoredLease {
        StoredLease(address: DHCPEngine.dotted(l.address), interface: interface, client: l.client, mac: Text.mac(l.mac),
                    expires: l.expires == UInt64.max ? -1 : Int64(l.expires), state: Int(l.state.rawValue), name: l.name)
    }
}
