import Authority
import Config
import DNS
import Runtime
import Store
import Sys
import Zone

/// The zones dnsd serves, built from `config zone` / `config record`
/// sections and from the zones in the store. Off the hot path: allocates
/// freely.
///
/// Contract:
/// - a zone whose file or records fail to load is not served, and the error
///   names file:line (or the record's section); on a reload, a zone that
///   fails keeps its previous good version;
/// - a zone in both the config and the store is one zone: the store's
///   records are added to the config's (this is how the API writes into a
///   zone declared in the config);
/// - a zone without an SOA gets one (`ns1.ZONE`, `hostmaster.ZONE`) and an
///   NS record. Its serial is the previous serial when nothing changed, and
///   otherwise max(now in seconds, previous + 1), so it grows on every
///   change, even two changes within one second.
struct ZoneSet {
    /// A zone to serve: freshly built, or the version already served (its
    /// new version failed to load).
    enum Source {
        case fresh(Zone)
        case keep(DomainName)
    }

    /// What a rebuild needs to know of the version being served: its
    /// serial and, for a synthesized SOA, a fingerprint of its records.
    struct Previous {
        var serial: UInt32
        var fingerprint: UInt64?
    }

    var sources: [Source] = []
    var policies: [ZonePolicy] = []
    /// Fingerprints of the zones built with a synthesized SOA.
    var fingerprints: [DomainName: UInt64] = [:]
    /// The input hash of every zone built or reused (see `load`'s `reusable`).
    var inputHashes: [DomainName: UInt64] = [:]
    var errors: [String] = []

    /// The freshly built zones.
    var zones: [Zone] {
        sources.compactMap { if case .fresh(let z) = $0 { return z } else { return nil } }
    }

    /// Origins whose served version is kept.
    var kept: [DomainName] {
        sources.compactMap { if case .keep(let o) = $0 { return o } else { return nil } }
    }

    /// This set as the previous version of the next rebuild (tests; dnsd
    /// derives it from what it serves).
    var asPrevious: [DomainName: Previous] {
        var out: [DomainName: Previous] = [:]
        for z in zones { out[z.origin] = Previous(serial: z.soa?.serial ?? 0, fingerprint: fingerprints[z.origin]) }
        return out
    }

    /// One record to add, in presentation form, and where it came from.
    struct RecordSpec {
        var owner: String
        var type: String
        var value: String
        var ttl: UInt32?
        var at: String
    }

    /// What a secondary zone has to serve (`SecondaryZones.served`).
    struct SecondaryData {
        var zone: Zone?
        var available: Bool
    }

    struct ZoneSpec {
        var name: String
        var origin: DomainName
        var ttl: UInt32
        var file: String?
        /// A secondary zone: the data its transfers brought.
        var secondary: SecondaryData? = nil
        var records: [RecordSpec] = []
        var policy = ZonePolicy()
        /// SOA MNAME/RNAME and serial kept by the API for its zones.
        var mname: String? = nil
        var rname: String? = nil
        var serial: UInt32? = nil

        /// FNV-1a over everything the zone is built from (not the file's
        /// contents: a changed file is picked up by a reload).
        var inputHash: UInt64 {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            func mix(_ text: String) {
                for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
                h = (h ^ 0x1F) &* 0x0000_0100_0000_01B3
            }
            mix(name)
            mix(String(ttl))
            mix(file ?? "")
            mix(mname ?? "")
            mix(rname ?? "")
            mix(serial.map { String($0) } ?? "")
            if let sec = secondary {
                mix(sec.available ? "secondary" : "unavailable")
                mix(String(sec.zone?.soa?.serial ?? 0))
            }
            for r in records {
                mix(r.owner)
                mix(r.type)
                mix(r.value)
                mix(r.ttl.map { String($0) } ?? "")
            }
            return h
        }
    }

