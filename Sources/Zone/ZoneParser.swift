// The grammar of a master file (RFC 1035 §5.1, RFC 2308 §4) over the
// scanner's entries: directives, then records of the form
//
//     [OWNER] [TTL] [CLASS] TYPE RDATA…      (TTL and CLASS in either order)
//
// Names and RDATA are parsed by the DNS module's presentation parsers; this
// file adds the master-file state (origin, previous owner, default TTL,
// include stack) and turns their errors into positioned ZoneErrors.
//
// Directives (only at column 1):
//   $ORIGIN name            relative to the current origin
//   $TTL ttl                default TTL of the records that follow
//   $INCLUDE file [origin]  the file's records, read with `origin` (else the
//                           current one); the including file's origin and
//                           previous owner are restored afterwards, and the
//                           included file starts without a previous owner
//                           (as BIND). $TTL set inside it stays in force.

import DNS

/// The state that spans files. Per-file state (origin, previous owner) lives
/// in `parseFile`'s locals.
struct ZoneParser {
    let directory: String
    /// The last $TTL value (or what stands in for one).
    private var dollarTTL: UInt32? = nil
    /// The last TTL written on a record (or the SOA MINIMUM used for one).
    private var lastTTL: UInt32? = nil
    /// Resolved paths of the files being read, outermost first.
    private var includeStack: [String] = []
    /// The last owner parsed: its text, the origin it was read with, the name.
    private var parsedOwner: (text: ArraySlice<UInt8>, origin: DomainName, name: DomainName)? = nil
    /// Scratch for a record's RDATA fields (its storage is reused).
    private var fields: [PresentationField] = []

    /// Nesting limit for $INCLUDE.
    static let maxIncludeDepth = 8
    /// RFC 2181 §8: TTLs are 31-bit values.
    static let maxTTL: UInt32 = 0x7FFF_FFFF

    /// `defaultTTL` acts as a `$TTL` before the first line.
    init(directory: String, defaultTTL: UInt32?) {
        self.directory = directory
        self.dollarTTL = defaultTTL
    }

    /// Parses the entries of one file into `builder`.
    mutating func parseFile(_ text: [UInt8], file: String, origin start: DomainName,
                            into builder: inout ZoneBuilder, depth: Int,
                            readFile: (String) -> [UInt8]?) throws(ZoneError) {
        var scanner = ZoneScanner(text, file: file)
        var origin = start
        var previousOwner: DomainName? = nil
        includeStack.append(file)
        defer { includeStack.removeLast() }
        var entry: [ZoneToken] = []
        entry.reserveCapacity(16)
        while try scanner.next(into: &entry) {
            let first = entry[0]
            if first.column == 1, !first.quoted, first.text.first == 0x24 {   // "$"
                try directive(entry, file: file, origin: &origin, into: &builder, depth: depth, readFile: readFile)
                continue
            }
            try record(entry, file: file, origin: origin, previousOwner: &previousOwner, into: &builder)
        }
    }

    // MARK: - Directives

    private mutating func directive(_ e: [ZoneToken], file: String, origin: inout DomainName,
                                    into builder: inout ZoneBuilder, depth: Int,
                                    readFile: (String) -> [UInt8]?) throws(ZoneError) {
        let d = e[0]
        func at(_ t: ZoneToken) -> ZonePlace { ZonePlace(file: file, line: t.line, column: t.column) }
        func arguments(_ least: Int, _ most: Int) throws(ZoneError) {
            if e.count &- 1 > most { throw at(e[most &+ 1]).error("unexpected '\(e[most &+ 1].string)' after \(d.string)") }
            if e.count &- 1 < least {
                let last = e[e.count &- 1]
                throw ZonePlace(file: file, line: last.line, column: last.endColumn).error("\(d.string) needs an argument")
            }
        }
        if d.isWord("$ORIGIN") {
            try arguments(1, 1)
            origin = try name(e[1], origin: origin, file: file)
        } else if d.isWord("$TTL") {
            try arguments(1, 1)
            dollarTTL = try ttl(e[1], file: file)
        } else if d.isWord("$INCLUDE") {
            try arguments(1, 2)
            let path = e[1]
            guard let resolved = IncludePath.resolve(path.string, in: directory) else {
                throw at(path).error("$INCLUDE '\(path.string)' is outside the zone directory '\(directory)'")
            }
            guard depth &+ 1 <= ZoneParser.maxIncludeDepth else {
                throw at(path).error("$INCLUDE nested more than \(ZoneParser.maxIncludeDepth) deep")
            }
            for f in includeStack where f == resolved {
                throw at(path).error("$INCLUDE loop: '\(resolved)' is already being read")
            }
            guard let text = readFile(resolved) else { throw at(path).error("cannot read '\(resolved)'") }
            var includeOrigin = origin
            if e.count > 2 { includeOrigin = try name(e[2], origin: origin, file: file) }
            try parseFile(text, file: resolved, origin: includeOrigin, into: &builder,
                          depth: depth &+ 1, readFile: readFile)
        } else if d.isWord("$GENERATE") {
            throw at(d).error("$GENERATE is not supported")
        } else {
            throw at(d).error("unknown directive '\(d.string)'")
        }
    }

