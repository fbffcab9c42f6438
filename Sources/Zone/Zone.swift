// A zone loaded from a master file (RFC 1035 §5), with the checks that make
// it servable. The text is parsed by ZoneParser; this file holds the result
// type, the public entry points and the whole-zone rules:
//
// - every owner lies at or below the apex ("out of zone" otherwise);
// - exactly one SOA, at the apex (RFC 1035 §5.2, RFC 1034 §4.2.1);
// - a CNAME owner has no other data except RRSIG/NSEC (RFC 1034 §3.6.2,
//   RFC 4035 §2.5), and at most one CNAME (RFC 2181 §10.1);
// - only class IN (other classes are refused for now);
// - a record identical to an earlier one (same owner, type and RDATA,
//   names compared case-insensitively) is dropped, as RFC 2181 §5 asks of
//   an RRset; the first one's TTL stays.
//
// Pure: files are read through the caller's `readFile`.

import DNS

/// A parsed, checked zone, its records packed (`ZoneData`).
///
/// Invariants (when produced by `parse`/`load`): every owner is at or below
/// `origin`, the records hold exactly one SOA, owned by `origin`, and the
/// CNAME rules above hold. `records` are in file order, $INCLUDEd records
/// where the directive was.
public struct Zone: Equatable, Sendable {
    /// The zone apex (the name the zone was loaded as).
    public let origin: DomainName
    public let data: ZoneData

    /// Packs `records` as given (no checks, duplicates kept).
    public init(origin: DomainName, records: [ResourceRecord]) {
        self.origin = origin
        var d = ZoneData(origin: origin, capacity: records.count &+ 1)
        for r in records { d.append(node: d.node(r.owner), type: r.type, ttl: r.ttl, rdata: r.rdata) }
        data = d
    }

    init(data: ZoneData) {
        origin = data.origin
        self.data = data
    }

    /// The records, owned, in order (allocates: tools, tests, transfers).
    public var records: [ResourceRecord] {
        var out: [ResourceRecord] = []
        out.reserveCapacity(data.recordCount)
        var i = 0
        while i < data.recordCount {
            out.append(data.record(i))
            i &+= 1
        }
        return out
    }

    public var recordCount: Int { data.recordCount }

    /// The SOA RDATA at the apex, if any.
    public var soa: SOA? { data.soa }

    public static func == (a: Zone, b: Zone) -> Bool { a.origin == b.origin && a.records == b.records }

    /// Parses master-file `text` read from `file` (the name errors carry)
    /// for the zone `origin`, which is also the initial $ORIGIN.
    ///
    /// - `directory`: the only directory `$INCLUDE` may read from; relative
    ///   include paths are taken from it (BIND takes them from its working
    ///   directory, which a zone directory normally is).
    /// - `defaultTTL`: the TTL for records that give none, unless the file
    ///   sets `$TTL` (the config's `option ttl`): it acts as a `$TTL` line
    ///   before the file's first line.
    ///
    /// TTL of a record without one, in order: the last `$TTL` (RFC 2308
    /// §4); else the last TTL written on a record (RFC 1035 §5.1); else,
    /// for the SOA itself, its MINIMUM field, which then also serves as
    /// `$TTL` for the records after it; else an error. This is what BIND
    /// does (it warns where this parser is silent). A TTL above 2^31-1 is
    /// refused, not clamped: RFC 2181 §8 would have it read as 0, which
    /// silently disables caching, so the file goes back to its author.
    public static func parse(_ text: [UInt8], file: String, origin: DomainName,
                             directory: String = ".", defaultTTL: UInt32? = nil,
                             readFile: (String) -> [UInt8]? = { _ in nil }) throws(ZoneError) -> Zone {
        if let t = defaultTTL, t > ZoneParser.maxTTL {
            throw ZoneError("default TTL \(t) is above \(ZoneParser.maxTTL)", file: file, line: 0, column: 0)
        }
        // About one record per line of ~24 bytes: the arrays are sized once
        // (and grow if the guess was short).
        var builder = ZoneBuilder(apex: origin, capacity: text.count / 24 &+ 8)
        var parser = ZoneParser(directory: directory, defaultTTL: defaultTTL)
        try parser.parseFile(text, file: file, origin: origin, into: &builder, depth: 0, readFile: readFile)
        return try builder.finish(file: file)
    }

    /// Reads `file` through `readFile`, then parses it as `parse` does.
    public static func load(file: String, origin: DomainName, directory: String,
                            defaultTTL: UInt32? = nil,
                            readFile: (String) -> [UInt8]?) throws(ZoneError) -> Zone {
        guard let text = readFile(file) else {
            throw ZoneError("cannot read the zone file", file: file, line: 0, column: 0)
        }
        return try parse(text, file: file, origin: origin, directory: directory,
                         defaultTTL: defaultTTL, readFile: readFile)
    }
}

