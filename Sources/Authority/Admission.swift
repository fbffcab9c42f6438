// Zone transfer admission (RFC 5936 §6, RFC 1995): the engine decides, as
// NSD's query_process returns IN_AXFR, and the TCP server only carries the
// transfer out. Sans-I/O: a query, the peer's address and the snapshot's
// policies in; a decision out.

import DNS
import Sys

/// What may be done with a zone besides answering queries: who may
/// transfer it, and whom to NOTIFY when its serial changes.
public struct ZonePolicy {
    public var allowTransfer = AccessList()
    public var notify: [SocketAddress] = []
    /// A secondary zone: its primaries, and who may NOTIFY it.
    public var primaries: [SocketAddress] = []
    public var allowNotify = AccessList()
    /// A secondary zone with no data to serve (never transferred, or
    /// expired): queries for it get SERVFAIL (RFC 1034 §4.3.5) and it is
    /// not transferred onwards.
    public var unavailable = false
    /// The zone's differences, for IXFR out (nil: IXFR gets the whole zone).
    public var journal: Journal?
    /// The TSIG key transfers out must be signed with, that NOTIFY in must
    /// be signed with, and that transfers in, their answers and NOTIFY out
    /// (and its acknowledgements) are signed and checked with (RFC 8945).
    public var tsigKey: TSIGKey?

    public var isSecondary: Bool { !primaries.isEmpty }

    public init(allowTransfer: AccessList = AccessList(), notify: [SocketAddress] = []) {
        self.allowTransfer = allowTransfer
        self.notify = notify
    }
}

/// The engine's decision on a query that arrived over TCP.
public enum TransferAdmission {
    /// Not an AXFR/IXFR for a zone we serve: answer it as any query.
    case notTransfer
    /// A transfer of `zone` the peer is not allowed: answer it through
    /// `respond` (REFUSED, or the TSIG error) and log `reason`.
    case refused(zone: DomainName, reason: StaticString)
    /// Send this transfer.
    case start(ZoneTransfer)
}

extension Answerer {
    /// Decides on `query` from `peer` over a stream transport. Transfers
    /// over UDP never get here: `respond` refuses them (RFC 5936 §4.2).
    public func admitTransfer(_ query: UnsafeRawBufferPointer, peer: SocketAddress) -> TransferAdmission {
        let q: Query
        do throws(DNSError) { q = try Query.parse(query) } catch { return .notTransfer }
        guard q.header.opcode == .query, !q.needsBadVers,
              q.question.type == .axfr || q.question.type == .ixfr, q.question.rrClass == .in
        else { return .notTransfer }
        let name = q.question.name.domainName
        guard let (zone, policy) = snapshot.zoneAndPolicy(named: name) else { return .notTransfer }
        guard policy.allowTransfer.contains(peer) else { return .refused(zone: name, reason: "address not in allow_transfer") }
        // An expired secondary answers SERVFAIL through `respond`.
        guard !policy.unavailable else { return .notTransfer }
        // Signed (or a zone that needs it): the stream is signed with the
        // key the request verified with (RFC 8945 §5.3.1).
        var signer: TSIGStreamSigner? = nil
        let now = clock()
        if q.hasTSIG || policy.tsigKey != nil {
            switch TSIG.verify(query, keys: tsigKeys, now: now) {
            case .verified(let v):
                let key = tsigKeys[v.keyIndex]
                if let need = policy.tsigKey, need.name != key.name {
                    return .refused(zone: name, reason: "signed with another key than the zone's tsig_key")
                }
                signer = TSIGStreamSigner(key: key, requestMAC: v.mac)
            case .unsigned:
                return .refused(zone: name, reason: "not signed with the zone's tsig_key")
            case .rejected, .peerError:
                return .refused(zone: name, reason: "TSIG does not verify")
            }
        }
        guard var t = ZoneTransfer(zone: zone, query: query, journal: policy.journal) else { return .notTransfer }
        t.sign(with: signer, clock: clock)
        return .start(t)
    }
}
