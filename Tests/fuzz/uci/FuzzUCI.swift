// libFuzzer target for the UCI config parser (STYLE.md habit 12).
//
// Built by scripts/fuzz.sh together with Sources/Config/*.swift as ONE module
// (so `Config` is the type, not the module, and internal API is visible).
//
// For every input:
// - UCIDocument.parse must return or throw, never trap;
// - when it parses, the document must satisfy the grammar's invariants
//   (see checkDocument), must survive a render/re-parse round trip in a
//   quoting style chosen from the input, must parse the same with a comment
//   line appended, and `uci show` output (showLines) must read back to the
//   same values;
// - validation (against the dnsbox schema and a schema with every option
//   kind) must be deterministic, and what it accepts must be consistent;
// - the value parsers behind the kinds (IPAddress, CIDR, HostPort) must
//   round-trip through their canonical text.
// A broken invariant calls fatalError, which libFuzzer reports as a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    FuzzUCI.run(bytes)
    return 0
}

enum FuzzUCI {
    static let file = "/etc/config/dnsbox"

    /// Some names set (one to the empty string, one to text that looks like
    /// a reference, which must not be expanded again), all others unset.
    static func env(_ name: String) -> String? {
        switch name {
        case "HOME": return "/root"
        case "DB": return "/var/lib/dnsbox/test.db"
        case "LEVEL": return "debug"
        case "ON": return "1"
        case "EMPTY": return ""
        case "LISTEN": return "[::1]:53"
        case "NET": return "192.0.2.0/24"
        case "LOOP": return "{env.LOOP}"
        default: return nil
        }
    }

    /// Every option kind, single and list, and a section that needs a name,
    /// so validation's list path and the value parsers are reached too
    /// (the dnsbox schema has no list options yet).
    static let kindsSchema = Schema(sections: [
        SectionSpec(type: "kinds", summary: "every kind", options: [
            OptionSpec(name: "s", kind: .string, defaultValue: "x", summary: ""),
            OptionSpec(name: "p", kind: .path, summary: ""),
            OptionSpec(name: "i", kind: .int(min: -5, max: 1000), defaultValue: "7", summary: ""),
            OptionSpec(name: "b", kind: .bool, summary: ""),
            OptionSpec(name: "d", kind: .duration, defaultValue: "1h30m", summary: ""),
            OptionSpec(name: "addr", kind: .address, summary: ""),
            OptionSpec(name: "cidr", kind: .cidr, summary: ""),
            OptionSpec(name: "hp", kind: .hostPort(defaultPort: nil), summary: ""),
            OptionSpec(name: "hpd", kind: .hostPort(defaultPort: 53), summary: ""),
            OptionSpec(name: "one", kind: .oneOf(["a", "b"]), summary: ""),
            OptionSpec(name: "slist", kind: .string, isList: true, summary: ""),
            OptionSpec(name: "alist", kind: .address, isList: true, summary: ""),
            OptionSpec(name: "hplist", kind: .hostPort(defaultPort: 53), isList: true, summary: ""),
        ]),
        SectionSpec(type: "named", summary: "needs a name", options: [
            OptionSpec(name: "enabled", kind: .bool, defaultValue: "1", summary: ""),
        ], nameRequired: true),
    ])

    static func run(_ bytes: [UInt8]) {
        // The value parsers see the raw input too (bounded: they are linear).
        if bytes.count <= 256 { checkValue(String(decoding: bytes, as: UTF8.self)) }

        let doc: UCIDocument
        do throws(ConfigError) {
            doc = try UCIDocument.parse(bytes, file: file)
        } catch {
            // A parse error from the file always has a location in it.
            guard let at = error.location, at.file == file, at.line >= 1, at.column >= 1 else {
                fail("parse error without a valid location: \(error)", bytes)
            }
            return
        }

        checkDocument(doc, bytes)
        checkTrailingComment(doc, bytes)
        checkRoundTrip(doc, bytes)
        checkShow(Config(document: doc, source: doc, schema: .dnsbox), bytes)
        checkShow(Config(document: doc, source: doc, schema: kindsSchema), bytes)
        for section in doc.sections {
            for option in section.options {
                for value in option.value.values where value.utf8.count <= 256 { checkValue(value) }
            }
        }

        checkValidation(doc, schema: .dnsbox, bytes)
        checkValidation(doc, schema: kindsSchema, bytes)
    }

