// The forwarder's cache: one entry per RRset (owner, type; class IN),
// positive or negative (RFC 2308), shared by every worker thread.
//
// Layout: the cache is split into shards by name hash, each with its own
// mutex, so workers rarely wait on one another. A shard is an
// open-addressing table (linear probing, backward-shift deletion) over a
// fixed number of entry slots; each entry's data is one byte array:
//
//   positive:  [L][owner wire, L bytes][count u16]{[len u16][rdata]}*
//   negative:  [L][owner wire][S][SOA owner wire, S bytes][len u16][SOA rdata]
//
// A shard holds at most its share of `capacity` entries and 1 KB of data
// per entry on average. RDATA is stored uncompressed. Eviction is CLOCK (second chance): a hit
// sets the entry's referenced bit; the hand evicts the first entry that
// is dead (past its TTL and the serve-stale window) or unreferenced.
//
// A lookup that answers (a hit) allocates nothing: it hashes the name
// from the query, compares bytes, and copies records into the response.

import Core
import DNS
import Sys

/// What a cache lookup wrote.
public enum CacheAnswer: Equatable {
    case miss
    /// Answered from live entries.
    case hit(RCode)
    /// Answered with at least one expired entry (serve-stale, TTL 30).
    case stale(RCode)
    /// Found, but the records did not all fit: the response gets TC=1.
    case truncated(RCode)
}

public final class Cache {
    /// Entry kinds.
    static let free: UInt8 = 0
    static let positive: UInt8 = 1
    static let nodata: UInt8 = 2
    /// NXDOMAIN: stored under type 0, covers every type of the name.
    static let nxdomain: UInt8 = 3

    /// The TTL given to stale answers (RFC 8767 §4).
    public static let staleTTL: UInt32 = 30
    /// Upper bounds of the TTLs cached, as unbound's defaults.
    public static let maxTTL: UInt32 = 86_400
    public static let maxNegativeTTL: UInt32 = 3_600
    /// RRsets larger than this are passed through but not cached.
    public static let maxEntryBytes = 16 * 1024
    /// CNAME hops followed in the cache.
    public static let maxChain = 8

    public let capacity: Int
    /// Seconds an expired entry may still be served when every upstream fails.
    public let staleWindow: UInt32
    let shards: [CacheShard]
    let shardMask: UInt64

    public init(capacity: Int, staleWindow: UInt32) {
        let cap = max(1, capacity)
        var n = 1
        while n < 16 && cap / (n * 2) >= 64 { n *= 2 }
        self.capacity = cap
        self.staleWindow = staleWindow
        var s: [CacheShard] = []
        var left = cap
        for i in 0..<n {
            let c = left / (n - i)
            s.append(CacheShard(capacity: c))
            left -= c
        }
        shards = s
        shardMask = UInt64(n - 1)
    }

    /// Entries held (read without the locks: approximate while workers run).
    public var count: Int {
        var n = 0
        for s in shards { n += s.used }
        return n
    }

    /// Bytes of record data held (approximate).
    public var dataBytes: Int {
        var n = 0
        for s in shards { n += s.bytes }
        return n
    }

    @inline(__always)
    static func key(_ nameHash: UInt64, _ type: UInt16) -> UInt64 {
        var h = nameHash ^ (UInt64(type) &* 0x9E37_79B9_7F4A_7C15)
        h ^= h >> 29
        return h | 1
    }

    @inline(__always)
    func shard(_ key: UInt64) -> CacheShard { shards[Int(truncatingIfNeeded: (key >> 48) & shardMask)] }

    // MARK: answering

