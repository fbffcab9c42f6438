// The records of a zone, packed: what a zone holds between its parser and
// its compiler, with no object per record. Owners (and the empty
// non-terminals between an owner and the apex) are entries of one name table
// (the node index is the entry index, the apex is node 0); each record is a
// row of five flat arrays and its RDATA in uncompressed wire form in one
// byte array. A 100,000-record zone is a dozen arrays, not 100,000
// ResourceRecords each holding a name and an enum payload on the heap.
//
// The compiled zone (Authority) takes the name table as its index, so a
// zone's names are hashed once, by the parser.

import DNS

public struct ZoneData: @unchecked Sendable {
    /// owner → node (value == entry index). Frozen once the zone is built:
    /// a compiled zone shares it.
    public let nodes: NameTable<Int>
    /// Per node: the parent node for a name two or more labels below the
    /// apex, 0 for a child of the apex, -1 for the apex, -2 for an owner
    /// outside the zone (kept for `records`, never compiled).
    public private(set) var nodeParent: [Int32] = []
    public private(set) var recordNode: [Int32] = []
    public private(set) var recordType: [UInt16] = []
    public private(set) var recordTTL: [UInt32] = []
    public private(set) var recordStart: [Int32] = []
    public private(set) var recordLength: [UInt16] = []
    /// Every record's RDATA, uncompressed, names in their case.
    public private(set) var rdata: [UInt8] = []
    /// The apex SOA (typed), if any.
    public private(set) var soa: SOA? = nil
    /// No two records are equal (same owner, type and RDATA): the builder
    /// checked; records packed from elsewhere are not.
    public internal(set) var unique = false
    /// Some owner's first label is `*`.
    public private(set) var hasWildcard = false
    public let origin: DomainName

    init(origin: DomainName, capacity: Int) {
        self.origin = origin
        // Zones hold about two records per name; the table grows if not.
        nodes = NameTable<Int>(capacity: capacity / 2 &+ 1)
        recordNode.reserveCapacity(capacity)
        recordType.reserveCapacity(capacity)
        recordTTL.reserveCapacity(capacity)
        recordStart.reserveCapacity(capacity)
        recordLength.reserveCapacity(capacity)
        _ = node(origin)
    }

    public var recordCount: Int { recordNode.count }
    public var nodeCount: Int { nodeParent.count }

    /// The node of `name`, added (with its empty non-terminals) if new.
    /// `inZone`: the caller knows `name` is at or below the origin.
    @_optimize(size) mutating func node(_ name: DomainName, inZone: Bool = false) -> Int {
        let n = nodes.count
        let (e, inserted) = nodes.entryInserting(name) { n }
        if !inserted { return e }
        nodeParent.append(-1)
        if name.wire.count > 2 && name.wire[0] == 1 && name.wire[1] == 0x2A { hasWildcard = true }
        if n == 0 { return 0 }
        guard inZone || name.isSubdomain(of: origin) else {
            nodeParent[n] = -2
            return n
        }
        if name.labelCount > origin.labelCount &+ 1, let p = name.parent {
            nodeParent[n] = Int32(truncatingIfNeeded: node(p, inZone: true))
        } else {
            nodeParent[n] = 0
        }
        return n
    }

    /// Appends a record of node `n` (RDATA written in wire form).
    @_optimize(size) mutating func append(node n: Int, type: RRType, ttl: UInt32, rdata value: RData) {
        let start = rdata.count
        switch value {
        case .a(let v):   // most of a big zone: written here, not through a sink
            withUnsafeBytes(of: v.bigEndian) { rdata.append(contentsOf: $0) }
        case .aaaa(let hi, let lo):
            withUnsafeBytes(of: (hi.bigEndian, lo.bigEndian)) { rdata.append(contentsOf: $0) }
        default:
            var sink = WireBuffer()
            sink.bytes = rdata
            rdata = []
            do { try value.write(to: &sink) } catch { sink.bytes.removeSubrange(start...) }
            rdata = sink.bytes
        }
        recordNode.append(Int32(truncatingIfNeeded: n))
        recordType.append(type.rawValue)
        recordTTL.append(ttl)
        recordStart.append(Int32(truncatingIfNeeded: start))
        recordLength.append(UInt16(truncatingIfNeeded: rdata.count &- start))
        if case .soa(let s) = value, n == 0, soa == nil { soa = s }
    }

    /// Removes the last record (a duplicate found after it was written).
    mutating func dropLast() {
        rdata.removeSubrange(Int(recordStart[recordStart.count &- 1])...)
        recordNode.removeLast()
        recordType.removeLast()
        recordTTL.removeLast()
        recordStart.removeLast()
        recordLength.removeLast()
    }

    /// The RDATA bytes of record `i`.
    @inline(__always)
    public func withRData<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let s = Int(recordStart[i])
        let n = Int(recordLength[i])
        return rdata.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[s..<(s &+ n)])) }
    }

    /// Record `i`'s RDATA, typed.
    @_optimize(size) public func value(_ i: Int) -> RData {
        let type = RRType(rawValue: recordType[i])
        let s = Int(recordStart[i])
        let n = Int(recordLength[i])
        let v = rdata.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> RData? in
            var r = ByteReader(b, offset: s)
            return try? RData.read(type: type, rdLength: n, from: &r)
        }
        return v ?? .unknown(type: type, data: Array(rdata[s..<(s &+ n)]))
    }

    /// Record `i`, owned.
    @_optimize(size) public func record(_ i: Int) -> ResourceRecord {
        ResourceRecord(owner: nodes.name(at: Int(recordNode[i])), ttl: recordTTL[i], rrClass: .in, rdata: value(i))
    }

    /// True when records `i` and `j` have equal RDATA: equal bytes, or, for
    /// a type whose RDATA holds names, equal values (names compare
    /// case-insensitively; RFC 4343).
    @_optimize(size) public func sameRData(_ i: Int, _ j: Int) -> Bool {
        let n = recordLength[i]
        guard n == recordLength[j] else { return false }
        let a = Int(recordStart[i]), b = Int(recordStart[j])
        var k = 0
        var folded = false
        while k < Int(n) {
            let x = rdata[a &+ k], y = rdata[b &+ k]
            if x != y {
                guard x | 0x20 == y | 0x20, x | 0x20 >= 0x61, x | 0x20 <= 0x7A else { return false }
                folded = true
            }
            k &+= 1
        }
        guard folded else { return true }
        switch RRType(rawValue: recordType[i]) {
        case .ns, .cname, .ptr, .mx, .soa, .srv: return value(i) == value(j)
        default: return false
        }
    }
}
