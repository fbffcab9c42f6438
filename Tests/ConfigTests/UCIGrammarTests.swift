import Testing
@testable import Config
import struct Config.SourceLocation

// Grammar vectors: each rule of libuci's file.c that UCIDocument follows.

let testFile = "/etc/config/dnsbox"

func parse(_ text: String) throws(ConfigError) -> UCIDocument {
    try UCIDocument.parse(text, file: testFile)
}

func loc(_ line: Int, _ column: Int) -> SourceLocation {
    SourceLocation(file: testFile, line: line, column: column)
}

/// The value of `option` in the first section of the parsed text.
func value(_ text: String, _ option: String = "a") throws(ConfigError) -> UCIValue? {
    try parse(text).sections.first?.option(option)
}

@Suite struct UCIGrammarTests {
    @Test func basicSectionOptionList() throws {
        let doc = try parse("""
            config dnsd 'main'
            \toption port '53'
            \tlist listen '0.0.0.0'
            \tlist listen '::'
            """)
        #expect(doc.sections.count == 1)
        let s = doc.sections[0]
        #expect(s.type == "dnsd")
        #expect(s.name == "main")
        #expect(s.option("port") == .single("53"))
        #expect(s.option("listen") == .list(["0.0.0.0", "::"]))
        #expect(s.option("missing") == nil)
        #expect(s.options.map { $0.name } == ["port", "listen"])
    }

    @Test func unquotedAndDoubleQuotedValues() throws {
        #expect(try value("config x\noption a b") == .single("b"))
        #expect(try value("config x\noption a \"b c\"") == .single("b c"))
        let doc = try parse("config \"x\" \"n\"")
        #expect(doc.sections[0].type == "x")
        #expect(doc.sections[0].name == "n")
    }

    @Test func keywordAbbreviations() throws {
        let doc = try parse("c x 'n'\no a 1\nl b 2\np dnsbox")
        #expect(doc.sections[0].name == "n")
        #expect(doc.sections[0].option("a") == .single("1"))
        #expect(doc.sections[0].option("b") == .list(["2"]))
    }

    @Test func packageIsIgnored() throws {
        let doc = try parse("package dnsbox\n\nconfig x 'n'\n\toption a 1\n")
        #expect(doc.sections.count == 1)
        #expect(doc.sections[0].option("a") == .single("1"))
    }

    @Test func comments() throws {
        #expect(try value("# header\nconfig x\n  # indented comment\noption a b # trailing") == .single("b"))
        #expect(try value("config x\noption a b#c") == .single("b"))
        #expect(try value("config x\noption a 'b#c' # d") == .single("b#c"))
        #expect(try value("config x\noption a \"b # c\"") == .single("b # c"))
        #expect(try value("config x # comment after the type\noption a 1") == .single("1"))
        #expect(try parse("# only a comment").sections.isEmpty)
        #expect(try parse("").sections.isEmpty)
        #expect(try parse("\n\n   \n\t\n").sections.isEmpty)
    }

    @Test func singleQuotesAreLiteral() throws {
        #expect(try value(#"config x\#noption a 'b\nc'"#) == .single(#"b\nc"#))
        #expect(try value("config x\noption a 'say \"hi\"'") == .single("say \"hi\""))
        #expect(try value("config x\noption a 'x;y'") == .single("x;y"))
        #expect(try value("config x\noption a ''\noption b 1", "b") == .single("1"))
    }

    @Test func singleQuotesSpanLines() throws {
        let doc = try parse("config x\noption a 'line one\nline two'\noption b 2\n")
        #expect(doc.sections[0].option("a") == .single("line one\nline two"))
        // Line counting continues correctly after the multi-line value.
        #expect(doc.sections[0].options[1].location == loc(4, 8))
    }

    @Test func doubleQuotesSpanLines() throws {
        #expect(try value("config x\noption a \"one\ntwo\"") == .single("one\ntwo"))
    }

