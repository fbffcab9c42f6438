// The authoritative answering engine, sans-I/O: query bytes in, response
// bytes out, into a buffer the caller owns. UDP, TCP and tests all drive
// `respond`. The per-query path allocates nothing: names stay views into
// the query or the snapshot's arena, loops use indices, and errors are
// caught as `DNSError` (never boxed).

import Core
import DNS
import Sys

/// Answers queries from a `Snapshot` (RFC 1034 §4.3.2, RFC 2308, RFC 4592,
/// RFC 6891, RFC 8482).
public final class Answerer {
    public let snapshot: Snapshot
    /// NSID payload (RFC 5001), sent when the client asks and this is non-nil.
    public let nsid: [UInt8]?
    /// CHAOS TXT answers: `version.bind` and `hostname.bind`/`id.server`.
    let versionTXT: RData
    let identityTXT: RData
    let versionBind: DomainName
    let hostnameBind: DomainName
    let idServer: DomainName
    /// The TSIG keys requests may be signed with (RFC 8945), and the wall
    /// clock they are checked and signed against (seconds since the epoch).
    public let tsigKeys: [TSIGKey]
    let clock: () -> UInt64
    /// CNAME hops followed at most.
    public static let maxChain = 8
    /// The EDNS payload size advertised in responses.
    public static let payloadSize: UInt16 = EDNSView.defaultPayloadSize

    public init(snapshot: Snapshot, nsid: [UInt8]? = nil, version: [UInt8] = Array("dnsbox".utf8),
                identity: [UInt8]? = nil, tsigKeys: [TSIGKey] = [], clock: @escaping () -> UInt64 = { 0 }) {
        self.snapshot = snapshot
        self.nsid = nsid
        self.tsigKeys = tsigKeys
        self.clock = clock
        versionTXT = .txt([Array(version.prefix(255))])
        identityTXT = .txt([Array((identity ?? nsid ?? []).prefix(255))])
        versionBind = DomainName(trustedLabels: ["version", "bind"])
        hostnameBind = DomainName(trustedLabels: ["hostname", "bind"])
        idServer = DomainName(trustedLabels: ["id", "server"])
    }

    /// What to put in the authority section after the answer.
    enum Authority {
        case none
        case soa(zone: Int)
        case referral(zone: Int, node: Int, owner: NameView)
    }

    /// Writes the response to `query` into `out` and returns its length;
    /// 0 means send nothing (responses, runts). UDP responses are capped at
    /// the client's payload size (512 without EDNS) and truncated at a
    /// record boundary with TC=1; TCP ones at 65535. Hot-path safe.
    public func respond(to query: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                        udp: Bool) -> Int {
        var hr = ByteReader(query)
        let qh: Header
        do throws(DNSError) { qh = try Header.read(&hr) } catch { return 0 }
        if qh.qr { return 0 }
        var h = Header(id: qh.id)
        h.qr = true
        h.opcode = qh.opcode
        // An opcode we do not implement gets NOTIMP whatever follows the
        // header (RFC 1035 §4.1.1, RFC 6895 §2.2), without RD and CD: they
        // are defined for QUERY only (as genreport checks).
        if qh.opcode != .query && qh.opcode != .notify {
            h.rcode = RCode.notImp.headerBits
            return headerOnly(h, into: out)
        }
        h.rd = qh.rd
        h.cd = qh.cd
        let q: Query
        do throws(DNSError) {
            q = try Query.parse(query)
        } catch {
            h.rcode = RCode.formErr.headerBits
            return headerOnly(h, into: out)
        }
        return respond(q, into: out, udp: udp)
    }

    /// `respond(to:into:udp:)` for a query the caller already parsed (the
    /// forwarding front end parses once and routes). Hot-path safe.
    public func respond(_ q: Query, into out: UnsafeMutableRawBufferPointer, udp: Bool,
                        peer: SocketAddress? = nil) -> Int {
        if q.hasTSIG { return respondSigned(q, into: out, udp: udp, peer: peer) }
        return respond(q, into: out, udp: udp, peer: peer, reserve: 0, signedBy: nil)
    }