    // MARK: - Records

    private mutating func record(_ e: [ZoneToken], file: String, origin: DomainName,
                                 previousOwner: inout DomainName?,
                                 into builder: inout ZoneBuilder) throws(ZoneError) {
        let first = e[0]
        func at(_ t: ZoneToken) -> ZonePlace { ZonePlace(file: file, line: t.line, column: t.column) }
        var k = 0
        let owner: DomainName
        if first.column == 1 {
            // Records of one owner usually come together, the owner
            // written on each: the name is parsed once.
            if let p = parsedOwner, !first.quoted, first.text == p.text, origin == p.origin {
                owner = p.name
            } else {
                owner = try name(first, origin: origin, file: file)
                parsedOwner = (first.text, origin, owner)
            }
            previousOwner = owner
            k = 1
        } else {
            guard let p = previousOwner else {
                throw at(first).error("no owner name, and no earlier record in this file to take it from")
            }
            owner = p
        }
        var explicitTTL: UInt32? = nil
        var sawClass = false
        while k < e.count, !e[k].quoted {
            let t = e[k]
            if let c = t.text.first, c >= 0x30, c <= 0x39 {
                guard explicitTTL == nil else { throw at(t).error("second TTL '\(t.string)' in one record") }
                explicitTTL = try ttl(t, file: file)
            } else if let cls = RRClass(mnemonicBytes: t.text) {
                guard !sawClass else { throw at(t).error("second class '\(t.string)' in one record") }
                guard cls == .in else { throw at(t).error("class \(cls) is not supported (only IN)") }
                sawClass = true
            } else {
                break
            }
            k &+= 1
        }
        guard k < e.count else {
            let last = e[e.count &- 1]
            throw ZonePlace(file: file, line: last.line, column: last.endColumn).error("record type missing")
        }
        let typeToken = e[k]
        guard !typeToken.quoted, let type = RRType(mnemonicBytes: typeToken.text) else {
            throw at(typeToken).error("unknown record type '\(typeToken.string)'")
        }
        guard !type.isMetaType else { throw at(typeToken).error("type \(type) cannot appear in a zone file") }
        let rdataTokens = e[(k &+ 1)...]
        // Addresses, most of a big zone, are read in place; anything else
        // (and an address that does not parse, for its error) goes through
        // the DNS module's presentation parsers.
        var fast: RData? = nil
        if rdataTokens.count == 1, let t = rdataTokens.first, !t.quoted {
            if type == .a, let v = Presentation.ipv4(bytes: t.text) {
                fast = .a(v)
            } else if type == .aaaa, let v = Presentation.ipv6(bytes: t.text) {
                fast = .aaaa(hi: v.hi, lo: v.lo)
            }
        }
        let rdata: RData
        do throws(DNSError) {
            if let f = fast {
                rdata = f
            } else {
                fields.removeAll(keepingCapacity: true)
                for t in rdataTokens { fields.append(PresentationField(Array(t.text), quoted: t.quoted)) }
                rdata = try RData.parse(type: type, fields: fields, origin: origin)
            }
        } catch {
            let t = ZoneParser.culprit(of: error, in: Array(rdataTokens), type: typeToken, origin: origin)
            let place = ZonePlace(file: file, line: t.line, column: t.column)
            if case .badPresentation = error { throw place.error(error.description) }
            throw place.error("bad \(type) RDATA '\(t.string)': \(error.description)")
        }
        let recordTTL: UInt32
        if let t = explicitTTL {
            recordTTL = t
            lastTTL = t
        } else if let t = dollarTTL {
            recordTTL = t
        } else if let t = lastTTL {
            recordTTL = t
        } else if case .soa(let s) = rdata {
            // As BIND: the MINIMUM then serves as $TTL for what follows.
            guard s.minimum <= ZoneParser.maxTTL else {
                throw at(typeToken).error("SOA MINIMUM \(s.minimum) used as TTL is above \(ZoneParser.maxTTL)")
            }
            recordTTL = s.minimum
            dollarTTL = s.minimum
        } else {
            throw at(typeToken).error("no TTL for this record: give one, or a $TTL before it")
        }
        try builder.add(owner: owner, type: type, ttl: recordTTL, rdata: rdata, at: at(first))
    }

