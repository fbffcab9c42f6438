// libFuzzer target for the zone-transfer stream reader (XfrReader, the
// secondary side of AXFR/IXFR: RFC 5936, RFC 1995).
//
// Built by scripts/fuzz.sh together with Sources/Core, Sources/DNS,
// Sources/Zone and the one file Sources/Authority/Secondary.swift as ONE
// module (their imports of each other are dropped from build copies).
//
// Input: the first byte picks the request, the rest is the response as TCP
// carries it (RFC 1035 §4.2.2: a 2-byte big-endian length, then that many
// bytes; a truncated last frame is fed as it is):
//   byte 0 & 3   0, 3: AXFR; 1: IXFR from serial 1; 2: IXFR from
//                4294967290 (the serial wraps in the next differences)
//   byte 0 & 0x80  maxRecords 16 instead of 2000 (the limit path)
// The query ID is 0x2a2a and the zone example.net. (make_corpus.py writes
// seeds in this format). For every input:
// - consume() returns more, done or failed, never traps, and counts the
//   messages it was given; after done, another message fails;
// - upToDate only answers an IXFR, with a serial not newer than ours;
// - a full zone starts with the apex SOA, holds no other SOA, only class IN
//   records at or below the apex, at most maxRecords;
// - differences chain from the serial we asked for, each to an apex SOA;
// - then the path dnsd takes (Sources/Dnsd/SecondaryZones.swift): the
//   differences are applied to the zone held (`XfrReader.apply`), the whole
//   zone is checked (`Zone.check`); a zone that checks has the transfer's
//   SOA, and the copy dnsd keeps in the store (`presentation()`) parses back
//   (`Zone.parse`, as a restart does) to the same canonical records.
// A broken invariant calls fatalError, which libFuzzer reports as a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzXfr.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

enum FuzzXfr {
    static let origin = try! DomainName("example.net.")
    static let id: UInt16 = 0x2a2a
    static let wrapSerial: UInt32 = 4_294_967_290

    /// The zone held before an IXFR (serial 1 or `wrapSerial`): the
    /// version 1 that make_corpus.py's differences start from.
    static func heldText(serial: UInt32) -> String {
        var t = """
        $ORIGIN example.net.
        $TTL 300
        @ IN SOA ns1 hostmaster \(serial) 3600 600 86400 60
        @ IN NS ns1
        @ IN MX 10 mail
        ns1 IN A 192.0.2.53
        mail IN A 192.0.2.25
        www IN A 192.0.2.1
        www IN AAAA 2001:db8::1
        txt IN TXT "hello world"

        """
        for i in 0..<5 { t += "h\(i) IN A 10.0.0.\(i)\n" }
        return t
    }

    static let held: [UInt32: Zone] = {
        var out: [UInt32: Zone] = [:]
        for s in [UInt32(1), wrapSerial] {
            out[s] = try! Zone.parse(Array(heldText(serial: s).utf8), file: "held", origin: origin)
        }
        return out
    }()

    static func fail(_ what: String, _ raw: UnsafeRawBufferPointer) -> Never {
        var hex = ""
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        for b in raw.prefix(600) {
            hex.append(digits[Int(b >> 4)])
            hex.append(digits[Int(b & 15)])
        }
        fatalError("invariant broken: \(what); input \(hex)")
    }

    static func serialOf(_ rr: ResourceRecord) -> UInt32? {
        if case .soa(let s) = rr.rdata, rr.owner == origin { return s.serial }
        return nil
    }

