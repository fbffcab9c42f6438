// By-name option lookups for the tests, which check validation with their
// own schemas. Product code reads the typed sections (Sections.swift).

@testable import Config

extension Config {
    func section(_ type: String, named name: String) -> UCISection? {
        document.sections.first { $0.type == type && $0.name == name }
    }

    func reader(_ type: String, _ name: String?) -> SectionReader {
        let s = name.map { section(type, named: $0) } ?? document.sections.first { $0.type == type }
        return SectionReader(s, spec: schema.section(type))
    }

    func values(_ type: String, _ name: String?, _ option: String) -> [String] { reader(type, name).list(option) }
    func string(_ type: String, _ name: String?, _ option: String) -> String? { reader(type, name).string(option) }
    func int(_ type: String, _ name: String?, _ option: String) -> Int? { reader(type, name).int(option) }
    func bool(_ type: String, _ name: String?, _ option: String) -> Bool? { reader(type, name).bool(option) }
    func milliseconds(_ type: String, _ name: String?, _ option: String) -> Int? { reader(type, name).milliseconds(option) }
}