    // MARK: - Invariants of a parsed document

    /// The grammar's guarantees: names are `[A-Za-z0-9_]+`, named sections
    /// are unique per type, option names are unique per section, a single
    /// value is never empty (`option KEY ''` deletes), every value has its
    /// location, and every location points at the first byte of its word.
    static func checkDocument(_ doc: UCIDocument, _ bytes: [UInt8]) {
        var lineStarts = [0]
        for (i, c) in bytes.enumerated() where c == 0x0A { lineStarts.append(i + 1) }
        func checkLocation(_ at: SourceLocation, _ what: String) {
            guard at.file == file, at.line >= 1, at.line <= lineStarts.count, at.column >= 1 else {
                fail("\(what): location \(at) out of range", bytes)
            }
            let offset = lineStarts[at.line - 1] + at.column - 1
            let lineEnd = at.line < lineStarts.count ? lineStarts[at.line] - 1 : bytes.count
            guard offset < lineEnd else { fail("\(what): location \(at) past the end of its line", bytes) }
            let c = bytes[offset]
            // A TYPE or NAME word starts with a name byte, a quote or an escape.
            guard ASCII.isNameByte(c) || c == 0x27 || c == 0x22 || c == 0x5C else {
                fail("\(what): location \(at) points at byte \(c), not at a word", bytes)
            }
        }

        var namedSeen: [String] = []
        for section in doc.sections {
            guard ASCII.isValidName(section.type) else { fail("invalid section type '\(section.type)'", bytes) }
            if let name = section.name {
                guard ASCII.isValidName(name) else { fail("invalid section name '\(name)'", bytes) }
                let key = section.type + "." + name
                guard !namedSeen.contains(key) else { fail("section \(key) appears twice", bytes) }
                namedSeen.append(key)
            }
            checkLocation(section.location, "section \(section.type)")
            var optionSeen: [String] = []
            for option in section.options {
                guard ASCII.isValidName(option.name) else { fail("invalid option name '\(option.name)'", bytes) }
                guard !optionSeen.contains(option.name) else { fail("option \(option.name) appears twice", bytes) }
                optionSeen.append(option.name)
                if case .single(let v) = option.value, v.isEmpty {
                    fail("option \(option.name) kept with an empty single value", bytes)
                }
                if case .list(let l) = option.value, l.isEmpty {
                    fail("option \(option.name) is an empty list", bytes)
                }
                guard option.valueLocations.count == option.value.values.count else {
                    fail("option \(option.name): \(option.valueLocations.count) locations for \(option.value.values.count) values", bytes)
                }
                guard option.valueLocations.first == option.location else {
                    fail("option \(option.name): location is not that of its first value", bytes)
                }
                checkLocation(option.location, "option \(option.name)")
                for at in option.valueLocations { checkLocation(at, "value of \(option.name)") }
            }
        }
    }

    /// A comment line after the last command changes nothing. (Input that
    /// ends in CR is skipped: an unescaped `\` CR at the end of the file is
    /// an escape of CR, but `\` CR LF is a continuation.)
    static func checkTrailingComment(_ doc: UCIDocument, _ bytes: [UInt8]) {
        guard bytes.last != 0x0D else { return }
        let extended = bytes + Array("\n# trailing comment; 'not' \"a\" word \\\n".utf8)
        let again: UCIDocument
        do throws(ConfigError) {
            again = try UCIDocument.parse(extended, file: file)
        } catch {
            fail("adding a trailing comment line made the file fail: \(error)", bytes)
        }
        guard again == doc else { fail("adding a trailing comment line changed the document", bytes) }
    }

    // MARK: - Render and re-parse

    enum Quoting: CaseIterable { case single, double, bare }

