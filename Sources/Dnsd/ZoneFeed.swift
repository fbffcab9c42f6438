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
    private var services: [StoredService] = []
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

    init(store: StoreHandle) {
        self.store = store
    }

    /// Reads the store's zones, services and leases if its generation
    /// moved; true if it did. A store that cannot be read keeps the last
    /// good picture (the fail-safe) and says so once.
    @discardableResult
    func refresh() -> Bool {
        guard let s = store.current() else { return false }
        do throws(StoreError) {
            guard try s.generation() != generation else { return false }
            let (g, z) = try s.zones()
            leases = try s.leases()
            services = try s.services()
            apiSecondaries = try s.secondaries().filter { $0.api }
            zones = z
            generation = g
            if failing { log.info("store readable again", [("generation", "\(g)")]) }
            failing = false
            return true
        } catch {
            if !failing { log.error("cannot read zones from the store; serving the last good version: \(error.description)") }
            failing = true
            return false
        }
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
        let serviceZones = DynamicServices.zones(services, config: c)
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
