// Validation: a parsed document checked against a schema, with environment
// references resolved. The first problem found, in file order, is thrown.

extension Config {
    /// Checks `doc` against `schema` and resolves environment references.
    ///
    /// Per section, in document order:
    /// 1. the type must be in the schema (else "unknown section type" with
    ///    the nearest known type as a hint);
    /// 2. `nameRequired` sections must be named;
    /// 3. each option must be in the section's spec (else "unknown option"
    ///    with the nearest known name);
    /// 4. a list given for a single-valued option is an error; a single
    ///    value for a list option is fine;
    /// 5. each value has `$VAR` / `{env.VAR}` replaced (see
    ///    `substituteEnvironment`), an unset variable being an error;
    /// 6. the substituted value must satisfy the option's kind.
    ///
    /// The result keeps `doc` as `source` (for `showLines`, so secrets
    /// passed through the environment are never printed) and the
    /// substituted copy as `document`.
    public static func validate(_ doc: UCIDocument, schema: Schema, env: (String) -> String?) throws(ConfigError) -> Config {
        var resolved = doc
        for s in doc.sections.indices {
            let section = doc.sections[s]
            guard let spec = schema.section(section.type) else {
                throw ConfigError("unknown section type '\(section.type)'", at: section.location,
                                  hint: Suggestion.hint(for: section.type, among: schema.sectionTypes))
            }
            let label = describeSection(doc, s)
            if spec.nameRequired && section.name == nil {
                throw ConfigError("section \(section.type) needs a name (config \(section.type) 'NAME')", at: section.location)
            }
            for o in section.options.indices {
                let option = section.options[o]
                guard let optionSpec = spec.option(option.name) else {
                    throw ConfigError("unknown option '\(option.name)' in \(label)", at: option.location,
                                      hint: Suggestion.hint(for: option.name, among: spec.optionNames))
                }
                if case .list(let items) = option.value, !optionSpec.isList {
                    // Point at the `list` line that made it a list.
                    throw ConfigError("option '\(option.name)' in \(label) takes a single value, not a list (use 'option', not 'list')",
                                      at: option.location(ofValue: max(0, items.count - 1)))
                }
                var values: [String] = []
                for (k, raw) in option.value.values.enumerated() {
                    let at = option.location(ofValue: k)
                    let value = try substituteEnvironment(raw, env: env, at: at,
                                                          context: "option '\(option.name)' in \(label)")
                    guard optionSpec.kind.accepts(value) else {
                        // A substituted value may be a secret: name only its source.
                        let shown = value == raw ? "'\(value)'" : "from '\(raw)'"
                        throw ConfigError(
                            "invalid value \(shown) for option '\(option.name)' in \(label) (expected \(optionSpec.kind.expectation))",
                            at: at)
                    }
                    values.append(value)
                }
                switch option.value {
                case .single: resolved.sections[s].options[o].value = .single(values.first ?? "")
                case .list: resolved.sections[s].options[o].value = .list(values)
                }
            }
        }
        return Config(document: resolved, source: doc, schema: schema)
    }

    /// `section dnsd 'main'` for a named section, `anonymous section
    /// @dhcp[0]` for an anonymous one (the `uci show` name).
    static func describeSection(_ doc: UCIDocument, _ index: Int) -> String {
        let section = doc.sections[index]
        if let name = section.name { return "section \(section.type) '\(name)'" }
        return "anonymous section @\(section.type)[\(doc.indexAmongType(index))]"
    }

    /// Replaces environment references in one value.
    ///
    /// - A value that is exactly `$NAME` becomes the variable's value.
    /// - Every `{env.NAME}` inside a value is replaced by the variable's value.
    ///
    /// NAME is `[A-Za-z_][A-Za-z0-9_]*`. Text that does not match either
    /// form (`$`, `a$b`, `{env.}`, `{env.a-b}`) stays literal. The
    /// replacement text is not scanned again. An unset variable is an error
    /// at `location`; a variable set to the empty string is used as is.
    public static func substituteEnvironment(_ raw: String, env: (String) -> String?, at location: SourceLocation,
                                             context: String) throws(ConfigError) -> String {
        let bytes = Array(raw.utf8)
        if bytes.count >= 2, bytes[0] == 0x24, isEnvName(bytes[1...]) {  // "$NAME"
            let name = String(decoding: bytes[1...], as: UTF8.self)
            guard let value = env(name) else { throw unsetVariable(name, location, context) }
            return value
        }
        let open: [UInt8] = Array("{env.".utf8)
        var out: [UInt8] = []
        var i = 0
        var changed = false
        while i < bytes.count {
            if bytes[i] == 0x7B, i + open.count <= bytes.count, Array(bytes[i..<(i + open.count)]) == open,
               let close = bytes[(i + open.count)...].firstIndex(of: 0x7D),
               isEnvName(bytes[(i + open.count)..<close]) {
                let name = String(decoding: bytes[(i + open.count)..<close], as: UTF8.self)
                guard let value = env(name) else { throw unsetVariable(name, location, context) }
                out += Array(value.utf8)
                i = close + 1
                changed = true
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : raw
    }

    private static func isEnvName(_ s: ArraySlice<UInt8>) -> Bool {
        guard let first = s.first, ASCII.isAlpha(first) || first == 0x5F else { return false }
        for c in s where !ASCII.isNameByte(c) { return false }
        return true
    }

    private static func unsetVariable(_ name: String, _ location: SourceLocation, _ context: String) -> ConfigError {
        ConfigError("environment variable '\(name)' is not set (used by \(context))", at: location)
    }
}
