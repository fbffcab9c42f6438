// The one error type of the Zone module, and the rule that keeps $INCLUDE
// inside the zone directory. Every error names the file, line and column of
// the token at fault (STYLE.md habit 7).

/// A master-file error.
///
/// Contract: `line` and `column` are 1-based and `column` is the byte offset
/// of the offending token inside its line plus one (a tab is one column, a
/// multi-byte UTF-8 character several), as in the Config module. An error
/// about a whole file (it cannot be read, the zone has no SOA) has line and
/// column 0 and prints as `MESSAGE at FILE`.
public struct ZoneError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(_ message: String, file: String, line: Int, column: Int) {
        self.message = message
        self.file = file
        self.line = line
        self.column = column
    }

    /// `MESSAGE at FILE:LINE:COL`, or `MESSAGE at FILE` without a position.
    public var description: String {
        if line == 0 { return message + " at " + file }
        return message + " at " + file + ":\(line):\(column)"
    }
}

/// Where a token or record came from.
struct ZonePlace: Equatable, Sendable {
    var file: String
    var line: Int
    var column: Int

    func error(_ message: String) -> ZoneError {
        ZoneError(message, file: file, line: line, column: column)
    }

    /// `FILE:LINE`, for "first defined at" remarks.
    var shortDescription: String { line == 0 ? file : file + ":\(line)" }
}

/// Path rules for `$INCLUDE` (no I/O: the caller's `readFile` does that).
enum IncludePath {
    /// The path to read for `$INCLUDE path`, or nil when it would leave
    /// `directory`. A relative path is taken from `directory`; "." and ".."
    /// components are resolved textually, and the result must lie strictly
    /// inside `directory`. Symbolic links are not seen here: a caller that
    /// must not follow them out of the directory checks in `readFile`.
    static func resolve(_ path: String, in directory: String) -> String? {
        guard !path.isEmpty, let d = normalize(directory) else { return nil }
        let full = path.utf8.first == 0x2F ? path : d + "/" + path
        guard let r = normalize(full) else { return nil }
        if d == "." { return r.utf8.first != 0x2F && r != "." ? r : nil }
        let prefix = d == "/" ? "/" : d + "/"
        guard r.utf8.count > prefix.utf8.count, r.utf8.starts(with: prefix.utf8) else { return nil }
        return r
    }

    /// Splits on "/", drops empty and "." components and resolves "..";
    /// nil when ".." climbs above the start. An absolute path stays
    /// absolute; a relative one stays relative ("" becomes ".").
    static func normalize(_ path: String) -> String? {
        let absolute = path.utf8.first == 0x2F
        var parts: [[UInt8]] = []
        var cur: [UInt8] = []
        for c in path.utf8 + [0x2F] {
            guard c == 0x2F else { cur.append(c); continue }
            if cur.isEmpty || cur == [0x2E] {
                // "" or ".": nothing
            } else if cur == [0x2E, 0x2E] {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            } else {
                parts.append(cur)
            }
            cur = []
        }
        var out: [UInt8] = absolute ? [0x2F] : []
        for (k, p) in parts.enumerated() {
            if k > 0 { out.append(0x2F) }
            out.append(contentsOf: p)
        }
        if out.isEmpty { out = [0x2E] }
        return String(decoding: out, as: UTF8.self)
    }
}
