// The validated, effective configuration and how it is loaded.

/// A configuration that passed `validate`: every section type and option is
/// known, every value has the right kind, environment references are
/// resolved. Immutable once built; a reload builds a new one (habit 8).
///
/// Two views of the same sections are kept:
/// - `document`: values with `$VAR` / `{env.VAR}` substituted — what the
///   applets use;
/// - `source`: the values as written — what `showLines` prints, so secrets
///   passed through the environment never reach `show-config` output.
/// Both have the same sections and options in the same order.
public struct Config: Sendable {
    public private(set) var document: UCIDocument
    public private(set) var source: UCIDocument
    public private(set) var schema: Schema
    /// The sections as typed values (built once, here).
    public let typed: ConfigSections

    public init(document: UCIDocument, source: UCIDocument, schema: Schema) {
        self.document = document
        self.source = source
        self.schema = schema
        typed = ConfigSections(document, schema: schema)
    }

    public var global: GlobalSection { typed.global }
    public var dnsd: DnsdSection { typed.dnsd }
    public var forwards: [ForwardSection] { typed.forwards }
    public var zones: [ZoneSection] { typed.zones }
    public var records: [RecordSection] { typed.records }
    public var tsigKeys: [TSIGKeySection] { typed.tsigKeys }
    public var api: APISection { typed.api }
    public var dhcp: [DHCPSection] { typed.dhcp }
    public var hosts: [HostSection] { typed.hosts }

    /// True when a section of `type` is on (see `ConfigSections.enabledTypes`).
    public func isEnabled(_ type: String) -> Bool { typed.enabledTypes.contains(type) }

    /// Sections of `type`, in file order.
    public func sections(ofType type: String) -> [UCISection] {
        document.sections.filter { $0.type == type }
    }

    /// The named section of `type`, or nil.
    public func section(_ type: String, named name: String) -> UCISection? {
        for section in document.sections where section.type == type && section.name == name { return section }
        return nil
    }

    /// The configuration in `uci show` form, from the values as written:
    ///
    ///     dnsbox.main=dnsd
    ///     dnsbox.main.listen='0.0.0.0:53' '[::]:53'
    ///     dnsbox.@dhcp[0]=dhcp
    ///
    /// Anonymous sections are `@TYPE[N]`, N counting sections of that type
    /// from 0. Values are single-quoted, `'` written as `'\''`. Only what
    /// the file set is printed (after merges), unless `includeDefaults`:
    /// then each section of a known type is followed by the schema defaults
    /// of the options it does not set. Sections absent from the file are
    /// not printed.
    public func showLines(package: String = "dnsbox", includeDefaults: Bool = false) -> [String] {
        var lines: [String] = []
        var seen: [String: Int] = [:]  // sections of each type so far
        for section in source.sections {
            let n = seen[section.type] ?? 0
            seen[section.type] = n + 1
            let id = section.name ?? "@\(section.type)[\(n)]"
            let prefix = package + "." + id
            lines.append(prefix + "=" + section.type)
            for option in section.options {
                var quoted: [String] = []
                for value in option.value.values { quoted.append(Config.shellQuote(value)) }
                lines.append(prefix + "." + option.name + "=" + quoted.joined(separator: " "))
            }
            guard includeDefaults, let spec = schema.section(section.type) else { continue }
            for optionSpec in spec.options where section.option(optionSpec.name) == nil && !optionSpec.defaults.isEmpty {
                lines.append(prefix + "." + optionSpec.name + "=" + optionSpec.defaults.map { Config.shellQuote($0) }.joined(separator: " "))
            }
        }
        return lines
    }

    /// `'text'` with each `'` written as `'\''`, as `uci show` does.
    static func shellQuote(_ text: String) -> String {
        var out: [UInt8] = [0x27]
        for c in text.utf8 {
            if c == 0x27 {
                out += [0x27, 0x5C, 0x27, 0x27]
            } else {
                out.append(c)
            }
        }
        out.append(0x27)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Finding, reading and validating the config file. File access and the
/// environment are injected so this stays free of I/O.
public enum ConfigLoader {
    public static let defaultPath = "/etc/config/dnsbox"
    public static let environmentVariable = "DNSBOX_CONFIG"

    /// The config path: `explicit` (from `-c`) if given and non-empty, else
    /// `$DNSBOX_CONFIG` if set and non-empty, else `/etc/config/dnsbox`.
    public static func resolvePath(explicit: String?, env: (String) -> String?) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnv = env(environmentVariable), !fromEnv.isEmpty { return fromEnv }
        return defaultPath
    }

    /// Reads `path` through `readFile` (nil = unreadable), parses and
    /// validates it. An unreadable file is an error without a location:
    /// `cannot read config file PATH`.
    public static func load(path: String, schema: Schema, readFile: (String) -> [UInt8]?,
                            env: (String) -> String?) throws(ConfigError) -> Config {
        guard let bytes = readFile(path) else { throw ConfigError("cannot read config file \(path)") }
        let document = try UCIDocument.parse(bytes, file: path)
        return try Config.validate(document, schema: schema, env: env)
    }
}