    /// Writes the answer to `name`/`type` (class IN) from the cache into
    /// `w`: the RRset, or a CNAME chain ending in the RRset, or a negative
    /// answer with the SOA in the authority section. With `stale`, entries
    /// past their TTL but inside the serve-stale window answer too (TTL 30).
    /// On a miss, `w` may hold a partial chain: the caller discards it.
    /// `scratch` (at least 256 bytes) holds CNAME targets between lookups.
    public func answer(_ name: NameView, nameHash firstHash: UInt64? = nil, type: RRType, now: UInt32, stale: Bool,
                       scratch: UnsafeMutableRawBufferPointer, _ w: inout MessageWriter) -> CacheAnswer {
        var cur = name
        var hop = 0
        var usedStale = false
        while hop < Cache.maxChain {
            let nameHash = hop == 0 ? (firstHash ?? cur.caseInsensitiveHash) : cur.caseInsensitiveHash
            // The RRset itself, or NODATA for the type (one entry key).
            var r = lookup(cur, nameHash, type.rawValue, wanted: Cache.positive, orAlso: Cache.nodata, hop: hop,
                           now: now, stale: stale, scratch: nil, &w)
            if r.found { return finish(.noError, usedStale || r.stale, &w) }
            if r.failed { return .truncated(.noError) }
            // NXDOMAIN covers every type of the name.
            r = lookup(cur, nameHash, 0, wanted: Cache.nxdomain, hop: hop, now: now, stale: stale, scratch: nil, &w)
            if r.found { return finish(.nxDomain, usedStale || r.stale, &w) }
            if r.failed { return .truncated(.nxDomain) }
            // A CNAME to follow.
            guard type != .cname else { return .miss }
            r = lookup(cur, nameHash, RRType.cname.rawValue, wanted: Cache.positive, hop: hop, now: now, stale: stale,
                       scratch: scratch, &w)
            if r.failed { return .truncated(.noError) }
            guard r.found else { return .miss }
            usedStale = usedStale || r.stale
            var reader = ByteReader(UnsafeRawBufferPointer(scratch))
            do throws(DNSError) { cur = try NameView.read(&reader) } catch { return .miss }
            hop &+= 1
        }
        return .miss
    }

    @inline(__always)
    func finish(_ rcode: RCode, _ stale: Bool, _ w: inout MessageWriter) -> CacheAnswer {
        stale ? .stale(rcode) : .hit(rcode)
    }

    struct Found {
        var found = false
        var stale = false
        /// Found but could not be written (no room): a miss.
        var failed = false
    }

    /// Looks one entry up and writes it. For a CNAME (`scratch` non-nil)
    /// the target name is copied to `scratch`.
    func lookup(_ name: NameView, _ nameHash: UInt64, _ type: UInt16, wanted: UInt8, orAlso: UInt8 = Cache.free,
                hop: Int, now: UInt32, stale: Bool, scratch: UnsafeMutableRawBufferPointer?,
                _ w: inout MessageWriter) -> Found {
        let k = Cache.key(nameHash, type)
        let s = shard(k)
        s.lock.acquire()
        defer { s.lock.release() }
        let e = s.find(k, name, type)
        guard e >= 0 else { return Found() }
        let kind = s.kind[e]
        guard kind == wanted || (orAlso != Cache.free && kind == orAlso) else { return Found() }
        let exp = s.expires[e]
        var ttl: UInt32
        var isStale = false
        if exp > now {
            ttl = exp &- now
        } else {
            guard stale, now &- exp <= staleWindow else { return Found() }
            ttl = Cache.staleTTL
            isStale = true
        }
        s.referenced[e] = true
        var ok = true
        s.data[e].withUnsafeBytes { d in
            ok = Cache.write(d, kind: kind, type: RRType(type), ttl: ttl, hop: hop, name: name,
                             scratch: scratch, &w)
        }
        var f = Found()
        f.found = ok
        f.failed = !ok
        f.stale = isStale
        return f
    }