    /// `reusable`: the input hashes of the zones being served. A zone whose
    /// inputs hash the same is not built again but kept (`.keep`): a store
    /// change (an API write, a lease) rebuilds only the zones it touched,
    /// not every zone file. A reload passes none, so everything is re-read.
    /// `secondaries`: the zones transferred from primaries, by origin (a
    /// `config zone` with `primary`, or one the API added: `apiSecondaries`).
    static func load(_ c: Config, stored: [StoredZone] = [], previous: [DomainName: Previous], now: UInt32,
                     reusable: [DomainName: UInt64] = [:], secondaries: [DomainName: SecondaryData] = [:],
                     apiSecondaries: [StoredSecondary] = [], keys: TSIGKeys? = nil) -> ZoneSet {
        var out = ZoneSet()
        var specs: [ZoneSpec] = []
        var byOrigin: [DomainName: Int] = [:]
        for section in c.zones {
            let where_ = "zone section at \(section.location.description)"
            guard let name = section.name else {
                out.errors.append("\(where_): option 'name' is required")
                continue
            }
            let origin: DomainName
            do throws(DNSError) {
                origin = try DomainName(name.hasSuffix(".") ? name : name + ".")
            } catch {
                out.errors.append("\(where_): bad zone name '\(name)': \(error)")
                continue
            }
            if byOrigin[origin] != nil {
                out.errors.append("\(where_): zone '\(name)' is declared twice")
                continue
            }
            var spec = ZoneSpec(name: name, origin: origin, ttl: UInt32(clamping: section.ttl), file: section.file)
            for text in section.allowTransfer {
                if let cidr = CIDR(addressOrPrefix: text) {
                    spec.policy.allowTransfer.add(bytes: cidr.address.bytes, prefix: cidr.prefix)
                } else {
                    out.errors.append("\(where_): allow_transfer '\(text)' is not an address or prefix; ignored")
                }
            }
            for text in section.notify {
                if let a = SocketAddress(hostPort: text, defaultPort: 53) {
                    spec.policy.notify.append(a)
                } else {
                    out.errors.append("\(where_): notify '\(text)' is not an address[:port]; ignored")
                }
            }
            if let k = section.tsigKey {
                let (key, known) = (keys ?? TSIGKeys(c)).key(named: k)
                spec.policy.tsigKey = key
                if !known {
                    out.errors.append("\(where_): tsig_key '\(k)' names no tsig_key section; transfers and NOTIFY of zone \(name) are refused")
                }
            }
            if !section.primary.isEmpty {
                if section.file != nil {
                    out.errors.append("\(where_): zone '\(name)' has both 'file' and 'primary'; zone \(origin) is not served")
                    continue
                }
                spec.secondary = secondaries[origin] ?? SecondaryData(zone: nil, available: false)
                for e in ZoneSet.secondaryPolicy(&spec.policy, primaries: section.primary, allowNotify: section.allowNotify) {
                    out.errors.append("\(where_): \(e)")
                }
            }
            byOrigin[origin] = specs.count
            specs.append(spec)
        }
        for a in apiSecondaries {
            guard let origin = try? DomainName(a.name + "."), byOrigin[origin] == nil else { continue }
            var spec = ZoneSpec(name: a.name, origin: origin, ttl: 3600, file: nil)
            spec.secondary = secondaries[origin] ?? SecondaryData(zone: nil, available: false)
            for e in ZoneSet.secondaryPolicy(&spec.policy, primaries: a.primaries, allowNotify: []) {
                out.errors.append("secondary zone \(a.name) (API): \(e)")
            }
            byOrigin[origin] = specs.count
            specs.append(spec)
        }
        for r in c.records {
            guard let i = specs.firstIndex(where: { $0.name == r.zone }) else {
                out.errors.append("record at \(r.location.description): no zone named '\(r.zone)'")
                continue
            }
            if specs[i].secondary != nil {
                out.errors.append("record at \(r.location.description): zone '\(r.zone)' is a secondary zone (its records come from its primaries); ignored")
                continue
            }
            specs[i].records.append(RecordSpec(owner: r.name, type: r.type, value: r.value,
                                               ttl: r.ttl.map { UInt32(clamping: $0) },
                                               at: "record at \(r.location.description)"))
        }
        for s in stored {
            let origin: DomainName
            do throws(DNSError) {
                origin = try DomainName(s.name.hasSuffix(".") ? s.name : s.name + ".")
            } catch {
                out.errors.append("stored zone '\(s.name)': bad name: \(error)")
                continue
            }
            let i: Int
            if let known = byOrigin[origin] {
                if specs[known].secondary != nil {
                    out.errors.append("stored zone '\(s.name)' is a secondary zone here; its stored records are ignored")
                    continue
                }
                i = known
            } else {
                i = specs.count
                byOrigin[origin] = i
                specs.append(ZoneSpec(name: s.name, origin: origin, ttl: UInt32(clamping: s.ttl ?? 3600), file: nil))
            }
            if let m = s.mname { specs[i].mname = m }
            if let r = s.rname { specs[i].rname = r }
            if let n = s.serial { specs[i].serial = UInt32(truncatingIfNeeded: n) }
            for r in s.records {
                specs[i].records.append(RecordSpec(owner: r.name, type: r.type, value: r.value,
                                                   ttl: r.ttl.map { UInt32(clamping: $0) },
                                                   at: "stored record \(r.id) of zone \(s.name)"))
            }
        }
        for spec in specs {
            let old = previous[spec.origin]
            let hash = spec.inputHash
            if old != nil, reusable[spec.origin] == hash {
                out.sources.append(.keep(spec.origin))
                out.policies.append(spec.policy)
                out.inputHashes[spec.origin] = hash
                continue
            }
            if let sec = spec.secondary {
                var policy = spec.policy
                if let z = sec.zone, sec.available {
                    out.sources.append(.fresh(z))
                } else {
                    policy.unavailable = true
                    out.sources.append(.fresh(ZoneSet.placeholder(spec.origin)))
                }
                out.policies.append(policy)
                out.inputHashes[spec.origin] = hash
                continue
            }
            switch build(spec, previous: old, now: now) {
            case .success(let (z, fingerprint)):
                out.sources.append(.fresh(z))
                out.policies.append(spec.policy)
                out.inputHashes[z.origin] = hash
                if let f = fingerprint { out.fingerprints[z.origin] = f }
            case .failure(let e):
                if old != nil {
                    out.errors.append("\(e.message); keeping the previous version of \(spec.origin)")
                    out.sources.append(.keep(spec.origin))
                    out.policies.append(spec.policy)
                } else {
                    out.errors.append("\(e.message); zone \(spec.origin) is not served")
                }
            }
        }
        return out
    }

