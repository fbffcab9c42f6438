// The compiled, immutable form of the zones a server answers from: built
// once off the hot path (allocating freely), then only read. A reload builds
// a new `Snapshot` and swaps the reference; queries in flight keep the old.

import DNS
import Zone

/// A-or-AAAA data of a name, precomputed for an additional section (glue for
/// a referral, targets of MX/SRV/NS answers).
public struct AddressSet {
    public let owner: DomainName
    public let type: RRType
    public let ttl: UInt32
    public let rdatas: [RData]
}

/// The records of one owner and type (RFC 2181 §5). TTL is the smallest of
/// the records' TTLs (they should all be equal, §5.2).
public struct RRSet {
    public let type: RRType
    public let ttl: UInt32
    public let rdatas: [RData]
    /// For a CNAME: the target's offset in the snapshot's name arena; else -1.
    let targetOffset: Int
    /// For NS/MX/SRV: addresses of in-zone targets, for the additional section.
    public let additional: [AddressSet]
}

/// One name in a zone: its RRsets (empty for an empty non-terminal).
public struct Node {
    public let rrsets: [RRSet]
    /// NS here and not at the apex: names at and below are referred.
    public let isDelegation: Bool
    /// Index in the zone's node list of the `*` child, or -1.
    let wildcard: Int

    /// The RRset of `type`, or nil. Hot-path safe.
    func rrset(_ type: RRType) -> RRSet? {
        var i = 0
        while i < rrsets.count {
            if rrsets[i].type == type { return rrsets[i] }
            i &+= 1
        }
        return nil
    }
}

/// One zone, compiled.
public struct CompiledZone {
    public let origin: DomainName
    public let soa: RData
    public let soaTTL: UInt32
    /// min(SOA TTL, SOA MINIMUM): TTL of the SOA in negative answers
    /// (RFC 2308 §3, §5).
    public let negativeTTL: UInt32
    /// owner → index in `nodes`: every owner plus every empty non-terminal
    /// between an owner and the apex.
    let index: NameTable<Int>
    let nodes: [Node]
}

/// All zones served, by origin. Immutable after `init`.
public final class Snapshot {
    let zoneIndex: NameTable<Int>
    let zones: [CompiledZone]
    /// Uncompressed wire names (CNAME targets), read as `NameView`s on the
    /// hot path so chains are followed without building names.
    let arena: UnsafeMutableRawBufferPointer

    /// Compiles `zones`. Zones without a SOA are skipped (the zone parser
    /// never produces one); a later zone with the same origin replaces an
    /// earlier one.
    public init(zones input: [Zone]) {
        var zoneIndex = NameTable<Int>(capacity: input.count)
        var zones: [CompiledZone] = []
        var arenaBytes: [UInt8] = []
        var i = 0
        while i < input.count {
            let z = input[i]
            i &+= 1
            guard let c = Snapshot.compile(z, arena: &arenaBytes) else { continue }
            if let old = zoneIndex[z.origin] {
                zones[old] = c
            } else {
                zoneIndex.insert(zones.count, for: z.origin)
                zones.append(c)
            }
        }
        self.zoneIndex = zoneIndex
        self.zones = zones
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: arenaBytes.count == 0 ? 1 : arenaBytes.count,
                                                       alignment: 1)
        var k = 0
        while k < arenaBytes.count {
            a[k] = arenaBytes[k]
            k &+= 1
        }
        arena = a
    }

    deinit { arena.deallocate() }
}

/// Shared by all workers: nothing is written after `init`, and the arena is
/// freed only when the last reference goes.
extension Snapshot: @unchecked Sendable {}

extension Snapshot {

    /// Number of zones served.
    public var zoneCount: Int { zones.count }

    /// The name at `offset` in the arena. Never fails for offsets recorded
    /// at compile time; nil otherwise.
    func arenaName(at offset: Int) -> NameView? {
        do throws(DNSError) {
            var r = ByteReader(UnsafeRawBufferPointer(arena), offset: offset)
            return try NameView.read(&r)
        } catch {
            return nil
        }
    }

    struct Builder {
        var types: [RRType] = []
        var ttls: [UInt32] = []
        var data: [[RData]] = []
    }

    static func compile(_ z: Zone, arena: inout [UInt8]) -> CompiledZone? {
        guard let soa = z.soa else { return nil }
        var soaTTL: UInt32 = 0
        var names: [DomainName] = []
        var builders: [Builder] = []
        var table = NameTable<Int>(capacity: z.records.count &+ 1)
        func node(_ n: DomainName) -> Int {
            if let i = table[n] { return i }
            table.insert(names.count, for: n)
            names.append(n)
            builders.append(Builder())
            return names.count &- 1
        }
        _ = node(z.origin)
        for rr in z.records {
            guard rr.owner.isSubdomain(of: z.origin) else { continue }
            let n = node(rr.owner)
            if rr.type == .soa && rr.owner == z.origin { soaTTL = rr.ttl }
            var b = builders[n]
            if let t = b.types.firstIndex(of: rr.type) {
                if !b.data[t].contains(rr.rdata) { b.data[t].append(rr.rdata) }
                if rr.ttl < b.ttls[t] { b.ttls[t] = rr.ttl }
            } else {
                b.types.append(rr.type)
                b.ttls.append(rr.ttl)
                b.data.append([rr.rdata])
            }
            builders[n] = b
            // Empty non-terminals: every ancestor up to the apex.
            var p = rr.owner.parent
            while let q = p, q.labelCount > z.origin.labelCount {
                _ = node(q)
                p = q.parent
            }
        }
        // Addresses of a name in this zone, for additional sections.
        func addresses(_ target: DomainName) -> [AddressSet] {
            guard let i = table[target] else { return [] }
            var out: [AddressSet] = []
            let b = builders[i]
            for (k, t) in b.types.enumerated() where t == .a || t == .aaaa {
                out.append(AddressSet(owner: names[i], type: t, ttl: b.ttls[k], rdatas: b.data[k]))
            }
            return out
        }
        var nodes: [Node] = []
        nodes.reserveCapacity(names.count)
        for (i, name) in names.enumerated() {
            let b = builders[i]
            var sets: [RRSet] = []
            for (k, t) in b.types.enumerated() {
                var target = -1
                var extra: [AddressSet] = []
                for rd in b.data[k] {
                    switch rd {
                    case .cname(let n):
                        target = arena.count
                        arena.append(contentsOf: n.wire)
                    case .ns(let n): extra += addresses(n)
                    case .mx(_, let n): extra += addresses(n)
                    case .srv(let s): extra += addresses(s.target)
                    default: break
                    }
                }
                sets.append(RRSet(type: t, ttl: b.ttls[k], rdatas: b.data[k], targetOffset: target,
                                  additional: extra))
            }
            var wildcard = -1
            if let w = try? name.prepending(label: [0x2A]), let wi = table[w] { wildcard = wi }
            let delegation = name != z.origin && b.types.contains(.ns)
            nodes.append(Node(rrsets: sets, isDelegation: delegation, wildcard: wildcard))
        }
        let neg = soaTTL < soa.minimum ? soaTTL : soa.minimum
        return CompiledZone(origin: z.origin, soa: .soa(soa), soaTTL: soaTTL, negativeTTL: neg,
                            index: table, nodes: nodes)
    }
}