    /// The document as UCI text, in one quoting style (per command, so the
    /// styles mix), with commands separated by newlines or `;`.
    static func render(_ doc: UCIDocument, seed: UInt64) -> [UInt8] {
        var rng = seed | 1
        func next() -> UInt64 {  // xorshift: deterministic per input
            rng ^= rng << 13
            rng ^= rng >> 7
            rng ^= rng << 17
            return rng
        }
        func word(_ text: String) -> [UInt8] {
            let style = Quoting.allCases[Int(next() % 3)]
            return quote(text, style)
        }
        func separator() -> [UInt8] {
            switch next() % 5 {
            case 0: return Array(" ; ".utf8)
            case 1: return Array("\t# comment ' \"\n".utf8)
            case 2: return Array("\r\n\n".utf8)
            default: return [0x0A]
            }
        }
        var out: [UInt8] = []
        if next() % 2 == 0 { out += Array("package dnsbox\n".utf8) }
        for section in doc.sections {
            out += Array((next() % 4 == 0 ? "c " : "config ").utf8) + word(section.type)
            if let name = section.name { out += [0x20] + word(name) }
            out += separator()
            for option in section.options {
                switch option.value {
                case .single(let v):
                    out += Array((next() % 4 == 0 ? "\to " : "\toption ").utf8) + word(option.name) + [0x20] + word(v)
                    out += separator()
                case .list(let l):
                    for v in l {
                        out += Array((next() % 4 == 0 ? "  l " : "  list ").utf8) + word(option.name) + [0x20] + word(v)
                        out += separator()
                    }
                }
            }
        }
        return out
    }

    /// `text` as one UCI word that reads back to exactly `text`.
    static func quote(_ text: String, _ style: Quoting) -> [UInt8] {
        let b = Array(text.utf8)
        switch style {
        case .single:
            var out: [UInt8] = [0x27]
            for c in b {
                if c == 0x27 { out += [0x27, 0x5C, 0x27, 0x27] } else { out.append(c) }  // '\''
            }
            return out + [0x27]
        case .double:
            var out: [UInt8] = [0x22]
            for c in b {
                if c == 0x22 || c == 0x5C { out.append(0x5C) }
                out.append(c)
            }
            return out + [0x22]
        case .bare:
            // Backslash-LF and backslash-CR-LF are continuations, so text with
            // CR or LF (and empty text) goes in single quotes instead.
            if b.isEmpty || b.contains(0x0A) || b.contains(0x0D) { return quote(text, .single) }
            var out: [UInt8] = []
            for c in b {
                if c == 0x20 || c == 0x09 || c == 0x0B || c == 0x0C || c == 0x3B || c == 0x23
                    || c == 0x27 || c == 0x22 || c == 0x5C {
                    out.append(0x5C)
                }
                out.append(c)
            }
            return out
        }
    }

    /// The document without locations, to compare two parses of different
    /// text.
    static func shape(_ doc: UCIDocument) -> UCIDocument {
        let nowhere = SourceLocation(file: "", line: 0, column: 0)
        var d = doc
        for s in d.sections.indices {
            d.sections[s].location = nowhere
            for o in d.sections[s].options.indices {
                d.sections[s].options[o].location = nowhere
                d.sections[s].options[o].valueLocations = []
            }
        }
        return d
    }

    static func checkRoundTrip(_ doc: UCIDocument, _ bytes: [UInt8]) {
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the input
        for c in bytes { seed = (seed ^ UInt64(c)) &* 0x100_0000_01b3 }
        let text = render(doc, seed: seed)
        let again: UCIDocument
        do throws(ConfigError) {
            again = try UCIDocument.parse(text, file: file)
        } catch {
            fail("re-rendered document does not parse: \(error)\n--- rendered:\n\(String(decoding: text, as: UTF8.self))", bytes)
        }
        guard shape(again) == shape(doc) else {
            fail("re-rendered document parses differently\n--- rendered:\n\(String(decoding: text, as: UTF8.self))", bytes)
        }
    }

    // MARK: - `uci show` output

