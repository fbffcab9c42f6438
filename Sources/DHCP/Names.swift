// Names in DHCPv4: the client's host name (option 12) and FQDN (option 81,
// RFC 4702), cleaned up before they may reach DNS, and the domain search
// list (option 119, RFC 3397) in compressed wire form.

public enum DHCPNames {
    /// A host label a client may register: the first label of what it sent
    /// (a foreign domain part is dropped), lowercased, letters, digits and
    /// `-` only (other bytes become `-`, runs collapse), no leading or
    /// trailing `-`, at most 63 bytes. nil when nothing usable remains
    /// (as odhcpd and dnsmasq do, an invalid name never reaches DNS).
    public static func sanitize(_ raw: [UInt8]) -> String? {
        var label: [UInt8] = []
        for b in raw {
            if b == 0x2E || b == 0 { break }  // the first label only; NUL ends (some clients pad)
            let c = (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
            let ok = (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
            if ok {
                label.append(c)
            } else if label.last != 0x2D && !label.isEmpty {
                label.append(0x2D)
            }
        }
        while label.last == 0x2D { label.removeLast() }
        if label.count > 63 {
            label = Array(label.prefix(63))
            while label.last == 0x2D { label.removeLast() }
        }
        guard !label.isEmpty else { return nil }
        return String(decoding: label, as: UTF8.self)
    }

    /// The name in an option 81 value (RFC 4702 §2): flags, two RCODE bytes,
    /// then the name in wire form (E flag) or ASCII. Returns the first label
    /// of it, raw, or nil.
    public static func fqdnFirstLabel(_ v: [UInt8]) -> [UInt8]? {
        guard v.count > 3 else { return nil }
        let flags = v[0]
        let name = Array(v[3...])
        if flags & 0x04 != 0 {
            // Canonical wire encoding: the first label.
            guard let n = name.first, n > 0, n < 64, name.count >= 1 + Int(n) else { return nil }
            return Array(name[1...Int(n)])
        }
        return name
    }

    /// Option 119: the search list in DNS wire form with compression
    /// pointers relative to the start of the option data (RFC 3397 §2).
    /// nil when a domain is not a valid name.
    public static func searchList(_ domains: [String]) -> [UInt8]? {
        var out: [UInt8] = []
        // Offsets of suffixes already written: (labels of the suffix, offset).
        var written: [([[UInt8]], Int)] = []
        for d in domains {
            var labels: [[UInt8]] = []
            for part in d.split(separator: ".", omittingEmptySubsequences: true) {
                let bytes = Array(part.utf8).map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }
                guard !bytes.isEmpty, bytes.count <= 63 else { return nil }
                labels.append(bytes)
            }
            guard !labels.isEmpty, labels.reduce(1, { $0 + $1.count + 1 }) <= 255 else { return nil }
            var i = 0
            while i < labels.count {
                let suffix = Array(labels[i...])
                if let hit = written.first(where: { $0.0 == suffix }), hit.1 < 0x3FFF {
                    out.append(0xC0 | UInt8(hit.1 >> 8))
                    out.append(UInt8(hit.1 & 0xFF))
                    break
                }
                written.append((suffix, out.count))
                out.append(UInt8(labels[i].count))
                out += labels[i]
                i += 1
            }
            if i == labels.count { out.append(0) }
        }
        return out
    }
}