    // MARK: - Fields

    /// A name token, relative names completed with `origin`.
    private func name(_ t: ZoneToken, origin: DomainName, file: String) throws(ZoneError) -> DomainName {
        let place = ZonePlace(file: file, line: t.line, column: t.column)
        guard !t.quoted else { throw place.error("a name cannot be quoted: \"\(t.string)\"") }
        do throws(DNSError) {
            return try DomainName.parse(Array(t.text), origin: origin)
        } catch {
            switch error {
            case .badPresentation: throw place.error(error.description)
            default: throw place.error("bad name '\(t.string)': \(error.description)")
            }
        }
    }

    /// A TTL token: seconds or BIND units ("1h30m", "1w"), at most 2^31-1.
    private func ttl(_ t: ZoneToken, file: String) throws(ZoneError) -> UInt32 {
        let place = ZonePlace(file: file, line: t.line, column: t.column)
        guard !t.quoted, let v = Presentation.ttl(t.string) else { throw place.error("bad TTL '\(t.string)'") }
        guard v <= ZoneParser.maxTTL else {
            throw place.error("TTL \(v) is above \(ZoneParser.maxTTL) (RFC 2181 §8)")
        }
        return v
    }

    /// The token an RDATA error is about. The DNS parsers name the bad text
    /// in quotes ("bad IPv4 address '1.2.3'"): the first field with that
    /// text. A wrong field count points at the first extra field, or just
    /// after the last one when fields are missing. A label or name that is
    /// too long is found by parsing each field as a name. Anything else
    /// points at the first field (the length of a `\#` form).
    static func culprit(of error: DNSError, in fields: [ZoneToken], type: ZoneToken,
                        origin: DomainName) -> ZoneToken {
        var end = fields.last ?? type
        end.column = end.endColumn
        switch error {
        case .badPresentation(let message):
            let m = Array(message.utf8)
            if let open = m.firstIndex(of: 0x27), let close = m.lastIndex(of: 0x27), close > open {
                let quoted = Array(m[(open &+ 1)..<close])
                for f in fields where f.text.elementsEqual(quoted) { return f }
            }
            if let n = neededFieldCount(m) {
                return n < fields.count ? fields[n] : end
            }
        case .labelTooLong, .nameTooLong:
            for f in fields where !f.quoted {
                do throws(DNSError) {
                    _ = try DomainName.parse(Array(f.text), origin: origin)
                } catch let other {
                    if other == error { return f }
                }
            }
        default:
            break
        }
        guard let f0 = fields.first else { return end }
        if f0.text.elementsEqual([0x5C, 0x23]), fields.count > 1 { return fields[1] }   // "\#"
        return f0
    }

    /// N from "… needs N field(s), got M", the DNS module's count error.
    private static func neededFieldCount(_ m: [UInt8]) -> Int? {
        let needs = Array(" needs ".utf8)
        guard m.count > needs.count, m.contains(0x2C) else { return nil }   // ","
        var k = 0
        while k &+ needs.count <= m.count {
            if Array(m[k..<(k &+ needs.count)]) == needs {
                var j = k &+ needs.count
                var n = 0
                var digits = 0
                while j < m.count, m[j] >= 0x30, m[j] <= 0x39, digits < 4 {
                    n = n &* 10 &+ Int(m[j] &- 0x30)
                    j &+= 1
                    digits &+= 1
                }
                return digits > 0 ? n : nil
            }
            k &+= 1
        }
        return nil
    }
}