    struct LoadError: Error { var message: String }

    /// A secondary zone's primaries and NOTIFY access (default: the
    /// primaries' addresses); the errors of entries that do not parse.
    static func secondaryPolicy(_ p: inout ZonePolicy, primaries: [String], allowNotify: [String]) -> [String] {
        var errors: [String] = []
        for text in primaries {
            if let a = SocketAddress(hostPort: text, defaultPort: 53) {
                p.primaries.append(a)
                if allowNotify.isEmpty { p.allowNotify.add(bytes: a.bytes, prefix: a.count * 8) }
            } else {
                errors.append("primary '\(text)' is not an address[:port]; ignored")
            }
        }
        for text in allowNotify {
            if let cidr = CIDR(addressOrPrefix: text) {
                p.allowNotify.add(bytes: cidr.address.bytes, prefix: cidr.prefix)
            } else {
                errors.append("allow_notify '\(text)' is not an address or prefix; ignored")
            }
        }
        return errors
    }

    /// What an unavailable secondary zone compiles to: its apex with an SOA
    /// (never served: the zone answers SERVFAIL).
    static func placeholder(_ origin: DomainName) -> Zone {
        let soa = SOA(mname: origin, rname: origin, serial: 0, refresh: 0, retry: 0, expire: 0, minimum: 0)
        return Zone(origin: origin, records: [ResourceRecord(owner: origin, ttl: 0, rdata: .soa(soa))])
    }

    /// FNV-1a over the records' text, SOA excluded: equal fingerprints mean
    /// the zone did not change (for the synthesized serial).
    static func fingerprint(_ records: [ResourceRecord]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for r in records where r.type != .soa {
            for b in r.description.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            h = (h ^ 10) &* 0x0000_0100_0000_01B3
        }
        return h
    }

