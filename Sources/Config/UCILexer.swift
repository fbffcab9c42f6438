// The UCI tokenizer: bytes in, commands (lists of words) out.
//
// It follows libuci's file.c (parse_str, parse_single_quote,
// parse_double_quote, parse_backslash, uci_parse_line):
//
// - Words are separated by blanks (space, tab, CR, VT, FF).
// - A newline ends the command; so does an unquoted `;`.
// - An unquoted `#` starts a comment that runs to the end of the line, also
//   right after a word (`option a b#c` has the value `b`).
// - `'...'` is literal and may span lines.
// - `"..."` may span lines; inside it a backslash keeps the next byte as is
//   (`\"` → `"`, `\\` → `\`, `\n` → `n`; libuci does not decode escapes).
// - Outside quotes a backslash also keeps the next byte (`a\ b` is one word).
// - Backslash-newline (also backslash-CR-LF) is a line continuation inside
//   and outside quotes: both bytes vanish and the word or command goes on.
// - Adjacent pieces join into one word: `'a'"b"c` is `abc`.
// - A newline inside quotes is kept in the value (as libuci does).

/// One word of a command, after quoting and escapes are resolved.
struct UCIWord: Equatable, Sendable {
    /// The word's bytes, unquoted and unescaped.
    var bytes: [UInt8]
    /// Where the word's first byte (its opening quote, if any) stands.
    var location: SourceLocation

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Splits UCI text into commands. Never traps: every index is checked.
struct UCILexer {
    private let input: [UInt8]
    private let file: String
    private var pos = 0
    /// 1-based number of the line `pos` is on.
    private var line = 1
    /// Offset of the first byte of the current line.
    private var lineStart = 0

    init(_ input: [UInt8], file: String) {
        self.input = input
        self.file = file
    }

    private static let newline: UInt8 = 0x0A
    private static let carriageReturn: UInt8 = 0x0D
    private static let singleQuote: UInt8 = 0x27
    private static let doubleQuote: UInt8 = 0x22
    private static let backslash: UInt8 = 0x5C
    private static let hash: UInt8 = 0x23
    private static let semicolon: UInt8 = 0x3B

    /// Space, tab, CR, VT, FF: whitespace that does not end a line.
    private static func isBlank(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0B || c == 0x0C
    }

    /// The location of byte `offset`, which must lie on the current line.
    private func location(at offset: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: offset - lineStart + 1)
    }

    /// Steps over the newline at `pos` and starts the next line.
    private mutating func consumeNewline() {
        pos += 1
        line += 1
        lineStart = pos
    }

    /// True when the backslash at `offset` ends its line (or the input), so
    /// it is a line continuation rather than an escape.
    private func isContinuation(at offset: Int) -> Bool {
        let next = offset + 1
        if next >= input.count { return true }
        if input[next] == Self.newline { return true }
        return input[next] == Self.carriageReturn
            && next + 1 < input.count && input[next + 1] == Self.newline
    }

    /// Consumes a continuation backslash and the line end after it.
    private mutating func consumeContinuation() {
        pos += 1
        if pos < input.count, input[pos] == Self.carriageReturn { pos += 1 }
        if pos < input.count, input[pos] == Self.newline { consumeNewline() }
    }

    /// The next command's words, or nil at the end of the input.
    /// Blank lines and comment-only lines produce no command.
    mutating func nextCommand() throws(ConfigError) -> [UCIWord]? {
        var words: [UCIWord] = []
        while pos < input.count {
            let c = input[pos]
            if Self.isBlank(c) {
                pos += 1
            } else if c == Self.newline {
                consumeNewline()
                if !words.isEmpty { return words }
            } else if c == Self.semicolon {
                pos += 1
                if !words.isEmpty { return words }
            } else if c == Self.hash {
                while pos < input.count, input[pos] != Self.newline { pos += 1 }
            } else if c == Self.backslash, isContinuation(at: pos) {
                consumeContinuation()
            } else {
                words.append(try readWord())
            }
        }
        return words.isEmpty ? nil : words
    }

    /// Reads one word starting at `pos` (which is not blank, newline, `;`
    /// or `#`). Stops before the blank, newline, `;` or `#` that ends it.
    private mutating func readWord() throws(ConfigError) -> UCIWord {
        let start = location(at: pos)
        var out: [UInt8] = []
        while pos < input.count {
            let c = input[pos]
            if c == Self.singleQuote {
                try readSingleQuoted(into: &out)
            } else if c == Self.doubleQuote {
                try readDoubleQuoted(into: &out)
            } else if c == Self.backslash {
                if isContinuation(at: pos) {
                    consumeContinuation()
                } else {
                    out.append(input[pos + 1])
                    pos += 2
                }
            } else if Self.isBlank(c) || c == Self.newline || c == Self.semicolon || c == Self.hash {
                break
            } else {
                out.append(c)
                pos += 1
            }
        }
        return UCIWord(bytes: out, location: start)
    }

    /// `'...'`: every byte up to the next `'` is literal.
    private mutating func readSingleQuoted(into out: inout [UInt8]) throws(ConfigError) {
        let quote = location(at: pos)
        pos += 1
        while true {
            guard pos < input.count else {
                throw ConfigError("unterminated single quote", at: quote)
            }
            let c = input[pos]
            if c == Self.singleQuote {
                pos += 1
                return
            }
            out.append(c)
            if c == Self.newline { consumeNewline() } else { pos += 1 }
        }
    }

    /// `"..."`: a backslash keeps the byte after it; backslash-newline
    /// continues the line and adds nothing.
    private mutating func readDoubleQuoted(into out: inout [UInt8]) throws(ConfigError) {
        let quote = location(at: pos)
        pos += 1
        while true {
            guard pos < input.count else {
                throw ConfigError("unterminated double quote", at: quote)
            }
            let c = input[pos]
            if c == Self.doubleQuote {
                pos += 1
                return
            }
            if c == Self.backslash {
                if isContinuation(at: pos) {
                    consumeContinuation()
                } else {
                    out.append(input[pos + 1])
                    pos += 2
                }
                continue
            }
            out.append(c)
            if c == Self.newline { consumeNewline() } else { pos += 1 }
        }
    }
}
