// Errors and source positions shared by the UCI parser, the schema checks
// and the loader. Every error that comes from the file carries the place it
// came from (STYLE.md habit 7).

/// A position in a config file.
///
/// Contract: `line` and `column` are 1-based. `column` is the byte offset of
/// the token inside its line plus one: a tab counts as one column and a
/// multi-byte UTF-8 character as several. For a section the position is that
/// of its TYPE token (`config dnsd 'main'` → the `d` of `dnsd`); for an option
/// or list entry it is that of its NAME token (`\toption listne 'x'` → column 9).
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COL`.
    public var description: String { "\(file):\(line):\(column)" }
}

/// The one error type of the Config module.
///
/// `description` reads `MESSAGE at FILE:LINE:COL; HINT` — the location comes
/// before the hint so the first part is what a compiler would print, e.g.
/// `unknown option 'listne' in section dnsd 'main' at /etc/config/dnsbox:4:9; did you mean 'listen'?`.
/// Without a location it is `MESSAGE` (and `; HINT` when there is one).
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String
    /// Extra advice printed after the location, e.g. `did you mean 'listen'?`.
    public var hint: String?

    public init(_ message: String, at location: SourceLocation? = nil, hint: String? = nil) {
        self.message = message
        self.location = location
        self.hint = hint
    }

    public var description: String {
        var text = message
        if let location { text += " at " + location.description }
        if let hint { text += "; " + hint }
        return text
    }
}

// MARK: - Suggestions

/// Nearest-name suggestions for misspelled section types and option names.
enum Suggestion {
    /// The candidate nearest to `name` by optimal-string-alignment
    /// (restricted Damerau–Levenshtein) distance over bytes, or nil when even
    /// the nearest is farther than `max(2, name.count / 3)`. Ties go to the
    /// candidate listed first, so table order decides.
    static func nearest(to name: String, among candidates: [String]) -> String? {
        let typed = Array(name.utf8)
        let limit = max(2, typed.count / 3)
        var best: String? = nil
        var bestDistance = Int.max
        for candidate in candidates {
            let d = distance(typed, Array(candidate.utf8))
            if d < bestDistance {
                bestDistance = d
                best = candidate
            }
        }
        guard bestDistance <= limit else { return nil }
        return best
    }

    /// `did you mean 'X'?` for the nearest candidate, or nil.
    static func hint(for name: String, among candidates: [String]) -> String? {
        guard let near = nearest(to: name, among: candidates) else { return nil }
        return "did you mean '" + near + "'?"
    }

    /// Optimal string alignment distance: insertions, deletions,
    /// substitutions and transpositions of adjacent bytes each cost 1.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        let width = b.count + 1
        // Three rolling rows: two back (for transpositions), previous, current.
        var twoBack = [Int](repeating: 0, count: width)
        var previous = [Int](repeating: 0, count: width)
        var current = [Int](repeating: 0, count: width)
        for j in 0..<width { previous[j] = j }
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d = min(d, twoBack[j - 2] + 1)
                }
                current[j] = d
            }
            swap(&twoBack, &previous)
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

// MARK: - Byte helpers shared by the parsers

enum ASCII {
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
    static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }
    static func hexValue(_ c: UInt8) -> Int {
        if isDigit(c) { return Int(c - 0x30) }
        if c >= 0x61 { return Int(c - 0x61 + 10) }
        return Int(c - 0x41 + 10)
    }
    /// `[A-Za-z0-9_]` — the UCI name alphabet.
    static func isNameByte(_ c: UInt8) -> Bool { isAlpha(c) || isDigit(c) || c == 0x5F }

    /// True when `text` is non-empty and made only of `[A-Za-z0-9_]`.
    static func isValidName(_ text: String) -> Bool {
        var any = false
        for c in text.utf8 {
            guard isNameByte(c) else { return false }
            any = true
        }
        return any
    }

    /// Decimal digits only (no sign, no spaces), value ≤ `limit`; nil on
    /// empty input, other bytes, or when the value passes `limit`.
    static func parseDecimal<S: Collection>(_ digits: S, limit: Int) -> Int? where S.Element == UInt8 {
        guard !digits.isEmpty else { return nil }
        var value = 0
        for c in digits {
            guard isDigit(c) else { return nil }
            let (scaled, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = scaled.addingReportingOverflow(Int(c - 0x30))
            if o1 || o2 || sum > limit { return nil }
            value = sum
        }
        return value
    }

    /// Lower-case hexadecimal without leading zeros.
    static func hex(_ value: Int) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        if value == 0 { return "0" }
        var out: [UInt8] = []
        var v = value
        while v > 0 {
            out.append(digits[v & 0xF])
            v >>= 4
        }
        out.reverse()
        return String(decoding: out, as: UTF8.self)
    }
}
