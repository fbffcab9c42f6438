import Config
import Core
import Daemon
import Runtime
import Sys

/// `dnsbox ifaces`: interfaces and addresses as dnsbox sees them through
/// rtnetlink, address changes with labels (what bgpd does for lo:dns*), and a
/// watch of link/address events.
public enum IfacesCommand {
    static let usage = """
    dnsbox ifaces [list]
    dnsbox ifaces add IFNAME ADDRESS/PREFIX [LABEL]
    dnsbox ifaces del IFNAME ADDRESS/PREFIX
    dnsbox ifaces watch [SECONDS]
    """

    public static func main(_ args: [String]) -> Int32 {
        do throws(SysError) {
            let nl = try Netlink()
            switch args.first ?? "list" {
            case "list" where args.count <= 1:
                let addrs = try nl.addresses()
                for l in try nl.links() {
                    var line = "\(l.index): \(l.name) \(l.isUp ? "up" : "down") mtu \(l.mtu)"
                    if l.mac.count == 6 { line += " mac " + Text.mac(l.mac) }
                    Console.out(line + "\n")
                    for a in addrs where a.interfaceIndex == l.index {
                        let fam = a.address.family == .v4 ? "inet" : "inet6"
                        Console.out("    \(fam) \(a.address.ipString)/\(a.prefixLength)\(a.label.isEmpty || a.label == l.name ? "" : " label " + a.label)\n")
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
                    let n = watch.drain()
                    if n > 0 { Console.out("changed \(n)\n") }
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

    static func parsePrefix(_ s: String) -> (SocketAddress, Int)? {
        guard let cidr = CIDR(s) else { return nil }
        return (SocketAddress(family: cidr.address.isV4 ? .v4 : .v6, bytes: cidr.address.bytes, port: 0), cidr.prefix)
    }
}
