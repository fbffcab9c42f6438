// A hash table keyed by domain name that can be searched with a borrowed
// `NameView` without building a `DomainName`: what a server needs to look a
// query name up in its zone data with no allocation. Keys compare
// case-insensitively (RFC 4343); both key forms share one hash
// (`caseInsensitiveHash`, FNV-1a over the lowercased wire form).

/// An open-addressing (linear probing) map from names to values.
///
/// Built off the hot path (inserting allocates and may rehash). Lookups by
/// `NameView` or `DomainName` allocate nothing and are hot-path safe.
/// The load factor stays at or below 1/2, so a probe always ends at an
/// empty slot.
public struct NameTable<Value> {
    struct Slot {
        var hash: UInt64
        var name: DomainName
        var value: Value
    }

    var slots: [Slot?]
    public private(set) var count = 0

    /// An empty table sized for `capacity` names without rehashing.
    public init(capacity: Int = 8) {
        var n = 8
        while n < capacity &* 2 && n < (1 << 30) { n &*= 2 }
        slots = [Slot?](repeating: nil, count: n)
    }

    /// Every (name, value) pair, in no particular order.
    public var entries: [(name: DomainName, value: Value)] {
        var out: [(name: DomainName, value: Value)] = []
        for case let s? in slots { out.append((s.name, s.value)) }
        return out
    }

    /// Inserts or replaces the value for `name`. Returns the previous value.
    @discardableResult
    public mutating func insert(_ value: Value, for name: DomainName) -> Value? {
        if (count &+ 1) &* 2 > slots.count { grow() }
        let h = name.caseInsensitiveHash
        let mask = slots.count &- 1
        var i = Int(truncatingIfNeeded: h) & mask
        while let s = slots[i] {
            if s.hash == h && s.name == name {
                slots[i] = Slot(hash: h, name: name, value: value)
                return s.value
            }
            i = (i &+ 1) & mask
        }
        slots[i] = Slot(hash: h, name: name, value: value)
        count &+= 1
        return nil
    }

    mutating func grow() {
        let old = slots
        slots = [Slot?](repeating: nil, count: old.count &* 2)
        count = 0
        for case let s? in old { insert(s.value, for: s.name) }
    }

    /// The value for a borrowed name (e.g. the query name), case-insensitively.
    public subscript(view: NameView) -> Value? {
        let h = view.caseInsensitiveHash
        let mask = slots.count &- 1
        var i = Int(truncatingIfNeeded: h) & mask
        while let s = slots[i] {
            if s.hash == h && view.equals(s.name) { return s.value }
            i = (i &+ 1) & mask
        }
        return nil
    }

    /// The value for an owned name, case-insensitively.
    public subscript(name: DomainName) -> Value? {
        let h = name.caseInsensitiveHash
        let mask = slots.count &- 1
        var i = Int(truncatingIfNeeded: h) & mask
        while let s = slots[i] {
            if s.hash == h && s.name == name { return s.value }
            i = (i &+ 1) & mask
        }
        return nil
    }

    /// The longest suffix of `view` (itself included) that is a key, with
    /// the number of labels dropped to reach it: the closest enclosing zone
    /// or node. Hot-path safe.
    public func closestEncloser(of view: NameView) -> (name: DomainName, value: Value, labelsDropped: Int)? {
        var k = 0
        while k <= view.labelCount {
            guard let suffix = view.dropping(labels: k) else { return nil }
            let h = suffix.caseInsensitiveHash
            let mask = slots.count &- 1
            var i = Int(truncatingIfNeeded: h) & mask
            while let s = slots[i] {
                if s.hash == h && suffix.equals(s.name) { return (s.name, s.value, k) }
                i = (i &+ 1) & mask
            }
            k &+= 1
        }
        return nil
    }
}

extension NameTable: Sendable where Value: Sendable {}
extension NameTable.Slot: Sendable where Value: Sendable {}