    static func run(_ raw: UnsafeRawBufferPointer) {
        guard let mode = raw.first else { return }
        let asked: UInt32?
        switch mode & 3 {
        case 1: asked = 1
        case 2: asked = wrapSerial
        default: asked = nil
        }
        let maxRecords = mode & 0x80 != 0 ? 16 : 2000
        var reader = XfrReader(zone: origin, id: id, ixfrFrom: asked, maxRecords: maxRecords)

        // The frames of the stream, as the daemon's TCPFraming would cut them.
        var at = 1
        var fed = 0
        var outcome: XfrReader.Outcome? = nil
        while raw.count - at >= 2 {
            let len = Int(raw[at]) << 8 | Int(raw[at + 1])
            let start = at + 2
            let end = min(start + len, raw.count)
            at = end
            let step = reader.consume(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
            fed += 1
            if reader.messages != fed { fail("\(reader.messages) messages counted, \(fed) fed", raw) }
            switch step {
            case .more:
                continue
            case .failed(let why):
                if why.isEmpty { fail("a failure without a reason", raw) }
                return
            case .done(let o):
                outcome = o
            }
            break
        }
        guard let outcome else { return }
        if raw.count - at >= 2 {
            let len = Int(raw[at]) << 8 | Int(raw[at + 1])
            let next = UnsafeRawBufferPointer(rebasing: raw[(at + 2)..<min(at + 2 + len, raw.count)])
            guard case .failed = reader.consume(next) else { fail("a message after the end was taken", raw) }
        }
        check(outcome, asked: asked, maxRecords: maxRecords, messages: fed, raw)
    }

    static func check(_ outcome: XfrReader.Outcome, asked: UInt32?, maxRecords: Int, messages: Int,
                      _ raw: UnsafeRawBufferPointer) {
        switch outcome {
        case .upToDate(let serial):
            guard let mine = asked else { fail("up to date, but we asked for an AXFR", raw) }
            if serialIsNewer(serial, than: mine) { fail("up to date with a newer serial \(serial)", raw) }
            if messages != 1 { fail("up to date after \(messages) messages", raw) }
        case .full(let records):
            checkFull(records, maxRecords: maxRecords, raw)
            checkZone(records, soa: records.first, raw)
        case .incremental(let diffs):
            guard let mine = asked else { fail("differences, but we asked for an AXFR", raw) }
            guard let firstDiff = diffs.first, let last = diffs.last else { fail("no differences", raw) }
            if firstDiff.fromSerial != mine { fail("the first difference starts at \(firstDiff.fromSerial)", raw) }
            var from = mine
            var total = 0
            for d in diffs {
                guard let to = serialOf(d.toSOA) else { fail("a difference to a non-SOA \(d.toSOA)", raw) }
                if d.fromSerial != from { fail("differences do not chain: \(from) then \(d.fromSerial)", raw) }
                from = to
                total += d.removed.count + d.added.count + 2
                for r in d.removed + d.added {
                    if r.rrClass != .in || !r.owner.isSubdomain(of: origin) { fail("a foreign record \(r)", raw) }
                }
            }
            if total > maxRecords { fail("\(total) records in differences, limit \(maxRecords)", raw) }
            let base = held[mine]!
            switch XfrReader.apply(diffs, to: base.records) {
            case .failure(let e):
                if e.message.isEmpty { fail("an apply failure without a reason", raw) }
            case .success(let records):
                guard records.first == last.toSOA else { fail("the applied zone does not start with the new SOA", raw) }
                if records.filter({ $0.type == .soa }).count != 1 { fail("the applied zone has several SOAs", raw) }
                for r in last.added where r.type != .soa {
                    if !records.contains(where: { $0.owner == r.owner && $0.rdata == r.rdata }) {
                        fail("an added record is missing: \(r)", raw)
                    }
                }
                checkZone(records, soa: last.toSOA, raw)
            }
        }
    }

    /// What `take` promises of a whole zone.
    static func checkFull(_ records: [ResourceRecord], maxRecords: Int, _ raw: UnsafeRawBufferPointer) {
        guard let first = records.first, serialOf(first) != nil else { fail("a full zone without its SOA first", raw) }
        if records.count > maxRecords { fail("\(records.count) records, limit \(maxRecords)", raw) }
        for r in records.dropFirst() where r.type == .soa { fail("a second SOA in a full zone: \(r)", raw) }
        for r in records where r.rrClass != .in || !r.owner.isSubdomain(of: origin) {
            fail("a foreign record in a full zone: \(r)", raw)
        }
    }

    /// dnsd's checks after a transfer, and its store round trip.
    static func checkZone(_ records: [ResourceRecord], soa: ResourceRecord?, _ raw: UnsafeRawBufferPointer) {
        let zone: Zone
        do throws(ZoneError) {
            zone = try Zone.check(origin: origin, records: records, sources: [])
        } catch {
            if error.message.isEmpty { fail("a zone error without a message", raw) }
            return
        }
        guard case .soa(let want)? = soa?.rdata, zone.soa == want else { fail("the checked zone lost its SOA", raw) }
        let text = zone.presentation()
        let again: Zone
        do throws(ZoneError) {
            again = try Zone.parse(Array(text.utf8), file: "the stored copy", origin: origin)
        } catch {
            fail("the stored copy of a transferred zone does not load: \(error)\n\(text)", raw)
        }
        if again.canonicalRecords != zone.canonicalRecords {
            fail("the stored copy of a transferred zone loads differently:\n\(text)", raw)
        }
    }
}
