// What dnsd serves, fed from its inputs: the config's zones and records,
// the store's zones, services and leases, and the interfaces' subnets (for
// the reverse zones of DHCP pools). It turns them into a snapshot when any
// of them changes, rebuilding only the zones whose inputs changed. Runs on
// the main thread, off the serving path.

import Authority
import Config
import Daemon
import DNS
import Runtime
import Store
import Sys
import Zone

final class ZoneFeed {
    let store: StoreHandle
    private(set) var generation: Int64 = -1
    private var zones: [StoredZone] = []
    /// The services, by `key(zone, name)`.
    private var services: [String: StoredService] = [:]
    /// The store's counter of zone inputs other than services, as last read.
    private var zoneInputs: Int64 = -1
    private var leases: [StoredLease] = []
    /// The secondary zones the API added (without their data).
    private(set) var apiSecondaries: [StoredSecondary] = []
    private var failing = false
    /// Fingerprints of the served zones with a synthesized SOA.
    private var fingerprints: [DomainName: UInt64] = [:]
    /// Input hashes of the served zones: a store change rebuilds only the
    /// zones whose inputs changed.
    private var inputHashes: [DomainName: UInt64] = [:]
    private(set) var builds: UInt64 = 0
    private(set) var lastBuildMicros: UInt64 = 0
    /// Service changes applied through zone layers, and the last one's time.
    private(set) var layered: UInt64 = 0
    private(set) var lastLayerMicros: UInt64 = 0

    func noteLayered(micros: UInt64) {
        layered &+= 1
        lastLayerMicros = micros
    }

    init(store: StoreHandle) {
        self.store = store
    }

    /// What `refresh` found.
    enum Refresh {
        case unchanged
        /// Zones, records, leases or secondary zones changed: rebuild.
        case full
        /// Only these services changed (zone, name).
        case services([(zone: String, name: String)])
    }

    static func key(_ zone: String, _ name: String) -> String { zone + "\u{0}" + name }

    /// Reads what changed in the store since the generation read last:
    /// the changed services alone when nothing else changed, else the
    /// store's zones, services and leases. A store that cannot be read
    /// keeps the last good picture (the fail-safe) and says so once.
    @discardableResult
    @_optimize(size) func refresh() -> Refresh {
        guard let s = store.current() else { return .unchanged }
        do throws(StoreError) {
            if generation >= 0 && !failing {
                let d = try s.delta(since: generation)
                guard d.generation != generation else { return .unchanged }
                if d.zoneInputs == zoneInputs {
                    for c in d.services { services[ZoneFeed.key(c.zone, c.name)] = c.service }
                    generation = d.generation
                    return .services(d.services.map { ($0.zone, $0.name) })
                }
            } else {
                guard try s.generation() != generation else { return .unchanged }
            }
            // Read first: a change made while the rest is read shows next time.
            let inputs = try s.zoneInputs()
            let (g, z) = try s.zones()
            leases = try s.leases()
            var all: [String: StoredService] = [:]
            for svc in try s.services() { all[ZoneFeed.key(svc.zone, svc.name)] = svc }
            services = all
            apiSecondaries = try s.secondaries().filter { $0.api }
            zones = z
            generation = g
            zoneInputs = inputs
            if failing { log.info("store readable again", [("generation", "\(g)")]) }
            failing = false
            return .full
        } catch {
            if !failing { log.error("cannot read zones from the store; serving the last good version: \(error.description)") }
            failing = true
            return .unchanged
        }
    }

    /// Forgets the store's log of the service changes already applied.
    @_optimize(size) func forgetAppliedChanges() {
        guard generation > trimmed, let s = store.current() else { return }
        do throws(StoreError) {
            // A bulk write leaves many: a few thousand a second go.
            if try s.forgetServiceChanges(through: generation) { trimmed = generation }
        } catch {
            log.warn("cannot trim the store's log of service changes: \(error.description)")
        }
    }
    private var trimmed: Int64 = -1

