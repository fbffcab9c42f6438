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

/// A parsed, checked zone.
///
/// Invariants (when produced by `parse`/`load`): every owner is at or below
/// `origin`, `records` holds exactly one SOA, owned by `origin`, and the
/// CNAME rules above hold. `records` are in file order, $INCLUDEd records
/// where the directive was.
public struct Zone: Equatable, Sendable {
    /// The zone apex (the name the zone was loaded as).
    public var origin: DomainName
    public var records: [ResourceRecord]

    public init(origin: DomainName, records: [ResourceRecord]) {
        self.origin = origin
        self.records = records
    }

    /// The SOA RDATA at the apex, if any.
    public var soa: SOA? {
        for r in records {
            if case .soa(let s) = r.rdata, r.owner == origin { return s }
        }
        return nil
    }

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
        var builder = ZoneBuilder(apex: origin)
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
        var builder = ZoneBuilder(apex: origin)
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
/// Per owner one dictionary entry holds everything the rules need; records
/// of one owner usually come together, so the current owner's entry is kept
/// out of the dictionary until the owner changes (one hash per owner, not
/// per record).
struct ZoneBuilder {
    let apex: DomainName
    private(set) var records: [ResourceRecord] = []
    private var nodes: [DomainName: Node] = [:]
    private var current: (owner: DomainName, node: Node)? = nil
    private var soaPlace: ZonePlace? = nil

    private struct Node {
        var cname: ZonePlace? = nil
        var other: ZonePlace? = nil
        /// Types seen at this owner and the indices of their records.
        var types: [RRType] = []
        var members: [[Int]] = []
    }

    init(apex: DomainName) { self.apex = apex }

    /// True for the types RFC 4035 §2.5 allows beside a CNAME.
    private static func mayAccompanyCNAME(_ t: RRType) -> Bool {
        t == .rrsig || t == .nsec
    }

    /// Adds `rr`, read at `place`, or throws the rule it breaks.
    mutating func add(_ rr: ResourceRecord, at place: ZonePlace) throws(ZoneError) {
        guard rr.owner.isSubdomain(of: apex) else {
            throw place.error("'\(rr.owner)' is out of zone (not at or below '\(apex)')")
        }
        if current == nil || current!.owner != rr.owner {
            if let c = current { nodes[c.owner] = c.node }
            current = (rr.owner, nodes.removeValue(forKey: rr.owner) ?? Node())
        }
        var node = current!.node
        current!.node = Node()   // keep `node` uniquely referenced while it changes
        defer { current!.node = node }
        let t = rr.type
        let k = node.types.firstIndex(of: t)
        if let k {
            for i in node.members[k] where records[i].rdata == rr.rdata { return }   // duplicate: RFC 2181 §5
        }
        if t == .soa {
            guard rr.owner == apex else {
                throw place.error("SOA at '\(rr.owner)', not at the zone apex '\(apex)'")
            }
            if let first = soaPlace {
                throw place.error("second SOA record (the first is at \(first.shortDescription))")
            }
            soaPlace = place
        }
        if t == .cname {
            if let first = node.cname {
                throw place.error("second CNAME at '\(rr.owner)' (the first is at \(first.shortDescription))")
            }
            if let other = node.other {
                throw place.error("CNAME and other data at '\(rr.owner)' (other data at \(other.shortDescription))")
            }
            node.cname = place
        } else if !ZoneBuilder.mayAccompanyCNAME(t) {
            if let c = node.cname {
                throw place.error("CNAME and other data at '\(rr.owner)' (CNAME at \(c.shortDescription))")
            }
            if node.other == nil { node.other = place }
        }
        if let k {
            node.members[k].append(records.count)
        } else {
            node.types.append(t)
            node.members.append([records.count])
        }
        records.append(rr)
    }

    /// The finished zone, or the error for a missing SOA.
    func finish(file: String) throws(ZoneError) -> Zone {
        guard soaPlace != nil else {
            throw ZoneError("no SOA record at the zone apex '\(apex)'", file: file, line: 0, column: 0)
        }
        return Zone(origin: apex, records: records)
    }
}