    /// Writes an entry's records: an RRset in the answer section (owner: the
    /// query's name at hop 0, else the stored owner), or a negative entry's
    /// SOA in the authority section.
    static func write(_ d: UnsafeRawBufferPointer, kind: UInt8, type: RRType, ttl: UInt32, hop: Int, name: NameView,
                      scratch: UnsafeMutableRawBufferPointer?, _ w: inout MessageWriter) -> Bool {
        let ownerLen = Int(d[0])
        let owner = UnsafeRawBufferPointer(rebasing: d[1..<(1 &+ ownerLen)])
        var p = 1 &+ ownerLen
        do throws(DNSError) {
            if kind == Cache.positive {
                let count = Int(d[p]) << 8 | Int(d[p &+ 1])
                p &+= 2
                let nameAt = Cache.nameOffset(type)
                var i = 0
                while i < count {
                    let len = Int(d[p]) << 8 | Int(d[p &+ 1])
                    p &+= 2
                    let rdata = UnsafeRawBufferPointer(rebasing: d[p..<(p &+ len)])
                    if hop == 0 {
                        try w.writeRecord(.answer, owner: name, type: type, ttl: ttl, rdataWire: rdata, nameAt: nameAt)
                    } else {
                        try w.writeRecord(.answer, ownerWire: owner, type: type, ttl: ttl, rdataWire: rdata,
                                          nameAt: nameAt)
                    }
                    if let scratch, i == 0 {
                        // The CNAME target, for the next hop.
                        guard len <= scratch.count, let dst = scratch.baseAddress, let src = rdata.baseAddress
                        else { return false }
                        dst.copyMemory(from: src, byteCount: len)
                    }
                    p &+= len
                    i &+= 1
                }
            } else {
                let soaOwnerLen = Int(d[p])
                let soaOwner = UnsafeRawBufferPointer(rebasing: d[(p &+ 1)..<(p &+ 1 &+ soaOwnerLen)])
                p &+= 1 &+ soaOwnerLen
                let len = Int(d[p]) << 8 | Int(d[p &+ 1])
                p &+= 2
                let rdata = UnsafeRawBufferPointer(rebasing: d[p..<(p &+ len)])
                try w.writeRecord(.authority, ownerWire: soaOwner, type: .soa, ttl: ttl, rdataWire: rdata, nameAt: -1)
            }
        } catch {
            return false
        }
        return true
    }

    /// Where the RDATA's trailing compressible name starts (RFC 1035 types), or -1.
    @inline(__always)
    static func nameOffset(_ t: RRType) -> Int {
        switch t.rawValue {
        case 2, 5, 12: return 0     // NS, CNAME, PTR
        case 15: return 2           // MX
        default: return -1
        }
    }

    // MARK: storing

    /// Stores an RRset (owner wire form as received, uncompressed RDATA).
    /// TTL 0 is not stored. Replaces an existing entry for the same key.
    public func store(owner: [UInt8], type: RRType, ttl: UInt32, rdatas: [[UInt8]], now: UInt32) {
        guard ttl > 0, !rdatas.isEmpty, owner.count <= 255, rdatas.count <= 0xFFFF else { return }
        var blob: [UInt8] = []
        var size = 3 + owner.count
        for r in rdatas { size += 2 + r.count }
        guard size <= Cache.maxEntryBytes else { return }
        blob.reserveCapacity(size)
        blob.append(UInt8(owner.count))
        blob.append(contentsOf: owner)
        blob.append(UInt8(truncatingIfNeeded: rdatas.count >> 8))
        blob.append(UInt8(truncatingIfNeeded: rdatas.count))
        for r in rdatas {
            blob.append(UInt8(truncatingIfNeeded: r.count >> 8))
            blob.append(UInt8(truncatingIfNeeded: r.count))
            blob.append(contentsOf: r)
        }
        put(owner: owner, type: type.rawValue, kind: Cache.positive, ttl: min(ttl, Cache.maxTTL), blob: blob, now: now)
    }

