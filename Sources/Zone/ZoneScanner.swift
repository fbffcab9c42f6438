// The lexical layer of a master file (RFC 1035 §5.1): splits the bytes into
// entries, one per logical line, each a list of tokens with their position.
//
// - Whitespace (space, tab, CR) separates tokens; a newline ends the entry
//   unless a "(" is open, so parentheses let an entry span lines.
// - ";" starts a comment that runs to the end of the line.
// - A "quoted string" is one token; it may hold any byte but a newline.
// - "\X" makes any byte X part of the token (so "\;", "\(", "\ " do not
//   split); "\DDD" is three digits and needs nothing special here. Escapes
//   are kept as written: the DNS presentation parsers resolve them, since
//   "\." and "." differ inside names.
// - An entry whose first token is not at column 1 has no owner (the
//   previous owner applies).

/// One token and where it starts.
struct ZoneToken {
    /// The text as written, without the surrounding quotes: a slice of
    /// the file's bytes (no copy).
    var text: ArraySlice<UInt8>
    var quoted: Bool
    var line: Int
    /// 1-based byte column of the first byte (the opening quote if quoted).
    var column: Int
    /// Column just after the last byte (after the closing quote).
    var endColumn: Int

    var string: String { String(decoding: text, as: UTF8.self) }

    /// An unquoted token equal to `s`, ignoring ASCII case.
    func isWord(_ s: StaticString) -> Bool {
        guard !quoted, text.count == s.utf8CodeUnitCount else { return false }
        var k = 0
        let p = s.utf8Start
        let t0 = text.startIndex
        while k < text.count {
            let c = text[t0 &+ k]
            let a = c | (c >= 0x41 && c <= 0x5A ? 0x20 : 0)
            let b = p[k] | (p[k] >= 0x41 && p[k] <= 0x5A ? 0x20 : 0)
            if a != b { return false }
            k &+= 1
        }
        return true
    }
}

/// Splits master-file bytes into entries. Stops at the first lexical error.
struct ZoneScanner {
    let bytes: [UInt8]
    let file: String
    private var i = 0
    private var line = 1
    /// Index of the first byte of the current line.
    private var lineStart = 0

    init(_ bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
        // A UTF-8 byte order mark is not part of the first owner name.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            i = 3
            lineStart = 3
        }
    }

    private var column: Int { i &- lineStart &+ 1 }

    private func error(_ message: String, line: Int, column: Int) -> ZoneError {
        ZoneError(message, file: file, line: line, column: column)
    }

    /// The next non-empty entry into `tokens` (emptied first; its storage
    /// is reused), or false at the end of the input.
    @_optimize(speed) mutating func next(into tokens: inout [ZoneToken]) throws(ZoneError) -> Bool {
        tokens.removeAll(keepingCapacity: true)
        var parenLine = 0
        var parenColumn = 0
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case 0x20, 0x09, 0x0D:
                i &+= 1
            case 0x0A:
                i &+= 1
                line &+= 1
                lineStart = i
                if parenLine == 0, !tokens.isEmpty { return true }
            case 0x3B:                                           // ";"
                while i < bytes.count, bytes[i] != 0x0A { i &+= 1 }
            case 0x28:                                           // "("
                guard parenLine == 0 else {
                    throw error("nested '(' (the one open since line \(parenLine) is not closed)",
                                line: line, column: column)
                }
                parenLine = line
                parenColumn = column
                i &+= 1
            case 0x29:                                           // ")"
                guard parenLine != 0 else { throw error("')' without '('", line: line, column: column) }
                parenLine = 0
                i &+= 1
            case 0x22:                                           // '"'
                tokens.append(try quoted())
            default:
                tokens.append(try word())
            }
        }
        if parenLine != 0 { throw error("'(' not closed before the end of the file", line: parenLine, column: parenColumn) }
        return !tokens.isEmpty
    }

    /// A quoted string starting at the opening quote.
    private mutating func quoted() throws(ZoneError) -> ZoneToken {
        let startLine = line, startColumn = column
        i &+= 1
        let start = i
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x0A { break }
            if c == 0x22 {
                let text = bytes[start..<i]
                i &+= 1
                return ZoneToken(text: text, quoted: true, line: startLine, column: startColumn, endColumn: column)
            }
            if c == 0x5C {
                guard i &+ 1 < bytes.count, bytes[i &+ 1] != 0x0A else { break }
                i &+= 2
                continue
            }
            i &+= 1
        }
        throw error("quoted string not closed on its line", line: startLine, column: startColumn)
    }

    /// Bytes that end an unquoted token: whitespace, a newline, ";", "(",
    /// ")" and '"' (all below 64: one bit each).
    private static let delimiters: UInt64 = 1 << 0x20 | 1 << 0x09 | 1 << 0x0D | 1 << 0x0A | 1 << 0x3B
        | 1 << 0x28 | 1 << 0x29 | 1 << 0x22

    /// An unquoted token: up to whitespace, a newline, ";", "(", ")" or '"'.
    @_optimize(speed) private mutating func word() throws(ZoneError) -> ZoneToken {
        let startColumn = column
        let start = i
        // The end of the token, or -1 - (the offset of a '\' that ends a line).
        let end = bytes.withUnsafeBufferPointer { p -> Int in
            var j = start
            while j < p.count {
                let c = p[j]
                if c < 64 && (ZoneScanner.delimiters >> UInt64(c)) & 1 != 0 { return j }
                if c == 0x5C {
                    guard j &+ 1 < p.count, p[j &+ 1] != 0x0A, p[j &+ 1] != 0x0D else { return -1 &- j }
                    j &+= 2
                    continue
                }
                j &+= 1
            }
            return j
        }
        if end < 0 {
            i = -1 &- end
            throw error("'\\' at the end of a line", line: line, column: column)
        }
        i = end
        return ZoneToken(text: bytes[start..<end], quoted: false, line: line, column: startColumn, endColumn: column)
    }
}
