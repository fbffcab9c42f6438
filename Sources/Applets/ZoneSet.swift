import Config
import DNS
import Runtime
import Sys
import Zone

/// The zones dnsd serves, built from `config zone` and `config record`
/// sections. Off the hot path: allocates freely.
///
/// Contract: a zone whose file or records fail to load is not served, and the
/// error names file:line (or the record's section); on a reload, a zone that
/// fails keeps its previous good version. A zone without an SOA gets one
/// (`ns1.ZONE`, `hostmaster.ZONE`, serial = load time in seconds, so it grows
/// on every change) and an NS record.
struct ZoneSet {
    var zones: [Zone] = []
    var errors: [String] = []

    static func load(_ c: Config, previous: [Zone], now: UInt32) -> ZoneSet {
        var out = ZoneSet()
        var seen: Set<DomainName> = []
        for section in c.sections(ofType: "zone") {
            let where_ = "zone section at \(section.location.description)"
            guard let name = section.option("name")?.values.last, !name.isEmpty else {
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
            if seen.contains(origin) {
                out.errors.append("\(where_): zone '\(name)' is declared twice")
                continue
            }
            seen.insert(origin)
            let ttl = UInt32(section.option("ttl")?.values.last.flatMap { Int($0) } ?? 3600)
            switch build(origin: origin, ttl: ttl, section: section, config: c, now: now) {
            case .success(let z): out.zones.append(z)
            case .failure(let e):
                if let old = previous.first(where: { $0.origin == origin }) {
                    out.errors.append("\(e.message); keeping the previous version of \(origin)")
                    out.zones.append(old)
                } else {
                    out.errors.append("\(e.message); zone \(origin) is not served")
                }
            }
        }
        for r in c.sections(ofType: "record") {
            let z = r.option("zone")?.values.last ?? ""
            if !c.sections(ofType: "zone").contains(where: { $0.option("name")?.values.last == z }) {
                out.errors.append("record at \(r.location.description): no zone named '\(z)'")
            }
        }
        return out
    }

    struct LoadError: Error { var message: String }

    private static func build(origin: DomainName, ttl: UInt32, section: UCISection, config c: Config,
                              now: UInt32) -> Result<Zone, LoadError> {
        var records: [ResourceRecord] = []
        if let file = section.option("file")?.values.last {
            do throws(ZoneError) {
                let z = try Zone.load(file: file, origin: origin, directory: FileSystem.dirname(file),
                                      defaultTTL: ttl, readFile: { try? FileSystem.readFile($0) })
                records = z.records
            } catch {
                return .failure(LoadError(message: error.description))
            }
        }
        let zoneName = section.option("name")?.values.last ?? ""
        for r in c.sections(ofType: "record") where r.option("zone")?.values.last == zoneName {
            let at = "record at \(r.location.description)"
            let owner = r.option("name")?.values.last ?? "@"
            guard let typeText = r.option("type")?.values.last, let type = RRType(mnemonic: typeText) else {
                return .failure(LoadError(message: "\(at): missing or unknown type"))
            }
            guard let value = r.option("value")?.values.last else {
                return .failure(LoadError(message: "\(at): option 'value' is required"))
            }
            let rttl = r.option("ttl")?.values.last.flatMap { UInt32($0) } ?? ttl
            do throws(DNSError) {
                let name = owner == "@" ? origin : try DomainName(owner, origin: origin)
                guard name.isSubdomain(of: origin) else {
                    return .failure(LoadError(message: "\(at): '\(owner)' is outside zone \(origin)"))
                }
                let rdata = try RData(type: type, text: value, origin: origin)
                records.append(ResourceRecord(owner: name, ttl: rttl, rdata: rdata))
            } catch {
                return .failure(LoadError(message: "\(at): \(error)"))
            }
        }
        if !records.contains(where: { $0.type == .soa && $0.owner == origin }) {
            let ns1: DomainName, hostmaster: DomainName
            do throws(DNSError) {
                ns1 = try DomainName("ns1", origin: origin)
                hostmaster = try DomainName("hostmaster", origin: origin)
            } catch {
                return .failure(LoadError(message: "zone \(origin): cannot synthesize its SOA: \(error)"))
            }
            let soa = SOA(mname: ns1, rname: hostmaster, serial: now, refresh: 3600, retry: 600,
                          expire: 1_209_600, minimum: min(ttl, 3600))
            records.insert(ResourceRecord(owner: origin, ttl: ttl, rdata: .soa(soa)), at: 0)
            if !records.contains(where: { $0.type == .ns && $0.owner == origin }) {
                records.insert(ResourceRecord(owner: origin, ttl: ttl, rdata: .ns(ns1)), at: 1)
            }
        }
        return .success(Zone(origin: origin, records: records))
    }
}