    /// Splits the value part of a show line (`'a' 'b'\''c'`) back into
    /// values, or nil when it is not in that form.
    static func unquoteShow(_ text: Substring) -> [String]? {
        let b = Array(text.utf8)
        var values: [String] = []
        var i = 0
        while i < b.count {
            if !values.isEmpty {
                guard b[i] == 0x20 else { return nil }
                i += 1
            }
            guard i < b.count, b[i] == 0x27 else { return nil }
            var current: [UInt8] = []
            i += 1
            while true {
                while i < b.count, b[i] != 0x27 {
                    current.append(b[i])
                    i += 1
                }
                guard i < b.count else { return nil }  // unterminated
                i += 1  // closing quote
                // '\'' : closing quote, escaped quote, opening quote
                if i + 2 < b.count, b[i] == 0x5C, b[i + 1] == 0x27, b[i + 2] == 0x27 {
                    current.append(0x27)
                    i += 3
                } else {
                    break
                }
            }
            values.append(String(decoding: current, as: UTF8.self))
        }
        return values.isEmpty ? nil : values
    }

    static func checkShow(_ config: Config, _ bytes: [UInt8]) {
        let plain = config.showLines()
        let full = config.showLines(package: "dnsbox", includeDefaults: true)
        var p = 0  // next line of `plain`
        var f = 0  // next line of `full`
        var seen: [String: Int] = [:]
        func expect(_ line: String, _ what: String) {
            guard p < plain.count, f < full.count, plain[p] == line, full[f] == line else {
                fail("show: expected \(what) line \(line)", bytes)
            }
            p += 1
            f += 1
        }
        for section in config.source.sections {
            let n = seen[section.type] ?? 0
            seen[section.type] = n + 1
            let prefix = "dnsbox." + (section.name ?? "@\(section.type)[\(n)]")
            expect(prefix + "=" + section.type, "section")
            for option in section.options {
                let head = prefix + "." + option.name + "="
                guard p < plain.count, plain[p].hasPrefix(head), f < full.count, full[f] == plain[p] else {
                    fail("show: no line for option \(head)", bytes)
                }
                let values = unquoteShow(plain[p].dropFirst(head.count))
                guard values == option.value.values else {
                    fail("show: \(plain[p]) does not read back as \(option.value.values)", bytes)
                }
                p += 1
                f += 1
            }
            guard let spec = config.schema.section(section.type) else { continue }
            for optionSpec in spec.options where section.option(optionSpec.name) == nil {
                let fallback = optionSpec.defaults
                if fallback.isEmpty { continue }
                let head = prefix + "." + optionSpec.name + "="
                guard f < full.count, full[f].hasPrefix(head),
                      unquoteShow(full[f].dropFirst(head.count)) == fallback else {
                    fail("show -d: no default line \(head)\(fallback)", bytes)
                }
                f += 1
            }
        }
        guard p == plain.count, f == full.count else { fail("show: extra lines", bytes) }
    }

    // MARK: - Validation

    static func checkValidation(_ doc: UCIDocument, schema: Schema, _ bytes: [UInt8]) {
        let first = validate(doc, schema)
        let second = validate(doc, schema)
        switch (first, second) {
        case (.failure(let a), .failure(let b)):
            guard a == b else { fail("validation is not deterministic: \(a) vs \(b)", bytes) }
            guard a.location != nil else { fail("validation error without a location: \(a)", bytes) }
        case (.success(let a), .success(let b)):
            guard a.document == b.document, a.source == b.source else {
                fail("validation is not deterministic", bytes)
            }
            checkValid(a, doc, schema, bytes)
        default:
            fail("validation is not deterministic (one run passed, one failed)", bytes)
        }
    }

    static func validate(_ doc: UCIDocument, _ schema: Schema) -> Result<Config, ConfigError> {
        do throws(ConfigError) {
            return .success(try Config.validate(doc, schema: schema, env: env))
        } catch {
            return .failure(error)
        }
    }