    @Test func doubleQuoteEscapesKeepTheEscapedByte() throws {
        #expect(try value(#"config x\#noption a "a\"b""#) == .single(#"a"b"#))
        #expect(try value(#"config x\#noption a "a\\b""#) == .single(#"a\b"#))
        // libuci does not decode escapes: \n is just n.
        #expect(try value(#"config x\#noption a "a\nb""#) == .single("anb"))
        #expect(try value(#"config x\#noption a "it\'s""#) == .single("it's"))
    }

    @Test func backslashOutsideQuotes() throws {
        #expect(try value(#"config x\#noption a b\ c"#) == .single("b c"))
        #expect(try value("config x\noption a \\#x") == .single("#x"))
        #expect(try value("config x\noption a \\;x") == .single(";x"))
    }

    @Test func lineContinuation() throws {
        // Inside double quotes: backslash-newline vanishes.
        #expect(try value("config x\noption a \"ab\\\ncd\"") == .single("abcd"))
        // Outside quotes, inside a word: the word goes on.
        #expect(try value("config x\noption a ab\\\ncd") == .single("abcd"))
        // Between words: the command goes on.
        let doc = try parse("config x\noption a \\\n    'v'\noption b 2")
        #expect(doc.sections[0].option("a") == .single("v"))
        #expect(doc.sections[0].options[1].location == loc(4, 8))
        // CR-LF continuation.
        #expect(try value("config x\r\noption a ab\\\r\ncd\r\n") == .single("abcd"))
        // Inside single quotes a backslash is literal, newline kept.
        #expect(try value("config x\noption a 'ab\\\ncd'") == .single("ab\\\ncd"))
    }

    @Test func adjacentPiecesJoin() throws {
        #expect(try value(#"config x\#noption a 'a'"b"c"#) == .single("abc"))
        #expect(try value(#"config x\#noption a pre'mid dle'"post""#) == .single("premid dlepost"))
        #expect(try value(#"config x\#noption a ''"""#) == nil)  // empty: deletes
    }

    @Test func semicolonSeparatesCommands() throws {
        let doc = try parse("config x 'n'; option a 1; list b 2;list b 3\nconfig y;option c 'x;y'")
        #expect(doc.sections.count == 2)
        #expect(doc.sections[0].option("a") == .single("1"))
        #expect(doc.sections[0].option("b") == .list(["2", "3"]))
        #expect(doc.sections[1].option("c") == .single("x;y"))
        #expect(doc.sections[1].options[0].location == loc(2, 17))
    }

    @Test func anonymousSections() throws {
        let doc = try parse("config dhcp\n\toption a 1\nconfig dhcp ''\n\toption a 2\nconfig dhcp\n")
        #expect(doc.sections.count == 3)
        #expect(doc.sections.allSatisfy { $0.name == nil })
        #expect(doc.sections[1].option("a") == .single("2"))
        #expect(doc.indexAmongType(2) == 2)
    }

    @Test func repeatedNamedSectionMerges() throws {
        let doc = try parse("""
            config dnsd 'main'
            \toption a 1
            \toption b 2
            config api 'web'
            \toption x 1
            config dnsd 'main'
            \toption a 10
            \toption c 3
            """)
        #expect(doc.sections.count == 2)
        let main = doc.sections[0]
        #expect(main.location == loc(1, 8))
        #expect(main.options.map { $0.name } == ["a", "b", "c"])
        #expect(main.option("a") == .single("10"))
        #expect(main.options[0].location == loc(7, 9))
        #expect(main.option("c") == .single("3"))
    }

    @Test func repeatedOptionLastWins() throws {
        #expect(try value("config x\noption a 1\noption a 2\noption a 3") == .single("3"))
    }

    @Test func listAfterOptionKeepsTheOptionAsFirstElement() throws {
        let doc = try parse("config x\noption a 1\nlist a 2\nlist a 3")
        let option = doc.sections[0].options[0]
        #expect(option.value == .list(["1", "2", "3"]))
        #expect(option.location == loc(2, 8))
        #expect(option.valueLocations == [loc(2, 8), loc(3, 6), loc(4, 6)])
    }

