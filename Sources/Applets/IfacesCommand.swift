import Config
import Runtime
import Sys

/// `dnsbox ifaces`: interfaces and addresses as dnsbox sees them through
/// rtnetlink, address changes with labels (what bgpd does for lo:dns*), and a
/// watch of link/address events.
enum IfacesCommand {
    static let usage = """
    dnsbox ifaces [list]
    dnsbox ifaces add IFNAME ADDRESS/PREFIX [LABEL]
    dnsbox ifaces del IFNAME ADDRESS/PREFIX
    dnsbox ifaces watch [SECONDS]
    """

    static func main(_ args: [String]) -> Int32 {
        do throws(SysError) {
            let nl = try Netlink()
            switch args.first ?? "list" {
            case "list" where args.count <= 1:
                let addrs = try nl.addresses()
                for l in try nl.links() {
                    var line = "\(l.index): \(l.name) \(linkState(l)) mtu \(l.mtu)"
                    if l.mac.count == 6 { line += " mac " + macString(l.mac) }
                    Console.out(line + "\n")
                    for a in addrs where a.interfaceIndex == l.index {
                        let fam = a.address.family == .v4 ? "inet" : "inet6"
                        let label = a.label.isEmpty || a.label == l.name ? "" : " label " + a.label
                        Console.out("    \(fam) \(a.address.ipString)/\(a.prefixLength)\(label)\(addressState(a))\n")
                    }
                }
            case "add" where args.count == 3 || args.count == 4, "del" where args.count == 3:
                guard let index = nl.index(of: args[1]) else { throw SysError("no interface '\(args[1])'", code: 19) }
                guard let (addr, prefix) = parsePrefix(args[2]) else {
                    Console.err("dnsbox ifaces: bad ADDRESS/PREFIX '\(args[2])'\n")
                    return ExitCode.usage
                }
                if args[0] == "add" {
                    try nl.addAddress(addr, prefixLength: prefix, interface: index, label: args.count == 4 ? args[3] : "")
                } else {
                    try nl.removeAddress(addr, prefixLength: prefix, interface: index)
                }
            case "watch" where args.count <= 2:
                let seconds = args.count == 2 ? UInt64(args[1]) ?? 0 : 0
                let watch = try NetlinkWatch()
                let loop = try EventLoop()
                try loop.add(fd: watch.fd) { _ in
                    let (changes, overflowed) = watch.read()
                    var out = ""
                    for c in changes { out += changeLine(c) + "\n" }
                    if overflowed { out += "overflow (notifications lost: re-dump)\n" }
                    if !out.isEmpty { Console.out(out) }
                }
                if seconds > 0 { loop.schedule(after: seconds * 1000) { loop.stop() } }
                Console.out("watching\n")
                loop.run()
            default:
                Console.err("Usage: \(usage)\n")
                return ExitCode.usage
            }
            return ExitCode.ok
        } catch {
            Console.err("dnsbox ifaces: \(error.description)\n")
            return ExitCode.failure
        }
    }

    /// One line per change: `+link 3 veth0 up running mtu 1500`,
    /// `-addr 2 198.51.100.7/24 label veth0`, `+addr 2 2001:db8::1/64 tentative valid 3600 preferred 1800`.
    static func changeLine(_ c: NetlinkWatch.Change) -> String {
        switch c {
        case .link(let l, let removed):
            return "\(removed ? "-" : "+")link \(l.index) \(l.name) \(linkState(l)) mtu \(l.mtu)"
        case .address(let a, let removed):
            let label = a.label.isEmpty ? "" : " label " + a.label
            return "\(removed ? "-" : "+")addr \(a.interfaceIndex) \(a.address.ipString)/\(a.prefixLength)\(label)\(addressState(a))"
        }
    }

    /// "up" or "down", then "running" when operational, "no-carrier" when up without one.
    static func linkState(_ l: Netlink.Link) -> String {
        var s = l.isUp ? "up" : "down"
        if l.isRunning { s += " running" } else if l.isUp && !l.hasCarrier { s += " no-carrier" }
        return s
    }

    /// The address flags and finite lifetimes that matter to a user of the address.
    static func addressState(_ a: Netlink.Address) -> String {
        var s = ""
        if a.isTentative { s += " tentative" }
        if a.isDeprecated { s += " deprecated" }
        if a.isDADFailed { s += " dadfailed" }
        if let v = a.validLifetime { s += " valid \(v)" }
        if let p = a.preferredLifetime { s += " preferred \(p)" }
        return s
    }

    static func parsePrefix(_ s: String) -> (SocketAddress, Int)? {
        guard let cidr = CIDR(s) else { return nil }
        return (SocketAddress(family: cidr.address.isV4 ? .v4 : .v6, bytes: cidr.address.bytes, port: 0), cidr.prefix)
    }

    static func macString(_ mac: [UInt8]) -> String {
        let hex: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        var s = ""
        for (i, b) in mac.enumerated() {
            if i > 0 { s += ":" }
            s.append(hex[Int(b >> 4)])
            s.append(hex[Int(b & 15)])
        }
        return s
    }
}