    /// What an accepted config promises: the source is the document as
    /// parsed, the resolved document has the same shape, every section and
    /// option is known, every resolved value satisfies its kind, and text
    /// without references is left alone.
    static func checkValid(_ config: Config, _ doc: UCIDocument, _ schema: Schema, _ bytes: [UInt8]) {
        guard config.source == doc else { fail("validate changed the source document", bytes) }
        let resolved = config.document
        guard resolved.sections.count == doc.sections.count else { fail("validate changed the section count", bytes) }
        for s in doc.sections.indices {
            let a = doc.sections[s]
            let r = resolved.sections[s]
            guard a.type == r.type, a.name == r.name, a.location == r.location,
                  a.options.count == r.options.count,
                  let spec = schema.section(a.type) else {
                fail("validate changed section \(s) or accepted an unknown type", bytes)
            }
            if spec.nameRequired && a.name == nil { fail("validate accepted an anonymous \(a.type)", bytes) }
            for o in a.options.indices {
                let ao = a.options[o]
                let ro = r.options[o]
                guard ao.name == ro.name, ao.location == ro.location, ao.valueLocations == ro.valueLocations,
                      ao.value.values.count == ro.value.values.count,
                      let optionSpec = spec.option(ao.name) else {
                    fail("validate changed option \(ao.name) or accepted an unknown one", bytes)
                }
                switch (ao.value, ro.value) {
                case (.single, .single): break
                case (.list, .list): guard optionSpec.isList else { fail("validate accepted a list for \(ao.name)", bytes) }
                default: fail("validate changed single/list of \(ao.name)", bytes)
                }
                for (raw, value) in zip(ao.value.values, ro.value.values) {
                    guard optionSpec.kind.accepts(value) else {
                        fail("validate accepted '\(value)' for \(ao.name), which its kind refuses", bytes)
                    }
                    if !raw.utf8.contains(0x24), !raw.utf8.contains(0x7B), raw != value {
                        fail("'\(raw)' has no reference but became '\(value)'", bytes)
                    }
                }
            }
        }
        // The applet accessors read what validation accepted.
        for section in resolved.sections {
            let r = SectionReader(section, spec: config.schema.section(section.type))
            for option in section.options {
                _ = r.string(option.name)
                _ = r.int(option.name)
                _ = r.bool(option.name)
                _ = r.milliseconds(option.name)
            }
        }
        // The typed sections of the real schema are built from anything valid.
        _ = ConfigSections(resolved, schema: .dnsbox)
        checkShow(config, bytes)
    }

    // MARK: - Value parsers

    /// Canonical text reads back to the same value and is a fixed point.
    static func checkValue(_ text: String) {
        let bytes = Array(text.utf8)
        if let a = IPAddress(text) {
            guard IPAddress(a.description) == a, IPAddress(a.description)?.description == a.description else {
                fail("IPAddress '\(text)' → '\(a.description)' does not read back", bytes)
            }
        }
        if let c = CIDR(text) {
            guard CIDR(c.description) == c else { fail("CIDR '\(text)' → '\(c.description)' does not read back", bytes) }
            let n = c.network
            guard n.contains(c.address), c.contains(n.address), n.network == n else {
                fail("CIDR '\(text)': network \(n) inconsistent", bytes)
            }
        }
        for defaultPort in [nil, 53] as [Int?] {
            if let h = HostPort(text, defaultPort: defaultPort) {
                guard (1...65535).contains(h.port), HostPort(h.description, defaultPort: nil) == h else {
                    fail("HostPort '\(text)' → '\(h.description)' does not read back", bytes)
                }
            }
        }
        if let ms = Duration.parseMilliseconds(text), ms < 0 { fail("negative duration for '\(text)'", bytes) }
        if let n = parseInt(text), parseInt("\(n)") != n { fail("parseInt '\(text)' → \(n) does not read back", bytes) }
    }

    static func fail(_ message: String, _ bytes: [UInt8]) -> Never {
        var hex = ""
        for c in bytes.prefix(512) { hex += (c < 16 ? "0" : "") + ASCII.hex(Int(c)) }
        fatalError("FuzzUCI invariant broken: \(message)\n--- input (\(bytes.count) bytes, hex): \(hex)")
    }
}
