// The dnsmasq-format lease file, for tools that read it: "EXPIRY MAC IP
// NAME CLIENT-ID" per bound lease (EXPIRY 0 for infinite, `*` for no name
// or client id). Rewritten at most once a second, and never more often
// than 50 times what the last rewrite cost, so a large table keeps it
// under 2 % of a CPU.

import Core
import DHCP
import Runtime
import Sys

final class LeaseFile {
    var path: String
    private(set) var dirty = true
    /// No rewrite before this (monotonic ns).
    private var next: UInt64 = 0
    private var size = 0

    init(path: String) { self.path = path }

    func changed() { dirty = true }

    /// Rewrites the file if it changed and its pace allows.
    func writeIfDue(_ engines: [DHCPEngine], now: UInt64) {
        guard dirty else { return }
        guard !path.isEmpty else { dirty = false; return }
        let started = Sys.monotonicNanos()
        guard started >= next else { return }
        dirty = false
        var out: [UInt8] = []
        out.reserveCapacity(size + 4096)
        for e in engines {
            for (_, l) in e.byAddress where l.state == .bound && l.expires > now {
                out += (l.expires == UInt64.max ? "0" : String(l.expires)).utf8
                out.append(0x20)
                out += Text.mac(l.mac).utf8
                out.append(0x20)
                out += DHCPEngine.dotted(l.address).utf8
                out.append(0x20)
                out += (l.name ?? "*").utf8
                out.append(0x20)
                out += (l.client.first == 0xFF ? Text.mac(Array(l.client.dropFirst())) : "*").utf8
                out.append(0x0A)
            }
        }
        size = out.count
        do throws(SysError) { try FileSystem.writeFileAtomically(path, out) } catch {
            log.warn("cannot write the lease file \(path): \(error.description)")
        }
        let cost = Sys.monotonicNanos() &- started
        next = started &+ max(1_000_000_000, cost &* 50)
    }
}