    @Test func optionAfterListReplacesIt() throws {
        let doc = try parse("config x\nlist a 1\nlist a 2\noption b z\noption a 3")
        #expect(doc.sections[0].option("a") == .single("3"))
        #expect(doc.sections[0].options.map { $0.name } == ["a", "b"])  // replaced in place
    }

    @Test func emptyOptionDeletesAndEmptyListElementIsKept() throws {
        let doc = try parse("config x\noption a 1\noption b 2\noption a ''\noption c\nlist d ''\nlist d")
        #expect(doc.sections[0].option("a") == nil)
        #expect(doc.sections[0].option("c") == nil)
        #expect(doc.sections[0].option("d") == .list(["", ""]))
        #expect(doc.sections[0].options.map { $0.name } == ["b", "d"])
    }

    @Test func locationsUseBytesAndCountTabsAsOne() throws {
        let doc = try parse("config dnsd 'main'\n\n\n\toption listne 'x'\n  list  b   c\n")
        #expect(doc.sections[0].location == loc(1, 8))
        #expect(doc.sections[0].options[0].location == loc(4, 9))
        #expect(doc.sections[0].options[1].location == loc(5, 9))
        // Multi-byte UTF-8 before a token counts once per byte.
        let utf = try parse("config x 'n'; option a 'é' ; option b 1")
        #expect(utf.sections[0].options[1].location == loc(1, 38))
    }

    @Test func crlfFiles() throws {
        let doc = try parse("config x 'n'\r\n\toption a 'v'\r\n\toption b w\r\n")
        #expect(doc.sections[0].name == "n")
        #expect(doc.sections[0].option("a") == .single("v"))
        #expect(doc.sections[0].option("b") == .single("w"))
    }

    @Test func nonASCIIValuesSurvive() throws {
        #expect(try value("config x\noption a 'café ☕'") == .single("café ☕"))
    }

    @Test func stringAndBytesEntryPointsAgree() throws {
        let text = "config x 'n'\n\toption a \"q\\\"\"\n"
        #expect(try UCIDocument.parse(Array(text.utf8), file: testFile) == parse(text))
    }

    @Test func realisticOpenWrtDhcpFile() throws {
        // The stock OpenWrt /etc/config/dhcp, abridged, with typical extras.
        let doc = try parse("""
            config dnsmasq
            \toption domainneeded '1'
            \toption boguspriv '1'
            \toption localise_queries '1'
            \toption rebind_protection '1'
            \toption local '/lan/'
            \toption domain 'lan'
            \toption expandhosts '1'
            \toption authoritative '1'
            \toption readethers '1'
            \toption leasefile '/tmp/dhcp.leases'
            \toption resolvfile '/tmp/resolv.conf.d/resolv.conf.auto'
            \tlist server '/example.com/192.0.2.53'
            \tlist server '1.1.1.1'

            config dhcp 'lan'
            \toption interface 'lan'
            \toption start '100'
            \toption limit '150'
            \toption leasetime '12h'
            \toption dhcpv4 'server'
            \toption dhcpv6 'server'
            \toption ra 'server'
            \tlist ra_flags 'managed-config'
            \tlist ra_flags 'other-config'

            config dhcp 'wan'
            \toption interface 'wan'
            \toption ignore '1'

            config odhcpd 'odhcpd'
            \toption maindhcp '0'
            \toption leasefile '/tmp/hosts/odhcpd'
            \toption leasetrigger '/usr/sbin/odhcpd-update'
            \toption loglevel '4'

            config host
            \toption name 'nas'
            \toption mac '00:11:22:33:44:55'
            \toption ip '192.168.1.10'
            """)
        #expect(doc.sections.map { $0.type } == ["dnsmasq", "dhcp", "dhcp", "odhcpd", "host"])
        #expect(doc.sections.map { $0.name } == [nil, "lan", "wan", "odhcpd", nil])
        #expect(doc.sections[0].option("server") == .list(["/example.com/192.0.2.53", "1.1.1.1"]))
        #expect(doc.sections[1].option("ra_flags") == .list(["managed-config", "other-config"]))
        #expect(doc.sections[4].option("mac") == .single("00:11:22:33:44:55"))
        #expect(doc.sections[4].location == loc(37, 8))
    }
}