    /// Stores a negative answer (RFC 2308 §5): NXDOMAIN for every type of
    /// `owner` (`type` nil) or NODATA for `type`, with the SOA that came
    /// with it. `ttl` is min(SOA TTL, SOA MINIMUM).
    public func storeNegative(owner: [UInt8], type: RRType?, soaOwner: [UInt8], soa: [UInt8], ttl: UInt32, now: UInt32) {
        guard ttl > 0, owner.count <= 255, soaOwner.count <= 255, soa.count <= 0xFFFF else { return }
        var blob: [UInt8] = []
        blob.reserveCapacity(4 + owner.count + soaOwner.count + soa.count)
        blob.append(UInt8(owner.count))
        blob.append(contentsOf: owner)
        blob.append(UInt8(soaOwner.count))
        blob.append(contentsOf: soaOwner)
        blob.append(UInt8(truncatingIfNeeded: soa.count >> 8))
        blob.append(UInt8(truncatingIfNeeded: soa.count))
        blob.append(contentsOf: soa)
        put(owner: owner, type: type?.rawValue ?? 0, kind: type == nil ? Cache.nxdomain : Cache.nodata,
            ttl: min(ttl, Cache.maxNegativeTTL), blob: blob, now: now)
    }

    func put(owner: [UInt8], type: UInt16, kind: UInt8, ttl: UInt32, blob: [UInt8], now: UInt32) {
        let nameHash: UInt64? = owner.withUnsafeBytes { b in
            var r = ByteReader(b)
            guard let v = try? NameView.read(&r) else { return nil }
            return v.caseInsensitiveHash
        }
        guard let nameHash else { return }
        let k = Cache.key(nameHash, type)
        if kind == Cache.positive {
            // The name exists: an NXDOMAIN cached for it is wrong now.
            let nx = Cache.key(nameHash, 0)
            let ns = shard(nx)
            ns.lock.acquire()
            ns.remove(nx, owner, 0)
            ns.lock.release()
        }
        let s = shard(k)
        s.lock.acquire()
        defer { s.lock.release() }
        s.insert(k, owner: owner, type: type, kind: kind, expires: now &+ ttl, blob: blob, now: now,
                 staleWindow: staleWindow)
    }

    /// Drops everything (a forwarding change).
    public func clear() {
        for s in shards {
            s.lock.acquire()
            s.reset()
            s.lock.release()
        }
    }
}

