// A layer of changed owners over a compiled zone: how an API write (a
// dynamic service) reaches the answers without compiling the zone again.
// Each entry is the whole content of one owner that is a leaf child of the
// apex — one A or AAAA RRset, or nothing (the owner is gone) — and shadows
// what the compiled zone has at that name. An update copies the layer's
// arrays (a memcpy of O(layer)) and appends the changed owners: O(changed
// records) of real work; the daemon compiles the zone afresh when the
// layer grows large or the writes pause. Immutable once built, shared by
// reference like the zone it sits on.

import Core
import DNS

/// The changed owners of one zone (see the file comment).
public final class ZoneLayer {
    /// owner → entry.
    let index: NameTable<Int>
    /// Per entry: the RRset's type (A or AAAA), or 0 when the owner is gone.
    let entryType: [UInt16]
    let entryTTL: [UInt32]
    /// Entry e's RDATA is arena[entryStart[e] ..< entryStart[e + 1]]: its
    /// records back to back, each 4 (A) or 16 (AAAA) bytes.
    let entryStart: [Int32]
    let arena: UnsafeMutableRawBufferPointer

    /// One owner's new content: `type` nil when it is gone.
    public struct Change {
        public var owner: DomainName
        public var type: RRType?
        public var ttl: UInt32
        public var rdata: [[UInt8]]

        public init(owner: DomainName, type: RRType?, ttl: UInt32, rdata: [[UInt8]]) {
            self.owner = owner
            self.type = type
            self.ttl = ttl
            self.rdata = rdata
        }
    }

    /// The older, bigger part of the layer, shadowed by this one's
    /// entries: an update copies only the recent part (at most
    /// `recentLimit` owners) and folds it into the older one when it is
    /// full, so the copying stays O(changes) amortized as the layer grows.
    let older: ZoneLayer?
    static let recentLimit = 1024

    init(index: NameTable<Int>, entryType: [UInt16], entryTTL: [UInt32], entryStart: [Int32], bytes: [UInt8],
         older: ZoneLayer?) {
        self.index = index
        self.entryType = entryType
        self.entryTTL = entryTTL
        self.entryStart = entryStart
        self.older = older
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count == 0 ? 1 : bytes.count, alignment: 8)
        bytes.withUnsafeBytes { src in
            if let s = src.baseAddress, let d = a.baseAddress, src.count > 0 { d.copyMemory(from: s, byteCount: src.count) }
        }
        arena = a
    }

    deinit { arena.deallocate() }

    /// An empty layer (over `older`).
    public convenience init(older: ZoneLayer? = nil) {
        self.init(index: NameTable<Int>(capacity: 8), entryType: [], entryTTL: [], entryStart: [0], bytes: [], older: older)
    }

    /// Owners held (gone ones included; an owner in both parts counts twice).
    public var count: Int { index.count &+ (older?.count ?? 0) }

    /// Bytes held, the shadowed entries of owners written twice included.
    public var memoryBytes: Int {
        index.memoryBytes + arena.count + 2 * entryType.count + 4 * (entryTTL.count + entryStart.count)
            + (older?.memoryBytes ?? 0)
    }

    /// This layer with `changes` applied (a later change of an owner wins).
    @_optimize(size) public func updating(_ changes: [Change]) -> ZoneLayer {
        if index.count &+ changes.count <= ZoneLayer.recentLimit { return appending(changes, older: older) }
        // The recent part is full: fold it and the changes into the older
        // one (O(layer), once per `recentLimit` changes).
        let folded = (older ?? ZoneLayer()).appending(ownChanges + changes, older: nil)
        return ZoneLayer(older: folded)
    }

    /// One level: this layer's older part with its recent part applied.
    @_optimize(size) public func flattened() -> ZoneLayer {
        guard let o = older else { return self }
        return o.appending(ownChanges, older: nil)
    }

    /// This part's entries (not the older part's) as changes.
    var ownChanges: [Change] {
        var out: [Change] = []
        var i = 0
        while i < index.count {
            let e = index.value(at: i)
            var c = Change(owner: index.name(at: i), type: entryType[e] == 0 ? nil : RRType(entryType[e]),
                           ttl: entryTTL[e], rdata: [])
            let size = recordSize(e)
            var at = Int(entryStart[e])
            while size > 0 && at &+ size <= Int(entryStart[e &+ 1]) {
                c.rdata.append([UInt8](UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(arena)[at..<(at &+ size)])))
                at &+= size
            }
            out.append(c)
            i &+= 1
        }
        return out
    }

    /// A copy of this part with `changes` appended, over `older`.
    @_optimize(size) func appending(_ changes: [Change], older: ZoneLayer?) -> ZoneLayer {
        let table = index.copy()
        var types = entryType, ttls = entryTTL, starts = entryStart
        var bytes = [UInt8](UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(arena)[0..<Int(entryStart.last ?? 0)]))
        for c in changes {
            table.insert(types.count, for: c.owner)
            types.append(c.type?.rawValue ?? 0)
            ttls.append(c.ttl)
            if c.type != nil { for r in c.rdata { bytes += r } }
            starts.append(Int32(truncatingIfNeeded: bytes.count))
        }
        return ZoneLayer(index: table, entryType: types, entryTTL: ttls, entryStart: starts, bytes: bytes, older: older)
    }

    /// The entry the owner at `view` has, or -1. Hot-path safe.
    @inline(__always) func entry(_ view: NameView, hash: UInt64) -> Int {
        guard let e = index.entry(view, hash: hash) else { return -1 }
        return index.value(at: e)
    }

    /// Bytes per record of entry `e` (0 when gone).
    @inline(__always) func recordSize(_ e: Int) -> Int {
        entryType[e] == RRType.a.rawValue ? 4 : (entryType[e] == RRType.aaaa.rawValue ? 16 : 0)
    }

    /// Writes entry `e`'s records with `owner`. Hot-path safe.
    func write(_ e: Int, owner: NameView, _ section: Section, _ w: inout MessageWriter) throws(DNSError) {
        let size = recordSize(e)
        guard size > 0 else { return }
        let type = RRType(entryType[e])
        var at = Int(entryStart[e])
        let end = Int(entryStart[e &+ 1])
        while at &+ size <= end {
            try w.writeRecord(section, owner: owner, type: type, ttl: entryTTL[e],
                              rdataWire: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(arena)[at..<(at &+ size)]),
                              nameAt: -1)
            at &+= size
        }
    }

    /// The owners this part holds and their current entries (off the hot
    /// path; `flattened()` first for the whole layer).
    var owners: [(name: DomainName, entry: Int)] {
        var out: [(name: DomainName, entry: Int)] = []
        var i = 0
        while i < index.count {
            out.append((index.name(at: i), index.value(at: i)))
            i &+= 1
        }
        return out
    }

    /// The records entry `e` holds for `owner` (off the hot path).
    @_optimize(size) func records(_ e: Int, owner: DomainName) -> [ResourceRecord] {
        let size = recordSize(e)
        guard size > 0 else { return [] }
        var out: [ResourceRecord] = []
        var at = Int(entryStart[e])
        let end = Int(entryStart[e &+ 1])
        while at &+ size <= end {
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(arena)[at..<(at &+ size)]))
            if let rd = try? RData.read(type: RRType(entryType[e]), rdLength: size, from: &r) {
                out.append(ResourceRecord(owner: owner, ttl: entryTTL[e], rdata: rd))
            }
            at &+= size
        }
        return out
    }
}

