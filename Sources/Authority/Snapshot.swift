// The compiled, immutable form of the zones a server answers from: built
// once off the hot path (allocating freely), then only read. A reload builds
// a new `Snapshot` and swaps the reference; queries in flight keep the old.
//
// Layout: everything a query needs is in flat arrays of integers and one
// byte arena per snapshot, so answering touches no per-record objects (no
// retain/release, no enum payloads) and a record is written by copying its
// precomputed wire RDATA. Names inside RDATA that DNS compresses (NS,
// CNAME, PTR, MX; RFC 1035 §4.1.4, RFC 3597 §4) are marked so the writer
// can still compress them; SOA is written from its typed form.

import Core
import DNS
import Zone

/// How a record's RDATA is written.
enum RDataForm: UInt8 {
    /// Copied as is.
    case raw = 0
    /// A name fills the RDATA from offset 0 (NS, CNAME, PTR): compressed.
    case name = 1
    /// A 2-byte preference, then a name (MX): the name compressed.
    case prefName = 2
    /// SOA: written from the zone's typed SOA (two compressible names).
    case soa = 3
}

/// One zone, compiled. A class: shared by reference, never copied field
/// by field on the hot path.
public final class CompiledZone {
    public let origin: DomainName
    public let soa: RData
    public let soaTTL: UInt32
    /// min(SOA TTL, SOA MINIMUM): TTL of the SOA in negative answers
    /// (RFC 2308 §3, §5).
    public let negativeTTL: UInt32
    /// owner → node: every owner plus every empty non-terminal between an
    /// owner and the apex. The apex is node 0.
    let index: NameTable<Int>

    // Nodes: node n owns RRsets nodeSets[n] ..< nodeSets[n + 1].
    let nodeSets: [Int32]
    /// NS here and not at the apex: names at and below are referred.
    let nodeDelegation: [Bool]
    /// Node index of the `*` child, or -1.
    let nodeWildcard: [Int32]

    // RRsets: set s holds records setRecords[s] ..< setRecords[s + 1].
    let setType: [UInt16]
    let setTTL: [UInt32]
    let setRecords: [Int32]
    /// For a CNAME: the target's offset in the snapshot's arena; else -1.
    let setTarget: [Int32]
    /// For NS/MX/SRV: address sets of in-zone targets,
    /// extras setExtras[s] ..< setExtras[s + 1].
    let setExtras: [Int32]

    // Records: RDATA wire form in the arena.
    let recordStart: [Int32]
    let recordLength: [UInt16]
    let recordForm: [UInt8]

    // Additional data: an A or AAAA set (`extraSet`) owned by the name at
    // arena offset `extraOwner` (uncompressed wire form).
    let extraOwner: [Int32]
    let extraSet: [Int32]
    /// Uncompressed wire names (CNAME targets, owners of additional data)
    /// and every record's RDATA, read in place on the hot path.
    let arena: UnsafeMutableRawBufferPointer
    /// Per node: some owner lies below it (off the hot path).
    let nodeHasChildren: [Bool]
    /// The NS, MX and SRV targets in this zone (off the hot path).
    let targets: NameTable<Int>

    /// For a zone under a layer: the zone as compiled, whose arrays and
    /// arena this one shares, and the changed owners (`ZoneLayer`).
    public let base: CompiledZone?
    public let layer: ZoneLayer?
    /// The owners the last layer update changed, and the serial it
    /// started from (the journal's difference).
    public let layerChanges: [DomainName]
    public let layerFromSerial: UInt32

    deinit { if base == nil { arena.deallocate() } }