/// One shard: a fixed pool of entries and an open-addressing index. Every
/// member is used under `lock`.
final class CacheShard {
    let lock = Lock()
    let capacity: Int
    var slots: [Int32]
    let slotMask: Int
    var keys: [UInt64]
    var types: [UInt16]
    var kind: [UInt8]
    var expires: [UInt32]
    var referenced: [Bool]
    var data: [[UInt8]]
    var freeList: [Int32] = []
    var hand = 0
    var used = 0
    var bytes = 0
    let byteBudget: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        byteBudget = max(self.capacity * 1024, 64 * 1024)
        var n = 8
        while n < self.capacity * 2 { n *= 2 }
        slots = [Int32](repeating: -1, count: n)
        slotMask = n - 1
        keys = [UInt64](repeating: 0, count: self.capacity)
        types = [UInt16](repeating: 0, count: self.capacity)
        kind = [UInt8](repeating: 0, count: self.capacity)
        expires = [UInt32](repeating: 0, count: self.capacity)
        referenced = [Bool](repeating: false, count: self.capacity)
        data = [[UInt8]](repeating: [], count: self.capacity)
        freeList.reserveCapacity(self.capacity)
        var i = self.capacity - 1
        while i >= 0 {
            freeList.append(Int32(i))
            i -= 1
        }
    }

    func reset() {
        for i in 0..<slots.count { slots[i] = -1 }
        freeList.removeAll(keepingCapacity: true)
        var i = capacity - 1
        while i >= 0 {
            kind[i] = Cache.free
            data[i] = []
            freeList.append(Int32(i))
            i -= 1
        }
        used = 0
        bytes = 0
    }

    /// The entry for (key, name, type), or -1.
    @inline(__always)
    func find(_ key: UInt64, _ name: NameView, _ type: UInt16) -> Int {
        var i = Int(truncatingIfNeeded: key) & slotMask
        while true {
            let e = Int(slots[i])
            if e < 0 { return -1 }
            if keys[e] == key && types[e] == type && ownerMatches(e, name) { return e }
            i = (i &+ 1) & slotMask
        }
    }

    @inline(__always)
    func ownerMatches(_ e: Int, _ name: NameView) -> Bool {
        data[e].withUnsafeBytes { d in
            let len = Int(d[0])
            guard len == name.wireLength else { return false }
            var p = 1
            for label in name.labels {
                guard p < 1 &+ len, Int(d[p]) == label.count else { return false }
                p &+= 1
                for b in label {
                    guard asciiLower(d[p]) == asciiLower(b) else { return false }
                    p &+= 1
                }
            }
            return p == len && d[p] == 0
        }
    }

    /// Slot index holding entry `e`.
    func slot(of e: Int) -> Int {
        var i = Int(truncatingIfNeeded: keys[e]) & slotMask
        while Int(slots[i]) != e { i = (i &+ 1) & slotMask }
        return i
    }

    /// Removes entry `e` from the index (backward-shift deletion) and frees it.
    func evict(_ e: Int) {
        var i = slot(of: e)
        slots[i] = -1
        var j = i
        while true {
            j = (j &+ 1) & slotMask
            let f = Int(slots[j])
            if f < 0 { break }
            let home = Int(truncatingIfNeeded: keys[f]) & slotMask
            // Move f back to i if its home is not cyclically in (i, j].
            let inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !inRange {
                slots[i] = slots[j]
                slots[j] = -1
                i = j
            }
        }
        bytes -= data[e].count
        data[e] = []
        kind[e] = Cache.free
        referenced[e] = false
        used -= 1
        freeList.append(Int32(e))
    }

    func remove(_ key: UInt64, _ owner: [UInt8], _ type: UInt16) {
        let e: Int = owner.withUnsafeBytes { b in
            var r = ByteReader(b)
            guard let v = try? NameView.read(&r) else { return -1 }
            return find(key, v, type)
        }
        if e >= 0 { evict(e) }
    }

    func insert(_ key: UInt64, owner: [UInt8], type: UInt16, kind k: UInt8, expires exp: UInt32, blob: [UInt8],
                now: UInt32, staleWindow: UInt32) {
        remove(key, owner, type)
        if freeList.isEmpty { evictOne(now: now, staleWindow: staleWindow) }
        // Bytes are bounded too (1 KB per entry on average), so large
        // RRsets cannot grow the cache far past what `capacity` suggests.
        var guardSteps = 0
        while bytes + blob.count > byteBudget && used > 0 && guardSteps < capacity {
            evictOne(now: now, staleWindow: staleWindow)
            guardSteps += 1
        }
        guard let e32 = freeList.popLast() else { return }
        let e = Int(e32)
        keys[e] = key
        types[e] = type
        kind[e] = k
        expires[e] = exp
        referenced[e] = false
        data[e] = blob
        bytes += blob.count
        used += 1
        var i = Int(truncatingIfNeeded: key) & slotMask
        while slots[i] >= 0 { i = (i &+ 1) & slotMask }
        slots[i] = e32
    }

    /// CLOCK: evicts the first dead or unreferenced entry from the hand on.
    func evictOne(now: UInt32, staleWindow: UInt32) {
        var steps = 0
        while steps < 2 * capacity + 1 {
            let e = hand
            hand = hand + 1 == capacity ? 0 : hand + 1
            steps += 1
            guard kind[e] != Cache.free else { continue }
            let dead = expires[e] <= now && now &- expires[e] > staleWindow
            if dead || !referenced[e] {
                evict(e)
                return
            }
            referenced[e] = false
        }
    }
}
