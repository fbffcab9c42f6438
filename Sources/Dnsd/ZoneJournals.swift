// dnsd's zone journals (IXFR out, RFC 1995): when a zone that may be
// transferred (`allow_transfer`) changes serial — a file reloaded, a config
// record, an API write, a lease, a transfer in — the condensed difference
// between the version served and the new one is appended to its journal,
// kept in the store (`zone_journal`, so a restart still answers IXFR), and
// handed to the new snapshot. Bounded by `journal_max_depth` and
// `journal_max_usage` per zone; a serial that goes backwards, or a version
// the journal does not end at, starts it anew (secondaries then get AXFR).
// On the main loop, once per rebuild.

import Authority
import DNS
import Daemon
import Runtime
import Store
import Sys

final class ZoneJournals {
    private let store: StoreHandle
    private var byZone: [DomainName: Journal] = [:]
    private var loaded = false

    init(store: StoreHandle) {
        self.store = store
    }

    /// `next` with its journals, after recording how each zone changed
    /// from `served`.
    func update(_ next: Snapshot, served: Snapshot, maxDepth: Int, maxBytes: Int) -> Snapshot {
        loadOnce()
        var changes: [JournalChange] = []
        var out: [DomainName: Journal] = [:]
        for (z, p) in next.zonesWithPolicies {
            let name = z.origin.description
            let held = byZone[z.origin]
            guard maxDepth > 0, !p.allowTransfer.isEmpty, !p.unavailable else {
                if held != nil { changes.append(.forget(name)) }
                continue
            }
            // A secondary's placeholder (nothing held yet) is no version to differ from.
            guard let (old, oldPolicy) = served.zoneAndPolicy(named: z.origin), !oldPolicy.unavailable, old !== z,
                  old.serial != z.serial else {
                // Unchanged (or first seen): what is held stays if it ends here.
                if let j = held, j.lastSerial == z.serial, !j.isEmpty {
                    out[z.origin] = j
                } else if held != nil {
                    changes.append(.forget(name))
                }
                continue
            }
            let newer = serialIsNewer(z.serial, than: old.serial)
            guard newer, let diff = ZoneDiff.layered(old: old, new: z) ?? ZoneDiff.between(old: old.records(), new: z.records()) else {
                log.warn(newer ? "zone \(name): no difference from \(old.serial) to \(z.serial); its journal starts anew"
                               : "zone \(name): serial \(old.serial) -> \(z.serial) goes backwards; its journal starts anew (secondaries get a whole transfer)")
                if held != nil { changes.append(.forget(name)) }
                continue
            }
            let bytes = diff.encoded(zone: z)
            let continues = held?.lastSerial == old.serial
            let (j, dropped) = (continues ? held! : Journal()).appending(diff, size: bytes.count, maxDepth: maxDepth,
                                                                         maxBytes: maxBytes)
            let kept = j.lastSerial == z.serial
            let entry = kept ? StoredJournalEntry(zone: name, fromSerial: old.serial, toSerial: z.serial, diff: bytes) : nil
            changes.append(JournalChange(zone: name, dropOldest: continues && kept ? dropped : Int.max, append: entry))
            if kept { out[z.origin] = j }
            log.debug("zone journal: \(name) \(old.serial) -> \(z.serial), \(diff.removed.count) removed, \(diff.added.count) added; \(j.diffs.count) kept, \(j.totalSize) bytes")
        }
        for (origin, _) in byZone where next.zone(named: origin) == nil {
            changes.append(.forget(origin.description))
        }
        byZone = out
        if !changes.isEmpty, let s = store.current() {
            do throws(StoreError) { try s.updateJournals(changes) } catch {
                log.error("cannot keep zone journals in the store: \(error.description)")
            }
        }
        return next.with { out[$0.origin] }
    }

    /// Reads the journals a previous run kept; one that does not read back
    /// whole is forgotten.
    @inline(never) private func loadOnce() {
        guard !loaded, let s = store.current() else { return }
        loaded = true
        var bad: [JournalChange] = []
        do throws(StoreError) {
            for (zone, entries) in try s.journals() {
                guard let origin = try? DomainName(zone) else { continue }
                var diffs: [ZoneDiff] = []
                var sizes: [Int] = []
                for e in entries {
                    guard let d = ZoneDiff.decode(e.diff, zone: origin, fromSerial: e.fromSerial), d.toSerial == e.toSerial,
                          diffs.last.map({ $0.toSerial == e.fromSerial }) ?? true else { break }
                    diffs.append(d)
                    sizes.append(e.diff.count)
                }
                if diffs.count == entries.count {
                    byZone[origin] = Journal(diffs: diffs, sizes: sizes)
                } else {
                    log.warn("a stored zone journal does not read back: forgotten", [("zone", zone)])
                    bad.append(.forget(zone))
                }
            }
            try s.updateJournals(bad)
        } catch {
            log.error("cannot read zone journals from the store: \(error.description)")
        }
    }
}