    init(arena bytes: [UInt8], origin: DomainName, soa: RData, soaTTL: UInt32, negativeTTL: UInt32, index: NameTable<Int>,
         nodeSets: [Int32], nodeDelegation: [Bool], nodeWildcard: [Int32],
         setType: [UInt16], setTTL: [UInt32], setRecords: [Int32], setTarget: [Int32], setExtras: [Int32],
         recordStart: [Int32], recordLength: [UInt16], recordForm: [UInt8],
         extraOwner: [Int32], extraSet: [Int32], nodeHasChildren: [Bool], targets: NameTable<Int>) {
        self.origin = origin
        self.soa = soa
        self.soaTTL = soaTTL
        self.negativeTTL = negativeTTL
        self.index = index
        self.nodeSets = nodeSets
        self.nodeDelegation = nodeDelegation
        self.nodeWildcard = nodeWildcard
        self.setType = setType
        self.setTTL = setTTL
        self.setRecords = setRecords
        self.setTarget = setTarget
        self.setExtras = setExtras
        self.recordStart = recordStart
        self.recordLength = recordLength
        self.recordForm = recordForm
        self.extraOwner = extraOwner
        self.extraSet = extraSet
        self.nodeHasChildren = nodeHasChildren
        self.targets = targets
        base = nil
        layer = nil
        layerChanges = []
        layerFromSerial = 0
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count == 0 ? 1 : bytes.count, alignment: 8)
        bytes.withUnsafeBytes { src in
            if let s = src.baseAddress, let d = a.baseAddress, src.count > 0 { d.copyMemory(from: s, byteCount: src.count) }
        }
        arena = a
    }

    /// `previous` with `changes` applied through its layer, answering with
    /// `soa` (the new serial). The compiled data is shared, not copied.
    @_optimize(size) public init(_ previous: CompiledZone, soa: SOA, changes: [ZoneLayer.Change]) {
        let z = previous.root
        origin = z.origin
        self.soa = .soa(soa)
        soaTTL = z.soaTTL
        negativeTTL = z.soaTTL < soa.minimum ? z.soaTTL : soa.minimum
        index = z.index
        nodeSets = z.nodeSets
        nodeDelegation = z.nodeDelegation
        nodeWildcard = z.nodeWildcard
        setType = z.setType
        setTTL = z.setTTL
        setRecords = z.setRecords
        setTarget = z.setTarget
        setExtras = z.setExtras
        recordStart = z.recordStart
        recordLength = z.recordLength
        recordForm = z.recordForm
        extraOwner = z.extraOwner
        extraSet = z.extraSet
        arena = z.arena
        nodeHasChildren = z.nodeHasChildren
        targets = z.targets
        base = z
        layer = (previous.layer ?? ZoneLayer()).updating(changes)
        layerChanges = changes.map { $0.owner }
        layerFromSerial = previous.serial
    }

    /// The SOA serial.
    public var serial: UInt32 {
        if case .soa(let s) = soa { return s.serial }
        return 0
    }

    /// Bytes held by the compiled zone's arrays and arena, and its layer.
    public var memoryBytes: Int {
        var n = index.memoryBytes + arena.count + (layer?.memoryBytes ?? 0) + targets.memoryBytes + nodeHasChildren.count
        n += 4 * (nodeSets.count + nodeWildcard.count) + nodeDelegation.count
        n += 2 * setType.count + 4 * (setTTL.count + setRecords.count + setTarget.count + setExtras.count)
        n += 4 * recordStart.count + 2 * recordLength.count + recordForm.count
        n += 4 * (extraOwner.count + extraSet.count)
        return n
    }

    /// Number of nodes (owners and empty non-terminals).
    public var nodeCount: Int { nodeSets.count &- 1 }

    /// Number of records (the SOA included).
    public var recordCount: Int { recordStart.count }

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

    /// Length of the uncompressed wire name at `offset` in the arena.
    func wireLength(at offset: Int) -> Int {
        var p = offset
        while p < arena.count {
            let n = Int(arena[p])
            if n == 0 { return p &+ 1 &- offset }
            p &+= n &+ 1
        }
        return 0
    }

    /// `count` bytes of the arena from `offset`.
    @inline(__always)
    func bytes(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(arena)[offset..<(offset &+ count)])
    }

    /// Number of RRsets at node `n` (0 for an empty non-terminal).
    @inline(__always)
    func setCount(_ n: Int) -> Int { Int(nodeSets[n &+ 1]) &- Int(nodeSets[n]) }

    /// The RRset of `type` at node `n`, or -1. Hot-path safe.
    func set(_ n: Int, _ type: RRType) -> Int {
        var s = Int(nodeSets[n])
        let end = Int(nodeSets[n &+ 1])
        while s < end {
            if setType[s] == type.rawValue { return s }
            s &+= 1
        }
        return -1
    }
}

