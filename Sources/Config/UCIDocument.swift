// The UCI document model and the rules that turn commands into it.
//
// Grammar (OpenWrt libuci, strict mode, which is what the `uci` CLI uses):
//
//   package NAME                 accepted and ignored
//   config TYPE ['NAME']         opens a section; no/empty NAME = anonymous
//   option KEY ['VALUE']         sets a single value
//   list KEY ['VALUE']           appends to a list
//
// The keywords may be abbreviated to their first letter (`c`, `o`, `l`, `p`),
// as libuci allows. TYPE, NAME and KEY are `[A-Za-z0-9_]+`.
//
// Merge rules (libuci uci_set / uci_add_list):
// - A named section declared again with the same type is the same section:
//   later options are added to it or overwrite it. Unlike libuci, names are
//   scoped by type: `config dnsbox 'main'` and `config dnsd 'main'` are two
//   sections (every dnsbox applet has its own 'main').
// - `option` on an existing option replaces its value in place (the option
//   keeps its position); this also turns a list back into a single value.
// - `option KEY ''` (empty value) deletes the option, as `uci set` does.
// - `list` on a single option turns it into a list whose first element is
//   the old value; `list` on a list appends.
// - More words than the command takes is an error ("too many arguments").

/// The value of an option: one string, or a list.
public enum UCIValue: Equatable, Sendable {
    case single(String)
    case list([String])

    /// The value as a list: `[s]` for a single value.
    public var values: [String] {
        switch self {
        case .single(let s): return [s]
        case .list(let l): return l
        }
    }
}

public struct UCIOption: Equatable, Sendable {
    public var name: String
    public var value: UCIValue
    /// The NAME token of the command that set the value (for a list, of the
    /// command that started it).
    public var location: SourceLocation
    /// Where each element of `value.values` came from (the NAME token of its
    /// `option`/`list` command), in the same order. May be empty for options
    /// built by hand; `location` is used then.
    public var valueLocations: [SourceLocation]

    public init(name: String, value: UCIValue, location: SourceLocation, valueLocations: [SourceLocation] = []) {
        self.name = name
        self.value = value
        self.location = location
        self.valueLocations = valueLocations
    }

    /// Where element `index` of the value came from.
    public func location(ofValue index: Int) -> SourceLocation {
        index >= 0 && index < valueLocations.count ? valueLocations[index] : location
    }
}

public struct UCISection: Equatable, Sendable {
    public var type: String
    /// nil for an anonymous section.
    public var name: String?
    /// The TYPE token of the (first) `config` line.
    public var location: SourceLocation
    /// In declaration order; names are unique within a section.
    public var options: [UCIOption]

    public init(type: String, name: String?, location: SourceLocation, options: [UCIOption] = []) {
        self.type = type
        self.name = name
        self.location = location
        self.options = options
    }

    public func option(_ name: String) -> UCIValue? {
        for option in options where option.name == name { return option.value }
        return nil
    }

    func optionIndex(_ name: String) -> Int? {
        for i in options.indices where options[i].name == name { return i }
        return nil
    }
}

public struct UCIDocument: Equatable, Sendable {
    /// In declaration order (a merged section stays where it was first declared).
    public var sections: [UCISection]

    public init(sections: [UCISection] = []) {
        self.sections = sections
    }

    /// Parses a whole UCI file. `file` is only used in locations.
    public static func parse(_ bytes: [UInt8], file: String) throws(ConfigError) -> UCIDocument {
        var lexer = UCILexer(bytes, file: file)
        var builder = Builder()
        while let words = try lexer.nextCommand() {
            try builder.apply(words)
        }
        return UCIDocument(sections: builder.sections)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> UCIDocument {
        try parse(Array(text.utf8), file: file)
    }

    /// The `index`-th section (0-based) among sections of `type`, which is
    /// how `uci show` names anonymous sections (`@type[index]`).
    func indexAmongType(_ sectionIndex: Int) -> Int {
        let type = sections[sectionIndex].type
        var n = 0
        for i in 0..<sectionIndex where sections[i].type == type { n += 1 }
        return n
    }
}

// MARK: - Applying commands

extension UCIDocument {
    /// Applies commands one at a time, keeping the section being filled.
    struct Builder {
        var sections: [UCISection] = []
        private var named: [String: Int] = [:]
        private var current: Int? = nil

