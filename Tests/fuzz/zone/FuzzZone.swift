// libFuzzer target for the RFC 1035 master-file parser (issue 3).
//
// Built by scripts/fuzz.sh together with Sources/DNS/*.swift and
// Sources/Zone/*.swift as ONE module (the Zone files' `import DNS` lines are
// dropped from build copies). For every input:
// - Zone.parse returns a zone or throws a ZoneError with a position inside
//   the text (line 0 only for whole-file errors), never traps;
// - `$INCLUDE` is served from a tiny in-memory directory whose second file
//   includes the first, so include nesting and the directory rule run too;
// - a zone that parses keeps the whole-zone invariants (one apex SOA, every
//   owner at or below the origin), and writing it back with
//   `presentation()` and parsing that gives the same canonical records;
// - the packed form (issue 13) holds together: every record's node is its
//   owner in the name table, parents chain to the apex, repacking the decoded
//   records gives an equal zone, and the table still finds every owner after
//   `compact()` drops its build-time hashes.
// A broken invariant calls fatalError, which libFuzzer reports as a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzZone.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

enum FuzzZone {
    static let origin = try! DomainName("fuzz.test.")

    static let files: [String: [UInt8]] = [
        "/zones/a.inc": Array("x 60 IN A 192.0.2.1\ny IN TXT \"inc\"\n".utf8),
        "/zones/b.inc": Array("$INCLUDE a.inc sub\nz IN AAAA 2001:db8::1\n".utf8),
    ]

    static func read(_ path: String) -> [UInt8]? { files[path] }

    static func run(_ text: [UInt8]) {
        let zone: Zone
        do throws(ZoneError) {
            zone = try Zone.parse(text, file: "fuzz.zone", origin: origin, directory: "/zones",
                                  defaultTTL: 300, readFile: read)
        } catch {
            let lines = text.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
            if error.file == "fuzz.zone" && (error.line < 0 || error.line > lines + 1) {
                fatalError("error line \(error.line) outside the \(lines)-line input: \(error)")
            }
            return
        }
        var soas = 0
        for r in zone.records {
            if !r.owner.isSubdomain(of: origin) { fatalError("out-of-zone owner \(r.owner) accepted") }
            if r.type == .soa {
                if r.owner != origin { fatalError("SOA below the apex accepted") }
                soas += 1
            }
        }
        if soas != 1 { fatalError("\(soas) SOA records accepted") }
        checkPacked(zone)
        let written = zone.presentation()
        let again: Zone
        do throws(ZoneError) {
            again = try Zone.parse(Array(written.utf8), file: "rewritten.zone", origin: origin)
        } catch {
            fatalError("the writer's output does not parse: \(error)\n\(written)")
        }
        if again.canonicalRecords != zone.canonicalRecords {
            fatalError("write → parse changed the zone:\n\(written)")
        }
    }

    static func checkPacked(_ zone: Zone) {
        let d = zone.data
        if d.recordCount != zone.records.count { fatalError("record count \(d.recordCount) ≠ \(zone.records.count)") }
        for i in 0..<d.recordCount {
            let r = d.record(i)
            guard let e = d.nodes.entry(r.owner), e == Int(d.recordNode[i]) else {
                fatalError("record \(i) (\(r.owner)) is not at its owner's node")
            }
        }
        for n in 0..<d.nodeCount {
            var p = Int(d.nodeParent[n]), steps = 0
            if n == 0 && p != -1 { fatalError("apex has parent \(p)") }
            if p == -2 { continue }
            while p >= 0 {
                let child = d.nodes.name(at: n), parent = d.nodes.name(at: p)
                if steps == 0 && child.parent != parent { fatalError("\(child)'s parent is \(parent)") }
                p = Int(d.nodeParent[p]); steps += 1
                if steps > 128 { fatalError("parent chain of node \(n) loops") }
            }
        }
        let again = Zone(origin: zone.origin, records: zone.records)
        if again != zone { fatalError("repacking the decoded records changed the zone") }
        let table = again.data.nodes
        table.compact()
        for r in zone.records where table.entry(r.owner) == nil {
            fatalError("\(r.owner) not found after compact()")
        }
    }
}