extension Zone {
    /// Applies the whole-zone rules to records gathered from elsewhere (the
    /// config, the store, a file plus extra records). `sources[i]` says
    /// where `records[i]` came from, for the error; duplicates are dropped.
    public static func check(origin: DomainName, records: [ResourceRecord],
                             sources: [String]) throws(ZoneError) -> Zone {
        var builder = ZoneBuilder(apex: origin, capacity: records.count &+ 1)
        var i = 0
        while i < records.count {
            let source = i < sources.count ? sources[i] : "zone \(origin)"
            try builder.add(records[i], at: ZonePlace(file: source, line: 0, column: 0))
            i += 1
        }
        return try builder.finish(file: "zone \(origin)")
    }
}

/// Collects records in file order and enforces the whole-zone rules as each
/// record arrives, so an error names the record that broke a rule.
///
/// Per node it keeps the first CNAME and the first other record and the
/// node's last record; records of a node are chained (`previousAtNode`) for
/// the duplicate check. Only the records that an error may name keep their
/// place (a small table), not every record.
struct ZoneBuilder {
    let apex: DomainName
    private(set) var data: ZoneData
    /// Per node: its first CNAME and first other record, as an index into
    /// `places` (-1: none).
    private var nodeCNAME: [Int32] = []
    private var nodeOther: [Int32] = []
    private var nodeLast: [Int32] = []
    private var previousAtNode: [Int32] = []
    /// Where the records that `nodeCNAME`/`nodeOther` point at were read.
    private var places: [ZonePlace] = []
    private var soaPlace: ZonePlace? = nil
    /// The last owner added and its node (records of one owner come
    /// together: one hash per owner, not per record).
    private var current: (owner: DomainName, node: Int)? = nil

    init(apex: DomainName, capacity: Int = 64) {
        self.apex = apex
        data = ZoneData(origin: apex, capacity: capacity)
    }

    /// True for the types RFC 4035 §2.5 allows beside a CNAME.
    private static func mayAccompanyCNAME(_ t: RRType) -> Bool {
        t == .rrsig || t == .nsec
    }

    /// Adds `rr`, read at `place`, or throws the rule it breaks.
    mutating func add(_ rr: ResourceRecord, at place: ZonePlace) throws(ZoneError) {
        try add(owner: rr.owner, type: rr.type, ttl: rr.ttl, rdata: rr.rdata, at: place)
    }

    mutating func add(owner: DomainName, type t: RRType, ttl: UInt32, rdata: RData, at place: ZonePlace) throws(ZoneError) {
        let n: Int
        if let c = current, c.owner == owner {
            n = c.node
        } else {
            guard owner.isSubdomain(of: apex) else {
                throw place.error("'\(owner)' is out of zone (not at or below '\(apex)')")
            }
            n = data.node(owner, inZone: true)
            while nodeLast.count < data.nodeCount {
                nodeLast.append(-1)
                nodeCNAME.append(-1)
                nodeOther.append(-1)
            }
            current = (owner, n)
        }
        let i = data.recordCount
        data.append(node: n, type: t, ttl: ttl, rdata: rdata)
        var p = Int(nodeLast[n])
        while p >= 0 {
            if data.recordType[p] == t.rawValue && data.sameRData(p, i) {   // duplicate: RFC 2181 §5
                data.dropLast()
                return
            }
            p = Int(previousAtNode[p])
        }
        if t == .soa {
            guard n == 0 else {
                data.dropLast()
                throw place.error("SOA at '\(owner)', not at the zone apex '\(apex)'")
            }
            if let first = soaPlace {
                data.dropLast()
                throw place.error("second SOA record (the first is at \(first.shortDescription))")
            }
            soaPlace = place
        }
        if t == .cname {
            if nodeCNAME[n] >= 0 {
                data.dropLast()
                throw place.error("second CNAME at '\(owner)' (the first is at \(placeOf(nodeCNAME[n])))")
            }
            if nodeOther[n] >= 0 {
                data.dropLast()
                throw place.error("CNAME and other data at '\(owner)' (other data at \(placeOf(nodeOther[n])))")
            }
            nodeCNAME[n] = Int32(truncatingIfNeeded: places.count)
            places.append(place)
        } else if !ZoneBuilder.mayAccompanyCNAME(t) {
            if nodeCNAME[n] >= 0 {
                data.dropLast()
                throw place.error("CNAME and other data at '\(owner)' (CNAME at \(placeOf(nodeCNAME[n])))")
            }
            if nodeOther[n] < 0 {
                nodeOther[n] = Int32(truncatingIfNeeded: places.count)
                places.append(place)
            }
        }
        previousAtNode.append(nodeLast[n])
        nodeLast[n] = Int32(truncatingIfNeeded: i)
    }

    private func placeOf(_ i: Int32) -> String { places[Int(i)].shortDescription }

    /// The finished zone, or the error for a missing SOA.
    func finish(file: String) throws(ZoneError) -> Zone {
        guard soaPlace != nil else {
            throw ZoneError("no SOA record at the zone apex '\(apex)'", file: file, line: 0, column: 0)
        }
        var d = data
        d.unique = true
        return Zone(data: d)
    }
}
