import Testing
@testable import Config

// Parse errors: message, exact file:line:column, and the printed form.

/// The error `parse` throws for `text`, or nil when it parses.
func parseError(_ text: String) -> ConfigError? {
    do {
        _ = try parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite struct UCIErrorTests {
    @Test func unterminatedSingleQuoteIsReportedAtTheQuote() {
        let e = parseError("config x\n\toption a 'abc\n\toption b 2\n")
        #expect(e == ConfigError("unterminated single quote", at: loc(2, 11)))
        #expect(e?.description == "unterminated single quote at /etc/config/dnsbox:2:11")
    }

    @Test func unterminatedDoubleQuoteIsReportedAtTheQuote() {
        #expect(parseError("config x\noption a \"abc") == ConfigError("unterminated double quote", at: loc(2, 10)))
        // A trailing backslash inside double quotes does not close them.
        #expect(parseError("config x\noption a \"abc\\") == ConfigError("unterminated double quote", at: loc(2, 10)))
        #expect(parseError("config x\noption a x\"abc\\\"") == ConfigError("unterminated double quote", at: loc(2, 11)))
    }

    @Test func invalidCommand() {
        #expect(parseError("config x\n  opton a b") ==
            ConfigError("invalid command 'opton' (expected config, option, list or package)", at: loc(2, 3)))
        #expect(parseError("x") != nil)
    }

    @Test func badSectionType() {
        #expect(parseError("config dns-d 'main'") ==
            ConfigError("invalid section type 'dns-d' (use letters, digits and _)", at: loc(1, 8)))
        #expect(parseError("config ''") == ConfigError("config without a section type", at: loc(1, 1)))
        #expect(parseError("config") == ConfigError("config without a section type", at: loc(1, 1)))
    }

    @Test func badSectionName() {
        #expect(parseError("config dnsd 'ma in'") ==
            ConfigError("invalid section name 'ma in' (use letters, digits and _)", at: loc(1, 13)))
        #expect(parseError("config dnsd main.1") != nil)
    }

    @Test func badOptionName() {
        #expect(parseError("config dnsd\n\toption list-en x") ==
            ConfigError("invalid option name 'list-en' (use letters, digits and _)", at: loc(2, 9)))
        #expect(parseError("config dnsd\n\tlist 'a b' x") != nil)
        #expect(parseError("config dnsd\n\toption") == ConfigError("option without a name", at: loc(2, 2)))
        #expect(parseError("config dnsd\n\tlist ''") == ConfigError("list without a name", at: loc(2, 2)))
    }

    @Test func optionOutsideASection() {
        #expect(parseError("# no section yet\noption a 1\nconfig x") ==
            ConfigError("option 'a' outside of a section (no config line before it)", at: loc(2, 8)))
        #expect(parseError("package dnsbox\nlist a 1") ==
            ConfigError("list 'a' outside of a section (no config line before it)", at: loc(2, 6)))
    }

    @Test func tooManyArguments() {
        #expect(parseError("config x 'n' extra") == ConfigError("too many arguments", at: loc(1, 14)))
        #expect(parseError("config x\noption a 'b' c") == ConfigError("too many arguments", at: loc(2, 14)))
        #expect(parseError("config x\nlist a b c") == ConfigError("too many arguments", at: loc(2, 10)))
        #expect(parseError("package a b") == ConfigError("too many arguments", at: loc(1, 11)))
        // A trailing comment is not an argument.
        #expect(parseError("config x 'n' # comment") == nil)
    }

    @Test func packageErrors() {
        #expect(parseError("package") == ConfigError("package without a name", at: loc(1, 1)))
        #expect(parseError("package 'a b'") != nil)
    }

    @Test func sameNameWithAnotherTypeIsAnotherSection() throws {
        let doc = try UCIDocument.parse("config dnsd 'main'\noption a 1\nconfig api 'main'\noption b 2\nconfig dnsd 'main'\noption c 3",
                                        file: "/etc/config/dnsbox")
        #expect(doc.sections.count == 2)
        #expect(doc.sections[0].type == "dnsd" && doc.sections[0].options.map { $0.name } == ["a", "c"])
        #expect(doc.sections[1].type == "api" && doc.sections[1].options.map { $0.name } == ["b"])
    }

    @Test func errorAfterMultiLineValueHasTheRightLine() {
        #expect(parseError("config x\noption a 'one\ntwo\nthree'\noption b-c 1") ==
            ConfigError("invalid option name 'b-c' (use letters, digits and _)", at: loc(5, 8)))
        #expect(parseError("config x\noption a \\\n  b\nbogus") ==
            ConfigError("invalid command 'bogus' (expected config, option, list or package)", at: loc(4, 1)))
    }

    @Test func errorFileNameIsTheOneGiven() {
        do {
            _ = try UCIDocument.parse("config x\n'", file: "/tmp/other")
            Issue.record("expected an error")
        } catch {
            #expect(error.location == SourceLocation(file: "/tmp/other", line: 2, column: 1))
        }
    }

    @Test func descriptionForms() {
        #expect(ConfigError("cannot read config file /x").description == "cannot read config file /x")
        #expect(ConfigError("m", at: loc(1, 2), hint: "did you mean 'a'?").description ==
            "m at /etc/config/dnsbox:1:2; did you mean 'a'?")
        #expect(ConfigError("m", hint: "h").description == "m; h")
        #expect(loc(3, 4).description == "/etc/config/dnsbox:3:4")
    }

    @Test func hostileInputNeverTraps() {
        // Truncations and odd bytes anywhere must give a document or a
        // ConfigError, never a crash.
        let text = "config x 'n'\n\toption a \"b\\\"c\" # c\n\tlist l 'x'\"y\"\\\n z;o q r\n"
        let bytes = Array(text.utf8)
        for end in 0...bytes.count {
            _ = try? UCIDocument.parse(Array(bytes[0..<end]), file: testFile)
        }
        for junk: UInt8 in [0, 0x5C, 0x22, 0x27, 0x23, 0x3B, 0x0A, 0x0D, 0xFF] {
            for at in 0...bytes.count {
                var mutated = bytes
                mutated.insert(junk, at: at)
                _ = try? UCIDocument.parse(mutated, file: testFile)
            }
        }
    }
}