/// Where a snapshot's zone comes from: freshly loaded records, or a zone
/// compiled for an earlier snapshot (kept when its new version failed).
public enum ZoneSource {
    case zone(Zone)
    case compiled(CompiledZone)
}

/// One zone of a snapshot: where it comes from and its policy.
public struct SnapshotZone {
    public var source: ZoneSource
    public var policy: ZonePolicy

    public init(_ source: ZoneSource, policy: ZonePolicy = ZonePolicy()) {
        self.source = source
        self.policy = policy
    }
}

/// All zones served, by origin. Immutable after `init`.
public final class Snapshot {
    let zoneIndex: NameTable<Int>
    let zones: [CompiledZone]
    /// Transfer and NOTIFY policy, by the index of the zone.
    let policies: [ZonePolicy]

    /// Compiles `zones`. Zones without a SOA are skipped (the zone parser
    /// never produces one); a later zone with the same origin replaces an
    /// earlier one.
    public convenience init(zones input: [Zone]) {
        self.init(input.map { SnapshotZone(.zone($0)) })
    }

    public convenience init(sources: [ZoneSource]) {
        self.init(sources.map { SnapshotZone($0) })
    }

    public init(_ sources: [SnapshotZone]) {
        let zoneIndex = NameTable<Int>(capacity: sources.count)
        var zones: [CompiledZone] = []
        var policies: [ZonePolicy] = []
        var i = 0
        while i < sources.count {
            let c: CompiledZone
            let policy = sources[i].policy
            switch sources[i].source {
            case .zone(let z):
                guard let compiled = Snapshot.compile(z) else { i &+= 1; continue }
                c = compiled
            case .compiled(let compiled):
                c = compiled
            }
            i &+= 1
            if let old = zoneIndex[c.origin] {
                zones[old] = c
                policies[old] = policy
            } else {
                zoneIndex.insert(zones.count, for: c.origin)
                zones.append(c)
                policies.append(policy)
            }
        }
        self.zoneIndex = zoneIndex
        self.zones = zones
        self.policies = policies
    }

    private init(zoneIndex: NameTable<Int>, zones: [CompiledZone], policies: [ZonePolicy]) {
        self.zoneIndex = zoneIndex
        self.zones = zones
        self.policies = policies
    }

    /// This snapshot with the zones' journals set (nil: none); the
    /// compiled zones and their index are shared, not copied.
    public func with(journals: (CompiledZone) -> Journal?) -> Snapshot {
        var p = policies
        var i = 0
        while i < zones.count {
            p[i].journal = journals(zones[i])
            i &+= 1
        }
        return Snapshot(zoneIndex: zoneIndex, zones: zones, policies: p)
    }
}

/// Shared by all workers: nothing is written after `init`, and each zone's
/// arena is freed only when the last reference goes.
extension Snapshot: @unchecked Sendable {}
extension CompiledZone: @unchecked Sendable {}

extension Snapshot {

    /// Number of zones served.
    public var zoneCount: Int { zones.count }

    /// Bytes held by all compiled zones.
    public var memoryBytes: Int {
        var n = zoneIndex.memoryBytes
        for z in zones { n &+= z.memoryBytes }
        return n
    }

    /// The compiled zones, in the order given.
    public var compiledZones: [CompiledZone] { zones }

    /// Labels of the origin of the closest zone enclosing `name`, or -1
    /// when no zone does (the forwarding decision). Allocation-free.
    public func enclosingZoneLabels(_ name: NameView, hashes: SuffixHashes) -> Int {
        guard let e = zoneIndex.closestEncloser(of: name, hashes: hashes) else { return -1 }
        return name.labelCount &- e.labelsDropped
    }

    /// The zone whose apex is `origin`, if served.
    public func zone(named origin: DomainName) -> CompiledZone? {
        guard let i = zoneIndex[origin] else { return nil }
        return zones[i]
    }

    /// The zone whose apex is `origin` and its policy, if served.
    public func zoneAndPolicy(named origin: DomainName) -> (CompiledZone, ZonePolicy)? {
        guard let i = zoneIndex[origin] else { return nil }
        return (zones[i], policies[i])
    }

