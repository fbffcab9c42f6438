@testable import Config
import Testing

@Suite struct SchemaTableTests {
    /// Every line of the table is read: a line that does not parse would
    /// silently drop an option.
    @Test func everyTableLineBecomesASectionOrAnOption() {
        let lines = Schema.dnsboxTable.split(separator: "\n")
        let sections = lines.filter { $0.hasPrefix("[") }.count
        #expect(Schema.dnsbox.sections.count == sections)
        #expect(Schema.dnsbox.sections.reduce(0) { $0 + $1.options.count } == lines.count - sections)
    }

    @Test func kindsDefaultsAndListsAreRead() throws {
        let dnsd = try #require(Schema.dnsbox.section("dnsd"))
        #expect(dnsd.option("workers")?.kind == .int(min: 0, max: 64))
        #expect(dnsd.option("workers")?.defaultValue == "0")
        #expect(dnsd.option("listen")?.kind == .hostPort(defaultPort: 53))
        #expect(dnsd.option("listen")?.isList == true)
        #expect(dnsd.option("listen")?.defaults == ["0.0.0.0:53", "[::]:53"])
        #expect(dnsd.option("nsid")?.defaultValue == nil)
        let g = try #require(Schema.dnsbox.section("dnsbox"))
        #expect(g.option("log_level")?.kind == .oneOf(["debug", "info", "warn", "error"]))
        #expect(g.summary == "global settings")
        #expect(Schema.dnsbox.section("rad")?.option("enabled")?.defaultValue == "1")
        // Every default satisfies its kind.
        for s in Schema.dnsbox.sections {
            for o in s.options {
                for d in o.defaults { #expect(o.kind.accepts(d), "\(s.type).\(o.name) default '\(d)'") }
            }
        }
    }
}