    /// A signed request (RFC 8945 §5.2): verified against `tsigKeys`, then
    /// answered as any other and the answer signed with the same key; a
    /// request that does not verify gets FORMERR or NOTAUTH with the TSIG
    /// error (BADKEY, BADSIG, BADTIME), as Knot and BIND answer.
    @_optimize(size) func respondSigned(_ q: Query, into out: UnsafeMutableRawBufferPointer, udp: Bool,
                                        peer: SocketAddress?) -> Int {
        let raw = q.question.name.message
        let now = clock()
        switch TSIG.verify(raw, keys: tsigKeys, now: now) {
        case .verified(let v):
            let key = tsigKeys[v.keyIndex]
            let n = respond(q, into: out, udp: udp, peer: peer, reserve: TSIG.size(for: key), signedBy: key)
            guard n > 0 else { return 0 }
            do throws(DNSError) {
                return try key.sign(response: out, length: n, requestMAC: v.mac, timeSigned: now).length
            } catch {
                // Never an unsigned answer to a signed request: SERVFAIL, signed.
                let m = headerOnly(q, .servFail, into: out)
                return (try? key.sign(response: out, length: m, requestMAC: v.mac, timeSigned: now).length) ?? 0
            }
        case .rejected(let r):
            do throws(DNSError) { return try r.writeResponse(to: raw, now: now, into: out) } catch { return 0 }
        case .unsigned, .peerError:
            return headerOnly(q, .formErr, into: out)
        }
    }

