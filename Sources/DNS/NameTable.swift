// A hash table keyed by domain name that can be searched with a borrowed
// `NameView` without building a `DomainName`: what a server needs to look a
// query name up in its zone data with no allocation. Keys compare
// case-insensitively (RFC 4343); both key forms share one hash
// (`caseInsensitiveHash`: the lowercased labels taken right to left, eight
// bytes at a time, so the hashes of all suffixes of a name come out of one pass; see
// `SuffixHashes`).
//
// Layout: flat arrays, no per-entry objects. A probe reads 8-byte hashes
// only; on a hash match it compares the name with the key's lowercased
// wire bytes. Nothing is retained or released per lookup, and the lookups
// are @inlinable so other modules get them specialized.

/// An open-addressing (linear probing) map from names to values.
///
/// Built off the hot path (inserting allocates and may rehash). Lookups by
/// `NameView` or `DomainName` allocate nothing and are hot-path safe.
/// The load factor stays at or below 1/2, so a probe always ends at an
/// empty slot.
///
/// A class: a table held by an immutable snapshot is shared, and a lookup
/// through a `let` costs no copy of its six arrays (a struct would be copied,
/// each array retained and released, on every call from another module).
/// Its storage is filled before the table is shared and only read after,
/// so the per-access exclusivity checks are switched off.
public final class NameTable<Value> {
    /// Per slot: the stored hash (never 0), or 0 for an empty slot.
    @usableFromInline @exclusivity(unchecked) var hashes: [UInt64]
    /// Per slot: the entry it holds.
    @usableFromInline @exclusivity(unchecked) var slotEntry: [Int32]
    /// The entries' lowercased wire forms, back to back.
    @usableFromInline @exclusivity(unchecked) var keys: [UInt8]
    /// Per entry: where its key starts in `keys`; one more at the end.
    @usableFromInline @exclusivity(unchecked) var keyStart: [Int32]
    /// The entries' names as inserted (case kept), back to back, at the
    /// same offsets as `keys`: no object per name. Empty while every name
    /// inserted was lowercase (most zones): `keys` are the names then.
    @usableFromInline @exclusivity(unchecked) var originals: [UInt8]
    @usableFromInline @exclusivity(unchecked) var allLowercase = true
    /// Per entry: its stored hash (for rehashing).
    @usableFromInline @exclusivity(unchecked) var entryHash: [UInt64]
    @usableFromInline @exclusivity(unchecked) var values: [Value]

    public var count: Int { values.count }

    /// Bytes held by the table's arrays (capacity not counted).
    public var memoryBytes: Int {
        var n = 8 * (hashes.count + entryHash.count) + 4 * (slotEntry.count + keyStart.count)
        n += keys.count + originals.count
        return n + values.count * MemoryLayout<Value>.stride
    }

    /// An empty table sized for `capacity` names without rehashing.
    public init(capacity: Int = 8) {
        var n = 8
        while n < capacity &* 2 && n < (1 << 30) { n &*= 2 }
        hashes = [UInt64](repeating: 0, count: n)
        slotEntry = [Int32](repeating: 0, count: n)
        keys = []
        keyStart = [0]
        originals = []
        entryHash = []
        values = []
        entryHash.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
        keyStart.reserveCapacity(capacity &+ 1)
        keys.reserveCapacity(capacity &* 16)
    }

    /// A table with the same entries, to be changed without changing this
    /// one (the arrays are shared until the first insert copies them).
    public func copy() -> NameTable<Value> {
        let t = NameTable<Value>(capacity: 0)
        t.hashes = hashes
        t.slotEntry = slotEntry
        t.keys = keys
        t.keyStart = keyStart
        t.originals = originals
        t.allLowercase = allLowercase
        t.entryHash = entryHash
        t.values = values
        return t
    }

    /// The hash as stored: 0 marks an empty slot.
    @inlinable @inline(__always)
    static func stored(_ h: UInt64) -> UInt64 { h == 0 ? 1 : h }

    /// Every (name, value) pair, in insertion order.
    public var entries: [(name: DomainName, value: Value)] {
        var out: [(name: DomainName, value: Value)] = []
        var i = 0
        while i < values.count {
            out.append((name(at: i), values[i]))
            i &+= 1
        }
        return out
    }

    /// Inserts or replaces the value for `name`. Returns the previous value.
    @discardableResult
    public func insert(_ value: Value, for name: DomainName) -> Value? {
        if let e = entry(name) {
            let old = values[e]
            values[e] = value
            return old
        }
        insertNew(value, for: name)
        return nil
    }

    /// Inserts `name`, known not to be in the table (no lookup first).
    public func insertNew(_ value: Value, for name: DomainName) {
        insertNew(value, for: name, hash: NameTable.stored(name.caseInsensitiveHash))
    }