    /// The zones with their policies, in the order given.
    public var zonesWithPolicies: [(zone: CompiledZone, policy: ZonePolicy)] {
        var out: [(zone: CompiledZone, policy: ZonePolicy)] = []
        var i = 0
        while i < zones.count {
            out.append((zones[i], policies[i]))
            i &+= 1
        }
        return out
    }

    /// Compiles the packed records of `z` (ZoneData): the zone's name table
    /// becomes the index; RRsets are numbered node by node, types in order
    /// of first appearance, records in file order (duplicates dropped unless
    /// the parser already did).
    @_optimize(size) static func compile(_ z: Zone) -> CompiledZone? {
        let d = z.data
        guard let soa = d.soa else { return nil }
        let table = d.nodes
        let nodeCount = d.nodeCount
        let recordCount = d.recordCount
        // The records of each node, in file order (a counting sort).
        var nodeFirst = [Int32](repeating: 0, count: nodeCount &+ 1)
        var r = 0
        while r < recordCount {
            nodeFirst[Int(d.recordNode[r]) &+ 1] &+= 1
            r &+= 1
        }
        var n = 0
        while n < nodeCount {
            nodeFirst[n &+ 1] &+= nodeFirst[n]
            n &+= 1
        }
        var order = [Int32](repeating: 0, count: recordCount)
        var fill = nodeFirst
        r = 0
        while r < recordCount {
            let k = Int(d.recordNode[r])
            order[Int(fill[k])] = Int32(truncatingIfNeeded: r)
            fill[k] &+= 1
            r &+= 1
        }
        fill = []

        // Pass 1: the RRsets and their members.
        var nodeSets: [Int32] = [0]
        var setType: [UInt16] = []
        var setTTL: [UInt32] = []
        var setRecords: [Int32] = [0]
        var members: [Int32] = []
        nodeSets.reserveCapacity(nodeCount &+ 1)
        members.reserveCapacity(recordCount)
        var soaTTL: UInt32 = 0
        n = 0
        while n < nodeCount {
            let lo = Int(nodeFirst[n]), hi = Int(nodeFirst[n &+ 1])
            let firstSet = setType.count
            if d.nodeParent[n] != -2 {
                var k = lo
                while k < hi {
                    let t = d.recordType[Int(order[k])]
                    var s = firstSet
                    while s < setType.count && setType[s] != t { s &+= 1 }
                    if s == setType.count {
                        let start = members.count
                        var ttl = UInt32.max
                        var j = k
                        while j < hi {
                            let q = Int(order[j])
                            if d.recordType[q] == t {
                                var dup = false
                                if !d.unique {
                                    var m = start
                                    while m < members.count && !dup {
                                        dup = d.sameRData(Int(members[m]), q)
                                        m &+= 1
                                    }
                                }
                                if !dup {
                                    members.append(Int32(truncatingIfNeeded: q))
                                    if d.recordTTL[q] < ttl { ttl = d.recordTTL[q] }
                                }
                            }
                            j &+= 1
                        }
                        if n == 0 && t == RRType.soa.rawValue { soaTTL = d.recordTTL[Int(members[start])] }
                        setType.append(t)
                        setTTL.append(ttl)
                        setRecords.append(Int32(truncatingIfNeeded: members.count))
                    }
                    k &+= 1
                }
            }
            nodeSets.append(Int32(truncatingIfNeeded: setType.count))
            n &+= 1
        }
        nodeFirst = []
        order = []

        // Pass 2: the arena (RDATA, owners of additional data) and the
        // additional-data sets of NS, MX and SRV targets.
        var arena: [UInt8] = []
        arena.reserveCapacity(d.rdata.count &+ d.rdata.count / 4)
        var setTarget = [Int32](repeating: -1, count: setType.count)
        var setExtras: [Int32] = [0]
        setExtras.reserveCapacity(setType.count &+ 1)
        var recordStart: [Int32] = []
        var recordLength: [UInt16] = []
        var recordForm: [UInt8] = []
        recordStart.reserveCapacity(members.count)
        recordLength.reserveCapacity(members.count)
        recordForm.reserveCapacity(members.count)
        var extraOwner: [Int32] = []
        var extraSet: [Int32] = []
        var ownerOffset: [Int: Int32] = [:]
        let targets = NameTable<Int>(capacity: 8)
        // Address sets of an in-zone name, for additional sections.
        func addresses(_ target: DomainName) {
            if target.isSubdomain(of: z.origin) { targets.insert(0, for: target) }
            guard let t = table[target], d.nodeParent[t] != -2 || t == 0 else { return }
            var s = Int(nodeSets[t])
            while s < Int(nodeSets[t &+ 1]) {
                if setType[s] == RRType.a.rawValue || setType[s] == RRType.aaaa.rawValue {
                    let o: Int32
                    if let known = ownerOffset[t] {
                        o = known
                    } else {
                        o = Int32(truncatingIfNeeded: arena.count)
                        table.withNameWire(at: t) { arena.append(contentsOf: $0) }
                        ownerOffset[t] = o
                    }
                    extraOwner.append(o)
                    extraSet.append(Int32(truncatingIfNeeded: s))
                }
                s &+= 1
            }
        }
        func name(_ q: Int, at offset: Int) -> DomainName? {
            d.withRData(q) { b -> DomainName? in
                var rd = ByteReader(UnsafeRawBufferPointer(b), offset: offset)
                return (try? NameView.read(&rd))?.domainName
            }
        }
        var s = 0
        while s < setType.count {
            let t = RRType(rawValue: setType[s])
            var m = Int(setRecords[s])
            while m < Int(setRecords[s &+ 1]) {
                let q = Int(members[m])
                let start = arena.count
                d.withRData(q) { arena.append(contentsOf: $0) }
                recordStart.append(Int32(truncatingIfNeeded: start))
                recordLength.append(UInt16(truncatingIfNeeded: arena.count &- start))
                switch t {
                case .ns:
                    recordForm.append(RDataForm.name.rawValue)
                    if let x = name(q, at: 0) { addresses(x) }
                case .ptr:
                    recordForm.append(RDataForm.name.rawValue)
                case .cname:
                    // The RDATA is the target's uncompressed wire form.
                    recordForm.append(RDataForm.name.rawValue)
                    setTarget[s] = Int32(truncatingIfNeeded: start)
                case .mx:
                    recordForm.append(RDataForm.prefName.rawValue)
                    if let x = name(q, at: 2) { addresses(x) }
                case .srv:
                    recordForm.append(RDataForm.raw.rawValue)
                    if let x = name(q, at: 6) { addresses(x) }
                case .soa:
                    recordForm.append(RDataForm.soa.rawValue)
                default:
                    recordForm.append(RDataForm.raw.rawValue)
                }
                m &+= 1
            }
            setExtras.append(Int32(truncatingIfNeeded: extraSet.count))
            s &+= 1
        }
        members = []

        var nodeWildcard = [Int32](repeating: -1, count: nodeCount)
        var nodeDelegation = [Bool](repeating: false, count: nodeCount)
        var hasChildren = [Bool](repeating: false, count: nodeCount)
        if nodeCount > 1 { hasChildren[0] = true }
        n = 0
        while n < nodeCount {
            if d.hasWildcard, let w = try? table.name(at: n).prepending(label: [0x2A]), let wi = table[w] {
                nodeWildcard[n] = Int32(truncatingIfNeeded: wi)
            }
            if n != 0 {
                var k = Int(nodeSets[n])
                while k < Int(nodeSets[n &+ 1]) {
                    if setType[k] == RRType.ns.rawValue { nodeDelegation[n] = true }
                    k &+= 1
                }
            }
            let p = d.nodeParent[n]
            if p > 0 { hasChildren[Int(p)] = true }
            n &+= 1
        }
        table.compact()
        let neg = soaTTL < soa.minimum ? soaTTL : soa.minimum
        return CompiledZone(arena: arena, origin: z.origin, soa: .soa(soa), soaTTL: soaTTL, negativeTTL: neg, index: table,
                            nodeSets: nodeSets, nodeDelegation: nodeDelegation, nodeWildcard: nodeWildcard,
                            setType: setType, setTTL: setTTL, setRecords: setRecords, setTarget: setTarget,
                            setExtras: setExtras, recordStart: recordStart, recordLength: recordLength,
                            recordForm: recordForm, extraOwner: extraOwner, extraSet: extraSet,
                            nodeHasChildren: hasChildren, targets: targets)
    }
}
