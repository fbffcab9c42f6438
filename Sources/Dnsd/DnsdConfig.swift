// dnsd's settings from the typed config: listen addresses, worker count,
// and the forwarding setup (upstream groups, who may recurse).

import Authority
import Config
import Daemon
import DNS
import Resolver
import Sys

extension DnsdService {
    /// The listen addresses (the schema's default: 0.0.0.0:53 and [::]:53).
    static func listenAddresses(_ c: Config) -> Result<[SocketAddress], UsageError> {
        var out: [SocketAddress] = []
        for text in c.dnsd.listen {
            guard let a = SocketAddress(hostPort: text, defaultPort: 53) else {
                return .failure(UsageError(message: "listen '\(text)': give an IP address (host names are not resolved)"))
            }
            out.append(a)
        }
        return .success(out)
    }

    /// `option workers`: 0 (the default) means one per CPU this process may use.
    static func workerCount(_ c: Config) -> Int {
        let n = c.dnsd.workers
        return max(1, min(n > 0 ? n : Sys.processorCount, maxWorkers))
    }

    /// The forwarding setup of `c`: `list forwarder` (the default group) and
    /// each `config forward` zone; nil when neither is configured.
    static func forwardSetup(_ c: Config, ownPrefixes: [(bytes: [UInt8], prefix: Int)]) -> (ForwardSetup?, [String]) {
        var errors: [String] = []
        var servers: [SocketAddress] = []
        func index(_ text: String, _ what: String) -> Int? {
            guard let a = SocketAddress(hostPort: text, defaultPort: 53) else {
                errors.append("\(what): '\(text)' is not an IP address (host names are not resolved)")
                return nil
            }
            if let i = servers.firstIndex(of: a) { return i }
            guard servers.count < 64 else {
                errors.append("\(what): more than 64 upstream servers; '\(text)' ignored")
                return nil
            }
            servers.append(a)
            return servers.count - 1
        }
        var groups: [ForwardSetup.Group] = []
        for section in c.forwards {
            // One group per zone of the section (a zone and its reverse zones share the servers).
            let what = "forward \(section.zones.first ?? "(no zone)")"
            let list = section.servers.compactMap { index($0, what) }
            guard !list.isEmpty else {
                errors.append("\(what): no server")
                continue
            }
            if section.zones.isEmpty { errors.append("forward: a section without `option zone`") }
            for zoneText in section.zones {
                guard !zoneText.isEmpty, let zone = try? DomainName(zoneText, origin: .root) else {
                    errors.append("forward: zone '\(zoneText)' is not a domain name")
                    continue
                }
                groups.append(ForwardSetup.Group(zone: zone, servers: list, fallbackLocal: section.fallbackLocal))
            }
        }
        let defaults = c.dnsd.forwarders.compactMap { index($0, "forwarder") }
        if !defaults.isEmpty { groups.append(ForwardSetup.Group(zone: nil, servers: defaults, fallbackLocal: false)) }
        guard !groups.isEmpty else { return (nil, errors) }
        var allow = AccessList()
        if c.dnsd.allowRecursion.isEmpty {
            // Loopback and the router's own subnets: never an open resolver.
            allow.add(bytes: [127, 0, 0, 0], prefix: 8)
            allow.add(bytes: [UInt8](repeating: 0, count: 15) + [1], prefix: 128)
            for p in ownPrefixes { allow.add(bytes: p.bytes, prefix: p.prefix) }
        } else {
            for text in c.dnsd.allowRecursion {
                if let cidr = CIDR(addressOrPrefix: text) { allow.add(bytes: cidr.address.bytes, prefix: cidr.prefix) }
            }
        }
        let timeout = UInt64(max(50, c.dnsd.upstreamTimeoutMs))
        return (ForwardSetup(servers: servers, groups: groups, allow: allow, timeoutMs: timeout), errors)
    }
}

/// The forwarding counters of every thread, summed into dnsd's status.
enum ResolverStatus {
    static func add(_ locals: [ResolverLocal], cacheEntries: Int, to s: inout Status) {
        typealias K = StatusKeys.Dnsd
        var hits: UInt64 = 0, misses: UInt64 = 0, stale: UInt64 = 0, refused: UInt64 = 0, fallback: UInt64 = 0
        var upq: UInt64 = 0, upt: UInt64 = 0, upf: UInt64 = 0, tcp: UInt64 = 0, coalesced: UInt64 = 0
        var latSum: UInt64 = 0, latCount: UInt64 = 0
        var rcodes = [UInt64](repeating: 0, count: 16)
        var qtypes = [UInt64](repeating: 0, count: ResolverLocal.typeNames.count)
        for l in locals {
            for i in 0..<qtypes.count { qtypes[i] &+= l.qtypes[i] }
            hits &+= l.cacheHits; misses &+= l.cacheMisses; stale &+= l.staleAnswers
            refused &+= l.recursionRefused; fallback &+= l.fallbackAnswers
            upq &+= l.upstreamQueries; upt &+= l.upstreamTimeouts; upf &+= l.upstreamFailures
            tcp &+= l.upstreamTCP; coalesced &+= l.coalesced
            latSum &+= l.latencySumUs; latCount &+= l.latencyCount
            for i in 0..<16 { rcodes[i] &+= l.rcodes[i] }
        }
        s.set(K.cacheEntries, cacheEntries)
        s.set(K.cacheHits, hits)
        s.set(K.cacheMisses, misses)
        s.set(K.staleAnswers, stale)
        s.set(K.recursionRefused, refused)
        s.set(K.fallbackAnswers, fallback)
        s.set(K.upstreamQueries, upq)
        s.set(K.upstreamErrors, upt)
        s.set(K.upstreamFailures, upf)
        s.set(K.upstreamTCP, tcp)
        s.set(K.coalesced, coalesced)
        s.set(K.upstreamLatencyMicros, latCount > 0 ? latSum / latCount : 0)
        for (i, k) in K.rcodes.enumerated() { s.set(k, rcodes[i]) }
        for (i, n) in ResolverLocal.typeNames.enumerated() where qtypes[i] > 0 {
            s.set(K.qtype(n, upper: Names.upper(n)), qtypes[i])
        }
    }
}