extension ZoneLayer: @unchecked Sendable {}

extension CompiledZone {
    /// Whether the owner `name` may be changed through a layer: a leaf
    /// child of the apex (not `*`), holding nothing or a single A or AAAA
    /// RRset here, and no NS, MX or SRV target of this zone (their
    /// additional data is compiled in). Off the hot path.
    @_optimize(size) public func isLayerable(_ name: DomainName) -> Bool {
        guard name.labelCount == origin.labelCount &+ 1, name.isSubdomain(of: origin),
              !(name.wire.count > 1 && name.wire[0] == 1 && name.wire[1] == 0x2A) else { return false }
        if targets[name] != nil { return false }
        guard let n = index[name] else { return true }
        guard !nodeHasChildren[n], setCount(n) == 1 else { return false }
        let t = setType[Int(nodeSets[n])]
        return t == RRType.a.rawValue || t == RRType.aaaa.rawValue
    }

    /// The zone under layer changes, if this is one: what it was compiled as.
    public var root: CompiledZone { base ?? self }

    /// The records at `owner` (off the hot path): the layer's entry when it
    /// has one, else the compiled node's.
    @_optimize(size) public func records(at owner: DomainName) -> [ResourceRecord] {
        var part = layer
        while let l = part {
            if let e = l.index[owner] { return l.records(e, owner: owner) }
            part = l.older
        }
        let z = root
        guard let n = z.index[owner] else { return [] }
        var out: [ResourceRecord] = []
        var s = Int(z.nodeSets[n])
        while s < Int(z.nodeSets[n &+ 1]) {
            var r = Int(z.setRecords[s])
            while r < Int(z.setRecords[s &+ 1]) {
                if z.recordForm[r] == RDataForm.soa.rawValue {
                    out.append(soaRecord)
                } else {
                    var reader = ByteReader(z.bytes(Int(z.recordStart[r]), Int(z.recordLength[r])))
                    if let rd = try? RData.read(type: RRType(z.setType[s]), rdLength: Int(z.recordLength[r]), from: &reader) {
                        out.append(ResourceRecord(owner: owner, ttl: z.setTTL[s], rdata: rd))
                    }
                }
                r &+= 1
            }
            s &+= 1
        }
        return out
    }
}

extension ZoneDiff {
    /// The difference from `old` to `new` when `new` is `old` with one
    /// more layer update (only the owners that update changed are
    /// compared: O(changed), not O(zone)); nil otherwise, or without SOAs.
    @_optimize(size) public static func layered(old: CompiledZone, new: CompiledZone) -> ZoneDiff? {
        guard new.layer != nil, new.root === old.root, new.layerFromSerial == old.serial else { return nil }
        var oldRecords = [old.soaRecord], newRecords = [new.soaRecord]
        for name in new.layerChanges {
            oldRecords += old.records(at: name)
            newRecords += new.records(at: name)
        }
        return between(old: oldRecords, new: newRecords)
    }
}