    /// The served snapshot with the services `changed` applied through the
    /// zones' layers (`ZoneLayer`): O(changed records), no zone compiled.
    /// Nil when one of them needs the zone compiled: its zone has a file,
    /// an SOA of its own, lease names or API records; its owner is not a
    /// leaf child of the apex holding only the service, or is an NS, MX or
    /// SRV target; or the layer would outgrow the zone fourfold (the
    /// rebuild then compacts it). Also returns the zones whose serial
    /// changed.
    @_optimize(size) func overlay(_ c: Config, served: Snapshot, changed: [(zone: String, name: String)], now: UInt32)
        -> (snapshot: Snapshot, changed: [(CompiledZone, ZonePolicy)])? {
        var dynamic: [String: ZoneSection] = [:]
        for z in c.zones where z.dynamic && z.name != nil { dynamic[z.key] = z }
        var order: [String] = []
        var names: [String: [String]] = [:]
        for (zone, name) in changed where dynamic[zone] != nil {
            if names[zone] == nil { order.append(zone) }
            names[zone, default: []].append(name)
        }
        var leaseDomains = Set<String>()
        for d in c.dhcp where d.isServed { if let n = d.domain { leaseDomains.insert(LeaseNames.norm(n)) } }
        var replaced: [DomainName: CompiledZone] = [:]
        for zone in order {
            guard let section = dynamic[zone], !leaseDomains.contains(zone),
                  !zones.contains(where: { LeaseNames.norm($0.name) == zone }),
                  let origin = try? DomainName(zone + "."), fingerprints[origin] != nil,
                  let (cur, policy) = served.zoneAndPolicy(named: origin), !policy.isSecondary, !policy.unavailable,
                  case .soa(var soa) = cur.soa else { return nil }
            let base = cur.root
            var edits: [ZoneLayer.Change] = []
            var seen = Set<String>()
            for name in names[zone] ?? [] where seen.insert(name).inserted {
                guard !name.contains("."), let owner = try? DomainName(name, origin: origin),
                      base.isLayerable(owner) else { return nil }
                var edit = ZoneLayer.Change(owner: owner, type: nil, ttl: 0, rdata: [])
                if let svc = services[ZoneFeed.key(zone, name)] {
                    guard let type = RRType(mnemonic: svc.type), type == .a || type == .aaaa else { return nil }
                    for text in svc.records {
                        guard let ip = IPAddress(text), ip.isV4 == (type == .a) else { return nil }
                        if !edit.rdata.contains(ip.bytes) { edit.rdata.append(ip.bytes) }
                    }
                    if !edit.rdata.isEmpty {
                        edit.type = type
                        edit.ttl = UInt32(clamping: svc.ttl == 0 ? section.serviceTTL : svc.ttl)
                    }
                }
                edits.append(edit)
            }
            // Compiled afresh when the writes pause (DnsdService), or now
            // when the layer outgrows the zone it sits on fourfold.
            guard (cur.layer?.count ?? 0) + edits.count <= max(65536, 4 * base.nodeCount) else { return nil }
            soa.serial = serialIsNewer(now, than: soa.serial) ? now : soa.serial &+ 1
            replaced[origin] = CompiledZone(cur, soa: soa, changes: edits)
            // Its inputs are no longer what it was compiled from: the next
            // rebuild compiles it (and so compacts the layer), even when
            // the services are back as they were.
            inputHashes[origin] = nil
        }
        guard !replaced.isEmpty else { return (served, []) }
        var sources: [SnapshotZone] = []
        var out: [(CompiledZone, ZonePolicy)] = []
        for (z, p) in served.zonesWithPolicies {
            if let n = replaced[z.origin] {
                sources.append(SnapshotZone(.compiled(n), policy: p))
                out.append((n, p))
            } else {
                sources.append(SnapshotZone(.compiled(z), policy: p))
            }
        }
        return (Snapshot(sources), out)
    }

    /// A new snapshot from `c` and the inputs read so far. `served` is the
    /// snapshot being served (zones kept when their new version fails, or
    /// reused when their inputs did not change and `reuse` is set: a store
    /// change; a reload re-reads everything). Also returns the zones whose
    /// serial changed (NOTIFY them) and the errors to log.
    func build(_ c: Config, served: Snapshot, subnets: [String: (UInt32, Int)], reuse: Bool,
               secondaries: [DomainName: ZoneSet.SecondaryData] = [:], keys: TSIGKeys? = nil)
        -> (snapshot: Snapshot, changed: [(CompiledZone, ZonePolicy)], errors: [String]) {
        var previous: [DomainName: ZoneSet.Previous] = [:]
        for z in served.compiledZones { previous[z.origin] = ZoneSet.Previous(serial: z.serial, fingerprint: fingerprints[z.origin]) }
        let wall = Sys.realtimeNanos() / 1_000_000_000
        let started = Sys.monotonicNanos()
        let serviceZones = DynamicServices.zones(services.keys.sorted().compactMap { services[$0] }, config: c)
        let leaseZones = LeaseNames.zones(leases: leases, config: c, stored: zones + serviceZones, now: Int64(wall),
                                          subnets: subnets)
        let set = ZoneSet.load(c, stored: zones + serviceZones + leaseZones, previous: previous,
                               now: UInt32(truncatingIfNeeded: wall), reusable: reuse ? inputHashes : [:],
                               secondaries: secondaries, apiSecondaries: apiSecondaries, keys: keys)
        var sources: [SnapshotZone] = []
        var nextFingerprints: [DomainName: UInt64] = [:]
        var kept: Set<DomainName> = []
        var i = 0
        while i < set.sources.count {
            switch set.sources[i] {
            case .fresh(let z):
                sources.append(SnapshotZone(.zone(z), policy: set.policies[i]))
                kept.insert(z.origin)
                if let f = set.fingerprints[z.origin] { nextFingerprints[z.origin] = f }
            case .keep(let origin):
                if let old = served.zone(named: origin) {
                    sources.append(SnapshotZone(.compiled(old), policy: set.policies[i]))
                    kept.insert(origin)
                    if let f = fingerprints[origin] { nextFingerprints[origin] = f }
                }
            }
            i += 1
        }
        let snapshot = Snapshot(sources)
        fingerprints = nextFingerprints
        inputHashes = set.inputHashes.filter { kept.contains($0.key) }
        builds &+= 1
        lastBuildMicros = (Sys.monotonicNanos() &- started) / 1000
        var changed: [(CompiledZone, ZonePolicy)] = []
        for (z, p) in snapshot.zonesWithPolicies where previous[z.origin]?.serial != z.serial {
            changed.append((z, p))
        }
        return (snapshot, changed, set.errors)
    }
}