    func insertNew(_ value: Value, for name: DomainName, hash h: UInt64) {
        if (count &+ 1) &* 2 > hashes.count { grow() }
        let e = values.count
        values.append(value)
        let w = name.wire
        let k0 = keys.count
        keys.append(contentsOf: w)
        var lower = true
        keys.withUnsafeMutableBufferPointer { k in
            var i = k0
            while i < k.count {
                let c = asciiLower(k[i])
                if c != k[i] { lower = false; k[i] = c }
                i &+= 1
            }
        }
        if !lower && allLowercase {
            originals = keys
            originals.removeSubrange((keys.count &- w.count)...)
            allLowercase = false
        }
        if !allLowercase { originals.append(contentsOf: w) }
        keyStart.append(Int32(truncatingIfNeeded: keys.count))
        if entryHash.count &+ 1 == values.count { entryHash.append(h) }
        place(entry: e, hash: h)
    }

    func place(entry e: Int, hash h: UInt64) {
        let mask = hashes.count &- 1
        var i = Int(truncatingIfNeeded: h) & mask
        while hashes[i] != 0 { i = (i &+ 1) & mask }
        hashes[i] = h
        slotEntry[i] = Int32(truncatingIfNeeded: e)
    }

    /// Drops what only inserting needs (each entry's hash, 8 bytes a name)
    /// from a table that is now only read; an insert after it hashes the
    /// entries again.
    public func compact() {
        entryHash = []
    }

    func grow() {
        if entryHash.count < values.count {
            var e = entryHash.count
            while e < values.count {
                entryHash.append(NameTable.stored(name(at: e).caseInsensitiveHash))
                e &+= 1
            }
        }
        let n = hashes.count &* 2
        hashes = [UInt64](repeating: 0, count: n)
        slotEntry = [Int32](repeating: 0, count: n)
        var e = 0
        while e < entryHash.count {
            place(entry: e, hash: entryHash[e])
            e &+= 1
        }
    }

    /// The name and value of entry `e` (from `entry(_:hash:)`).
    /// The name of entry `e` as inserted (allocates).
    public func name(at e: Int) -> DomainName {
        DomainName(trustedWire: Array((allLowercase ? keys : originals)[Int(keyStart[e])..<Int(keyStart[e &+ 1])]))
    }

    /// Runs `body` with the wire form of entry `e`'s name as inserted.
    public func withNameWire<R>(at e: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let a = Int(keyStart[e]), b = Int(keyStart[e &+ 1])
        return (allLowercase ? keys : originals).withUnsafeBytes { all in body(UnsafeRawBufferPointer(rebasing: all[a..<b])) }
    }
    @inlinable public func value(at e: Int) -> Value { values[e] }

    /// True when the lowercased key of entry `e` spells `view`.
    @inlinable
    func key(_ e: Int, matches view: NameView) -> Bool {
        var i = Int(keyStart[e])
        guard Int(keyStart[e &+ 1]) &- i == view.wireLength else { return false }
        if view.isContiguous, let src = view.message.baseAddress {
            // Length bytes are < 0x40, so lowercasing leaves them alone.
            let n = view.wireLength
            let at = view.offset
            guard at >= 0, at &+ n <= view.message.count else { return false }
            return keys.withUnsafeBufferPointer { (k: UnsafeBufferPointer<UInt8>) -> Bool in
                guard let kp = k.baseAddress else { return false }
                return wireEqualsLowered(UnsafeRawPointer(kp + i), src + at, count: n)
            }
        }
        var labels = view.labels
        while let label = labels.next() {
            guard Int(keys[i]) == label.count else { return false }
            i &+= 1
            var k = 0
            while k < label.count {
                guard keys[i] == asciiLower(label[k]) else { return false }
                i &+= 1
                k &+= 1
            }
        }
        return keys[i] == 0
    }

