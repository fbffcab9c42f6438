// Small text forms shared by several modules (no I/O, no Unicode tables).

public enum Text {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `aa:bb:cc:dd:ee:ff` (lowercase hex bytes joined by colons).
    public static func mac(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for (i, b) in bytes.enumerated() {
            if i > 0 { out.append(0x3A) }
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Six hex bytes joined by colons, or nil.
    public static func parseMAC(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":")
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    /// ASCII letters lowercased; other bytes as they are.
    public static func lowercased(_ s: String) -> String {
        var b = Array(s.utf8)
        for i in b.indices where b[i] >= 0x41 && b[i] <= 0x5A { b[i] |= 0x20 }
        return String(decoding: b, as: UTF8.self)
    }

    /// ASCII letters uppercased.
    public static func uppercased(_ s: String) -> String {
        var b = Array(s.utf8)
        for i in b.indices where b[i] >= 0x61 && b[i] <= 0x7A { b[i] &= 0xDF }
        return String(decoding: b, as: UTF8.self)
    }

    /// Without leading and trailing spaces and tabs.
    public static func trimmed(_ s: Substring) -> String {
        let u = Array(s.utf8)
        var a = 0
        var b = u.count
        while a < b && (u[a] == 0x20 || u[a] == 0x09) { a += 1 }
        while b > a && (u[b - 1] == 0x20 || u[b - 1] == 0x09) { b -= 1 }
        return String(decoding: u[a..<b], as: UTF8.self)
    }
}