    /// The answer, `reserve` bytes short of the limit (for a TSIG RR);
    /// `signedBy`: the key the request verified with.
    func respond(_ q: Query, into out: UnsafeMutableRawBufferPointer, udp: Bool, peer: SocketAddress?,
                 reserve: Int, signedBy: TSIGKey?) -> Int {
        let qh = q.header
        if qh.qr { return 0 }
        var h = Header(id: qh.id)
        h.qr = true
        h.opcode = qh.opcode
        if qh.opcode == .query || qh.opcode == .notify {
            h.rd = qh.rd
            h.cd = qh.cd
        }
        let limit = min(udp ? q.maxUDPResponse : 65535, out.count) &- reserve
        do throws(DNSError) {
            var w = try MessageWriter(buffer: out, capacity: limit, header: h)
            try w.writeQuestion(q.question)
            // Room for our OPT, so a truncated answer still carries it.
            let wantNSID = nsid != nil && (q.edns?.requestsNSID ?? false)
            var optSize = 0
            if q.edns != nil {
                optSize = 11
                if wantNSID, let n = nsid { optSize &+= 4 &+ n.count }
            }
            w.reserve(optSize)
            var rcode = RCode.noError
            if q.needsBadVers {
                rcode = .badVers
            } else if qh.opcode == .notify {
                rcode = acknowledgeNotify(q, peer: peer, signedBy: signedBy, &w)
            } else if qh.opcode != .query {
                rcode = .notImp
            } else if udp && (q.question.type == .axfr || q.question.type == .ixfr) {
                // Transfers are TCP only (RFC 5936 §4.2); NOTIMP as Knot and NSD answer.
                rcode = .notImp
            } else {
                rcode = answer(q, &w)
            }
            w.release()
            if q.edns != nil {
                if wantNSID, let n = nsid {
                    let dnssecOK = q.edns?.dnssecOK ?? false
                    let r = n.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> Result<Void, DNSError> in
                        do throws(DNSError) {
                            try w.writeOPT(payloadSize: Answerer.payloadSize, rcode: rcode, dnssecOK: dnssecOK, nsid: b)
                            return .success(())
                        } catch {
                            return .failure(error)
                        }
                    }
                    try r.get()
                } else {
                    try w.writeOPT(payloadSize: Answerer.payloadSize, rcode: rcode,
                                   dnssecOK: q.edns?.dnssecOK ?? false)
                }
            } else {
                w.header.rcode = rcode.headerBits
            }
            return w.finish()
        } catch {
            // Only a buffer smaller than the question gets here.
            h.rcode = RCode.servFail.headerBits
            return headerOnly(h, into: out)
        }
    }

    /// The header-only answer to `q` with `rcode` (a signed request that
    /// cannot be answered or does not parse as one).
    func headerOnly(_ q: Query, _ rcode: RCode, into out: UnsafeMutableRawBufferPointer) -> Int {
        var h = Header(id: q.header.id)
        h.qr = true
        h.opcode = q.header.opcode
        h.rcode = rcode.headerBits
        return headerOnly(h, into: out)
    }

    /// A 12-byte response: header only (FORMERR, or no room at all).
    func headerOnly(_ h: Header, into out: UnsafeMutableRawBufferPointer) -> Int {
        do throws(DNSError) {
            var w = try MessageWriter(buffer: out, header: h)
            return w.finish()
        } catch {
            return 0
        }
    }

    /// A NOTIFY (RFC 1996) sent to us. For a zone we are primary of there
    /// is nothing to refresh: it is acknowledged (NOERROR, AA=1). For a
    /// secondary zone, only from its `allow_notify` (default: its
    /// primaries; anyone else: REFUSED, as BIND and Knot's ACLs do), and the
    /// caller starts a refresh (`isAcceptedNotify`). Anything else gets
    /// NOTAUTH, as Knot and BIND do.
    func acknowledgeNotify(_ q: Query, peer: SocketAddress?, signedBy: TSIGKey?, _ w: inout MessageWriter) -> RCode {
        let name = q.question.name
        guard q.question.type == .soa, q.question.rrClass == .in,
              let e = snapshot.zoneIndex.entry(name, hash: SuffixHashes(name).hash(droppingLabels: 0))
        else { return .notAuth }
        let policy = snapshot.policies[snapshot.zoneIndex.value(at: e)]
        if policy.isSecondary {
            guard let peer, policy.allowNotify.contains(peer) else { return .refused }
            // A zone with a key takes NOTIFY signed with it only.
            if let need = policy.tsigKey, signedBy.map({ $0.name != need.name }) ?? true { return .notAuth }
        }
        w.header.aa = true
        return .noError
    }

    /// The secondary zone a NOTIFY in `query` from `peer` asks to refresh,
    /// when it is one and the peer may (the response says NOERROR).
    public func acceptedNotify(_ query: UnsafeRawBufferPointer, peer: SocketAddress) -> DomainName? {
        guard let q = try? Query.parse(query), q.header.opcode == .notify, !q.header.qr,
              q.question.type == .soa, q.question.rrClass == .in else { return nil }
        let name = q.question.name.domainName
        guard let (_, policy) = snapshot.zoneAndPolicy(named: name), policy.isSecondary,
              policy.allowNotify.contains(peer) else { return nil }
        // Signed: it must verify (RFC 8945 §5.2), and with the zone's key
        // when it has one; unsigned only for a zone without a key.
        if q.hasTSIG || policy.tsigKey != nil {
            guard case .verified(let v) = TSIG.verify(query, keys: tsigKeys, now: clock()) else { return nil }
            if let need = policy.tsigKey, tsigKeys[v.keyIndex].name != need.name { return nil }
        }
        return name
    }

    /// Fills answer, authority and additional sections for a QUERY and
    /// returns the RCODE. On running out of room, sets TC and stops.
    func answer(_ q: Query, _ w: inout MessageWriter) -> RCode {
        let qn = q.question.name
        let qtype = q.question.type
        if q.question.rrClass == .ch { return chaos(q, &w) }
        guard q.question.rrClass == .in || q.question.rrClass == .any else { return .refused }
        // Zone transfers and other meta queries are not answered here.
        if qtype.rawValue >= 128 && qtype.rawValue <= 254 && qtype != RRType(255) { return .refused }
        var hashes = SuffixHashes(qn)
        guard let first = snapshot.zoneIndex.closestEncloser(of: qn, hashes: hashes) else { return .refused }
        var zi = snapshot.zoneIndex.value(at: first.entry)
        // DS at a zone's apex is the parent's to answer when the parent is
        // served here too (RFC 4035 §3.1.4.1), as Knot and NSD do.
        // Only where the parent has the delegation: without one the child
        // keeps answering (a parent wildcard or an NXDOMAIN would be wrong).
        if qtype == .ds && first.labelsDropped == 0 && qn.labelCount > 0,
           let parent = snapshot.zoneIndex.closestEncloser(of: qn, hashes: hashes, dropping: 1) {
            let pz = snapshot.zoneIndex.value(at: parent.entry)
            let p = snapshot.zones[pz]
            if !snapshot.policies[pz].unavailable, let e = p.index.entry(qn, hash: hashes.hash(droppingLabels: 0)),
               p.nodeDelegation[p.index.value(at: e)] {
                zi = pz
            }
        }
        if snapshot.policies[zi].unavailable { return .servFail }
        var cur = qn
        var hops = 0
        // Nodes answered so far in this chain (zone, node): a CNAME back to
        // one of them ends the chain instead of repeating it.
        var seenZone = InlineArray<8, Int>(repeating: -1)
        var seenNode = InlineArray<8, Int>(repeating: -1)
        var rcode = RCode.noError
        var authority = Authority.none
        var aa = true
        do throws(DNSError) {
            while true {
                let z = snapshot.zones[zi]
                let step = try resolve(cur, hashes: hashes, zone: z, zoneIndex: zi, qtype: qtype, &w)
                switch step {
                case .done:
                    break
                case .nodata:
                    authority = .soa(zone: zi)
                case .nxdomain:
                    rcode = .nxDomain
                    authority = .soa(zone: zi)
                case .referral(let node, let owner):
                    if w.header.anCount == 0 { aa = false }
                    authority = .referral(zone: zi, node: node, owner: owner)
                case .cname(let target, let node):
                    if hops < seenNode.count {
                        seenZone[hops] = zi
                        seenNode[hops] = node
                    }
                    hops &+= 1
                    guard hops < Answerer.maxChain, let t = snapshot.zones[zi].arenaName(at: target) else { break }
                    let th = SuffixHashes(t)
                    guard let next = snapshot.zoneIndex.closestEncloser(of: t, hashes: th) else { break }
                    let nextZone = snapshot.zoneIndex.value(at: next.entry)
                    if let ni = snapshot.zones[nextZone].index.entry(t, hash: th.hash(droppingLabels: 0)) {
                        var k = 0
                        while k < hops && k < seenNode.count && !(seenZone[k] == nextZone && seenNode[k] == ni) {
                            k &+= 1
                        }
                        if k < hops && k < seenNode.count { break }
                    }
                    zi = nextZone
                    cur = t
                    hashes = th
                    continue
                }
                break
            }
            w.header.aa = aa
            switch authority {
            case .none:
                break
            case .soa(let zi):
                let z = snapshot.zones[zi]
                try w.writeRecord(.authority, owner: z.origin, ttl: z.negativeTTL, rdata: z.soa)
            case .referral(let zi, let ni, let owner):
                let z = snapshot.zones[zi]
                let ns = z.set(ni, .ns)
                guard ns >= 0 else { break }
                try writeSet(z, ns, owner: owner, .authority, &w)
                // Glue is required: if it does not fit, the client must retry over TCP.
                try writeAdditional(z, ns, &w)
            }
            if case .none = authority { try additionalForAnswer(qtype, cur, hashes, zi, &w) }
        } catch {
            if case .noRoom = error { w.header.tc = true }
            w.header.aa = aa
        }
        return rcode
    }

    enum Step {
        case done
        case nodata
        case nxdomain
        case referral(node: Int, owner: NameView)
        case cname(target: Int, node: Int)
    }

    /// Looks `name` up in `z` (RFC 1034 §4.3.2 step 3) and writes what it
    /// finds to the answer section.
    func resolve(_ name: NameView, hashes: SuffixHashes, zone z: CompiledZone, zoneIndex zi: Int,
                 qtype: RRType, _ w: inout MessageWriter) throws(DNSError) -> Step {
        let below = name.labelCount &- z.origin.labelCount
        // Walk down from just below the apex: a delegation on the way wins.
        var d = below &- 1
        var nodeIndex = -1
        var encloser = 0    // the apex is always node 0
        while d >= 0 {
            guard let owner = name.dropping(labels: d) else { return .nxdomain }
            let h = hashes.hash(droppingLabels: d)
            // A layer holds leaf children of the apex, and shadows them.
            if d == below &- 1, var l = z.layer {
                var le = l.entry(owner, hash: h)
                if le < 0, let o = l.older {
                    l = o
                    le = o.entry(owner, hash: h)
                }
                if le >= 0 {
                    // Gone: as if never there (the apex encloses the name).
                    if l.entryType[le] == 0 { break }
                    // Below a leaf: nothing, not even a wildcard (RFC 4592 §2.2.2).
                    if d != 0 { return .nxdomain }
                    let t = l.entryType[le]
                    guard qtype.rawValue == t || qtype == RRType(255) else { return .nodata }
                    try l.write(le, owner: name, .answer, &w)
                    return .done
                }
            }
            guard let e = z.index.entry(owner, hash: h) else { break }
            let ni = z.index.value(at: e)
            if z.nodeDelegation[ni] {
                // DS belongs to the parent side (RFC 4035 §3.1.4.1).
                if d == 0 && qtype == .ds { nodeIndex = ni; break }
                return .referral(node: ni, owner: owner)
            }
            encloser = ni
            if d == 0 { nodeIndex = ni }
            d &-= 1
        }
        if below == 0 { nodeIndex = encloser }
        if nodeIndex < 0 {
            // No such name: a wildcard child of the closest encloser
            // answers for it (RFC 4592 §3.3.1), else NXDOMAIN.
            let wi = Int(z.nodeWildcard[encloser])
            guard wi >= 0 else { return .nxdomain }
            nodeIndex = wi
        }
        if z.setCount(nodeIndex) == 0 { return .nodata }
        if qtype == RRType(255) {
            // RFC 8482 §4.2: one RRset is enough.
            try writeSet(z, Int(z.nodeSets[nodeIndex]), owner: name, .answer, &w)
            return .done
        }
        let s = z.set(nodeIndex, qtype)
        if s >= 0 {
            try writeSet(z, s, owner: name, .answer, &w)
            return .done
        }
        let c = z.set(nodeIndex, .cname)
        if c >= 0 {
            try writeSet(z, c, owner: name, .answer, &w)
            let target = Int(z.setTarget[c])
            return target >= 0 ? .cname(target: target, node: nodeIndex) : .done
        }
        return .nodata
    }

    /// Writes every record of RRset `s` of zone `z` with `owner`.
    func writeSet(_ z: CompiledZone, _ s: Int, owner: NameView, _ section: Section,
                  _ w: inout MessageWriter) throws(DNSError) {
        let type = RRType(z.setType[s])
        let ttl = z.setTTL[s]
        var r = Int(z.setRecords[s])
        let end = Int(z.setRecords[s &+ 1])
        while r < end {
            let form = z.recordForm[r]
            if form == RDataForm.soa.rawValue {
                try w.writeRecord(section, owner: owner, ttl: ttl, rdata: z.soa)
            } else {
                let nameAt = form == RDataForm.name.rawValue ? 0 : (form == RDataForm.prefName.rawValue ? 2 : -1)
                try w.writeRecord(section, owner: owner, type: type, ttl: ttl,
                                  rdataWire: z.bytes(Int(z.recordStart[r]), Int(z.recordLength[r])),
                                  nameAt: nameAt)
            }
            r &+= 1
        }
    }

    /// The additional data of RRset `s`: addresses of in-zone targets.
    func writeAdditional(_ z: CompiledZone, _ s: Int, _ w: inout MessageWriter) throws(DNSError) {
        var e = Int(z.setExtras[s])
        let end = Int(z.setExtras[s &+ 1])
        while e < end {
            let ownerAt = Int(z.extraOwner[e])
            let owner = z.bytes(ownerAt, z.wireLength(at: ownerAt))
            let a = Int(z.extraSet[e])
            let type = RRType(z.setType[a])
            var r = Int(z.setRecords[a])
            let rend = Int(z.setRecords[a &+ 1])
            while r < rend {
                try w.writeRecord(.additional, ownerWire: owner, type: type, ttl: z.setTTL[a],
                                  rdataWire: z.bytes(Int(z.recordStart[r]), Int(z.recordLength[r])),
                                  nameAt: -1)
                r &+= 1
            }
            e &+= 1
        }
    }

    /// Target addresses for an MX/SRV/NS answer (RFC 1035 §3.3.9). Optional
    /// data: what does not fit is left out without TC (RFC 2181 §9).
    func additionalForAnswer(_ qtype: RRType, _ name: NameView, _ hashes: SuffixHashes, _ zi: Int,
                             _ w: inout MessageWriter) throws(DNSError) {
        guard qtype == .mx || qtype == .srv || qtype == .ns else { return }
        let z = snapshot.zones[zi]
        guard let e = z.index.entry(name, hash: hashes.hash(droppingLabels: 0)) else { return }
        let s = z.set(z.index.value(at: e), qtype)
        guard s >= 0 else { return }
        do throws(DNSError) {
            try writeAdditional(z, s, &w)
        } catch {
            return
        }
    }

    /// CHAOS class: TXT for version.bind, hostname.bind and id.server.
    func chaos(_ q: Query, _ w: inout MessageWriter) -> RCode {
        let n = q.question.name
        let t = q.question.type
        guard t == .txt || t == RRType(255) else { return .refused }
        let rd: RData
        if n.equals(versionBind) {
            rd = versionTXT
        } else if n.equals(hostnameBind) || n.equals(idServer) {
            rd = identityTXT
        } else {
            return .refused
        }
        // AA=0: these are not zone data (Knot and NSD answer the same way).
        do throws(DNSError) {
            try w.writeRecord(.answer, owner: n, ttl: 0, rrClass: .ch, rdata: rd)
        } catch {
            w.header.tc = true
        }
        return .noError
    }
}

extension DomainName {
    /// Builds a name from ASCII labels known to be valid (build time only).
    init(trustedLabels labels: [StaticString]) {
        var n = DomainName.root
        var i = labels.count
        while i > 0 {
            i &-= 1
            let s = labels[i]
            var bytes: [UInt8] = []
            s.withUTF8Buffer { b in bytes.append(contentsOf: b) }
            if let m = try? n.prepending(label: bytes) { n = m }
        }
        self = n
    }
}