    /// The entry for `view`, whose `caseInsensitiveHash` is `hash` (e.g.
    /// from `SuffixHashes`), or nil. Hot-path safe.
    @inlinable
    public func entry(_ view: NameView, hash: UInt64) -> Int? {
        let h = NameTable.stored(hash)
        let mask = hashes.count &- 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = hashes[i]
            if s == 0 { return nil }
            if s == h {
                let e = Int(slotEntry[i])
                if key(e, matches: view) { return e }
            }
            i = (i &+ 1) & mask
        }
    }

    /// The entry for an owned name, or nil.
    public func entry(_ name: DomainName) -> Int? {
        entry(name, hash: NameTable.stored(name.caseInsensitiveHash))
    }

    /// The entry of `name`, or a new one holding `value` (`name` hashed
    /// once): what a zone's builder does for every owner.
    public func entryInserting(_ name: DomainName, value: () -> Value) -> (entry: Int, inserted: Bool) {
        let h = NameTable.stored(name.caseInsensitiveHash)
        if let e = entry(name, hash: h) { return (e, false) }
        let e = values.count
        insertNew(value(), for: name, hash: h)
        return (e, true)
    }

    func entry(_ name: DomainName, hash h: UInt64) -> Int? {
        let mask = hashes.count &- 1
        var i = Int(truncatingIfNeeded: h) & mask
        let w = name.wire
        while true {
            let s = hashes[i]
            if s == 0 { return nil }
            if s == h {
                let e = Int(slotEntry[i])
                let start = Int(keyStart[e])
                if Int(keyStart[e &+ 1]) &- start == w.count {
                    var k = 0
                    while k < w.count && keys[start &+ k] == asciiLower(w[k]) { k &+= 1 }
                    if k == w.count { return e }
                }
            }
            i = (i &+ 1) & mask
        }
    }

    /// The value for a borrowed name (e.g. the query name), case-insensitively.
    public subscript(view: NameView) -> Value? {
        guard let e = entry(view, hash: view.caseInsensitiveHash) else { return nil }
        return values[e]
    }

    /// The value for an owned name, case-insensitively.
    public subscript(name: DomainName) -> Value? {
        guard let e = entry(name) else { return nil }
        return values[e]
    }

    /// The longest suffix of the name (itself included) that is a key, with
    /// the number of labels dropped to reach it: the closest enclosing zone
    /// or node. `hashes` are the name's suffix hashes. Hot-path safe.
    @inlinable
    public func closestEncloser(of view: NameView, hashes: SuffixHashes,
                                dropping first: Int = 0) -> (entry: Int, labelsDropped: Int)? {
        var k = first
        guard var suffix = view.dropping(labels: first) else { return nil }
        while k <= view.labelCount {
            if let e = entry(suffix, hash: hashes.hash(droppingLabels: k)) { return (e, k) }
            guard let next = suffix.dropping(labels: 1) else { return nil }
            suffix = next
            k &+= 1
        }
        return nil
    }

    /// As `closestEncloser(of:hashes:)`, computing the hashes itself.
    public func closestEncloser(of view: NameView) -> (name: DomainName, value: Value, labelsDropped: Int)? {
        let hs = SuffixHashes(view)
        guard let (e, k) = closestEncloser(of: view, hashes: hs) else { return nil }
        return (name(at: e), values[e], k)
    }
}

extension NameTable: @unchecked Sendable where Value: Sendable {}

/// True when the `n` bytes at `b`, ASCII-lowercased, equal the `n` bytes at
/// `lower` (already lowercase): eight bytes per step, the last step
/// overlapping the one before it; shorter names byte by byte.
@inlinable @inline(__always)
func wireEqualsLowered(_ lower: UnsafeRawPointer, _ b: UnsafeRawPointer, count n: Int) -> Bool {
    if n < 8 {
        var j = 0
        while j < n {
            if lower.load(fromByteOffset: j, as: UInt8.self) != asciiLower(b.load(fromByteOffset: j, as: UInt8.self)) {
                return false
            }
            j &+= 1
        }
        return true
    }
    var j = 0
    while true {
        if j > n &- 8 { j = n &- 8 }
        let x = asciiLower8(b.loadUnaligned(fromByteOffset: j, as: UInt64.self))
        if x != lower.loadUnaligned(fromByteOffset: j, as: UInt64.self) { return false }
        if j == n &- 8 { return true }
        j &+= 8
    }
}

/// ASCII lowercase of eight bytes at once (each byte as `asciiLower`).
@inlinable @inline(__always)
func asciiLower8(_ x: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let low7 = x & (0x7F &* ones)
    // Per byte, the top bit says: low 7 bits >= 'A', and >= 'Z' + 1.
    let geA = low7 &+ ((0x80 &- 0x41) &* ones)
    let gtZ = low7 &+ ((0x80 &- 0x5B) &* ones)
    let upper = geA & ~gtZ & ~x & (0x80 &* ones)
    return x | (upper >> 2)
}

/// The `caseInsensitiveHash` of the suffixes of a name, from one
/// right-to-left pass over its labels: the first `stored` suffixes are kept
/// inline (small enough to copy freely); deeper ones, rare in practice, are
/// computed when asked. Hot-path safe.
public struct SuffixHashes {
    public static let stored = 16
    @usableFromInline var values: InlineArray<16, UInt64>
    @usableFromInline let view: NameView

    public var labelCount: Int { view.labelCount }

    /// Hashes for `view` (a validated name: at most 127 labels).
    public init(_ view: NameView) {
        self.view = view
        values = InlineArray<16, UInt64>(repeating: 0)
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 128) { starts in
            var n = 0
            // Positions of the label length bytes, leftmost first.
            let m = view.message
            var pos = view.offset
            var hops = 0
            while n < view.labelCount && n < 127, NameView.followPointers(m, &pos, &hops) {
                starts[n] = Int32(truncatingIfNeeded: pos)
                n &+= 1
                pos &+= Int(m[pos]) &+ 1
            }
            _ = hashLabelsRightToLeft(m, starts: starts, count: n) { k, h in
                if k < SuffixHashes.stored { values[k] = h }
            }
        }
    }

    /// The hash of the name without its first `k` labels (0 = the name).
    @inlinable
    public func hash(droppingLabels k: Int) -> UInt64 {
        if k >= 0 && k < SuffixHashes.stored && k <= view.labelCount { return values[k] }
        return view.dropping(labels: k)?.caseInsensitiveHash ?? 0
    }
}