    static func build(_ spec: ZoneSpec, previous: Previous?, now: UInt32) -> Result<(Zone, UInt64?), LoadError> {
        let origin = spec.origin
        var records: [ResourceRecord] = []
        var sources: [String] = []
        var synthesized: UInt64? = nil
        if let file = spec.file {
            do throws(ZoneError) {
                let z = try Zone.load(file: file, origin: origin, directory: FileSystem.dirname(file),
                                      defaultTTL: spec.ttl, readFile: { try? FileSystem.readFile($0) })
                // A file alone was checked by its parser (it has its SOA):
                // served as packed, never unpacked.
                if spec.records.isEmpty { return .success((z, nil)) }
                records = z.records
                sources = Array(repeating: file, count: records.count)
            } catch {
                return .failure(LoadError(message: error.description))
            }
        }
        for r in spec.records {
            guard let type = RRType(mnemonic: r.type) else {
                return .failure(LoadError(message: "\(r.at): missing or unknown type '\(r.type)'"))
            }
            if r.value.isEmpty {
                return .failure(LoadError(message: "\(r.at): option 'value' is required"))
            }
            do throws(DNSError) {
                let name = r.owner == "@" || r.owner.isEmpty ? origin : try DomainName(r.owner, origin: origin)
                guard name.isSubdomain(of: origin) else {
                    return .failure(LoadError(message: "\(r.at): '\(r.owner)' is outside zone \(origin)"))
                }
                let rdata = try RData(type: type, text: r.value, origin: origin)
                // Duplicates (RFC 2181 §5) are dropped by Zone.check below.
                records.append(ResourceRecord(owner: name, ttl: r.ttl ?? spec.ttl, rdata: rdata))
                sources.append(r.at)
            } catch {
                return .failure(LoadError(message: "\(r.at): \(error)"))
            }
        }
        if !records.contains(where: { $0.type == .soa && $0.owner == origin }) {
            let ns1: DomainName, hostmaster: DomainName
            do throws(DNSError) {
                if let m = spec.mname { ns1 = try DomainName(m + ".") } else { ns1 = try DomainName("ns1", origin: origin) }
                if let r = spec.rname { hostmaster = try DomainName(r + ".") } else { hostmaster = try DomainName("hostmaster", origin: origin) }
            } catch {
                return .failure(LoadError(message: "zone \(origin): cannot synthesize its SOA: \(error)"))
            }
            if !records.contains(where: { $0.type == .ns && $0.owner == origin }) {
                records.insert(ResourceRecord(owner: origin, ttl: spec.ttl, rdata: .ns(ns1)), at: 0)
                sources.insert("the synthesized NS of \(origin)", at: 0)
            }
            var serial = now
            let print = fingerprint(records)
            synthesized = print
            func newer(_ a: UInt32, than b: UInt32) -> Bool { a &- b > 0 && a &- b < 0x8000_0000 }
            if let kept = spec.serial {
                // The API's serial, unless something else (lease names)
                // changed the zone since it was served: then one more.
                serial = kept
                if let p = previous, !newer(kept, than: p.serial) {
                    serial = p.fingerprint == print ? p.serial : p.serial &+ 1
                }
            } else if let p = previous {
                if p.fingerprint == print {
                    serial = p.serial
                } else if !(serial &- p.serial > 0 && serial &- p.serial < 0x8000_0000) {
                    // RFC 1982: the new serial must be "greater" than the old one.
                    serial = p.serial &+ 1
                }
            }
            let soa = SOA(mname: ns1, rname: hostmaster, serial: serial, refresh: 3600, retry: 600,
                          expire: 1_209_600, minimum: min(spec.ttl, 3600))
            records.insert(ResourceRecord(owner: origin, ttl: spec.ttl, rdata: .soa(soa)), at: 0)
            sources.insert("the synthesized SOA of \(origin)", at: 0)
        }
        // Records from the config or the store (or with a file) get the
        // whole-zone rules (one SOA, CNAME exclusivity, in-zone owners) here.
        do throws(ZoneError) {
            return .success((try Zone.check(origin: origin, records: records, sources: sources), synthesized))
        } catch {
            return .failure(LoadError(message: error.description))
        }
    }
}