        private static let keywordConfig: [UInt8] = Array("config".utf8)
        private static let keywordOption: [UInt8] = Array("option".utf8)
        private static let keywordList: [UInt8] = Array("list".utf8)
        private static let keywordPackage: [UInt8] = Array("package".utf8)

        /// True for the full keyword or its first letter alone.
        private static func matches(_ word: [UInt8], _ keyword: [UInt8]) -> Bool {
            word == keyword || (word.count == 1 && word.first == keyword.first)
        }

        mutating func apply(_ words: [UCIWord]) throws(ConfigError) {
            guard let keyword = words.first else { return }
            if Self.matches(keyword.bytes, Self.keywordConfig) {
                try applyConfig(words)
            } else if Self.matches(keyword.bytes, Self.keywordOption) {
                try applyOption(words, isList: false)
            } else if Self.matches(keyword.bytes, Self.keywordList) {
                try applyOption(words, isList: true)
            } else if Self.matches(keyword.bytes, Self.keywordPackage) {
                guard words.count >= 2, !words[1].bytes.isEmpty else {
                    throw ConfigError("package without a name", at: keyword.location)
                }
                if words.count > 2 { throw ConfigError("too many arguments", at: words[2].location) }
                guard ASCII.isValidName(words[1].text) else {
                    throw ConfigError("invalid package name '\(words[1].text)' (use letters, digits and _)", at: words[1].location)
                }
            } else {
                throw ConfigError("invalid command '\(keyword.text)' (expected config, option, list or package)", at: keyword.location)
            }
        }

        private mutating func applyConfig(_ words: [UCIWord]) throws(ConfigError) {
            guard words.count >= 2, !words[1].bytes.isEmpty else {
                throw ConfigError("config without a section type", at: words[0].location)
            }
            let typeWord = words[1]
            let type = typeWord.text
            guard ASCII.isValidName(type) else {
                throw ConfigError("invalid section type '\(type)' (use letters, digits and _)", at: typeWord.location)
            }
            if words.count > 3 { throw ConfigError("too many arguments", at: words[3].location) }
            var name: String? = nil
            if words.count == 3, !words[2].bytes.isEmpty {
                let text = words[2].text
                guard ASCII.isValidName(text) else {
                    throw ConfigError("invalid section name '\(text)' (use letters, digits and _)", at: words[2].location)
                }
                name = text
            }
            // dnsbox scopes section names by type (libuci scopes them per
            // file), so `config dnsbox 'main'` and `config dnsd 'main'` are two
            // sections; a repeated TYPE+name merges into the first.
            if let name, let index = named[type + "." + name] {
                current = index
                return
            }
            sections.append(UCISection(type: type, name: name, location: typeWord.location))
            current = sections.count - 1
            if let name { named[type + "." + name] = sections.count - 1 }
        }

        private mutating func applyOption(_ words: [UCIWord], isList: Bool) throws(ConfigError) {
            let command = isList ? "list" : "option"
            guard words.count >= 2, !words[1].bytes.isEmpty else {
                throw ConfigError("\(command) without a name", at: words[0].location)
            }
            let nameWord = words[1]
            let name = nameWord.text
            guard ASCII.isValidName(name) else {
                throw ConfigError("invalid option name '\(name)' (use letters, digits and _)", at: nameWord.location)
            }
            guard let sectionIndex = current else {
                throw ConfigError("\(command) '\(name)' outside of a section (no config line before it)", at: nameWord.location)
            }
            if words.count > 3 { throw ConfigError("too many arguments", at: words[3].location) }
            let value = words.count == 3 ? words[2].text : ""
            let location = nameWord.location
            var section = sections[sectionIndex]
            let existing = section.optionIndex(name)

            if isList {
                if let i = existing {
                    var option = section.options[i]
                    var valueLocations = option.valueLocations
                    if valueLocations.count != option.value.values.count {
                        valueLocations = [SourceLocation](repeating: option.location, count: option.value.values.count)
                    }
                    option.value = .list(option.value.values + [value])
                    option.valueLocations = valueLocations + [location]
                    section.options[i] = option
                } else {
                    section.options.append(UCIOption(name: name, value: .list([value]), location: location, valueLocations: [location]))
                }
            } else if value.isEmpty {
                if let i = existing { section.options.remove(at: i) }
            } else {
                let option = UCIOption(name: name, value: .single(value), location: location, valueLocations: [location])
                if let i = existing {
                    section.options[i] = option
                } else {
                    section.options.append(option)
                }
            }
            sections[sectionIndex] = section
        }
    }
}
