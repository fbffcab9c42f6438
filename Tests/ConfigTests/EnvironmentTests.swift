import Testing
@testable import Config

// `$VAR` and `{env.VAR}` substitution: resolved before type checks, stored
// in `document`, never in `source` (which `show-config` prints).

func fakeEnv(_ table: [String: String]) -> (String) -> String? {
    { name in table[name] }
}

@Suite struct EnvironmentTests {
    let env = fakeEnv([
        "DNS_PASSWORD": "s3cret",
        "WORKERS": "16",
        "HOST": "192.0.2.7",
        "EMPTY": "",
        "BAD_PORT": "abc",
    ])

    @Test func wholeValue() throws {
        let config = try validate("config dnsd 'main'\n\toption password '$DNS_PASSWORD'\n\toption workers $WORKERS", env: env)
        #expect(config.string("dnsd", "main", "password") == "s3cret")
        #expect(config.int("dnsd", "main", "workers") == 16)
        // The source keeps what was written.
        #expect(config.source.sections[0].option("password") == .single("$DNS_PASSWORD"))
    }

    @Test func embeddedReferences() throws {
        let config = try validate("""
            config dnsd 'main'
            \tlist listen '{env.HOST}:5353'
            \tlist listen '[::1]'
            \toption password 'pre-{env.DNS_PASSWORD}-{env.WORKERS}{env.EMPTY}'
            """, env: env)
        #expect(config.values("dnsd", "main", "listen") == ["192.0.2.7:5353", "[::1]"])
        #expect(config.string("dnsd", "main", "password") == "pre-s3cret-16")
        #expect(config.source.sections[0].option("listen") == .list(["{env.HOST}:5353", "[::1]"]))
    }

    @Test func emptyVariableIsUsedAsIs() throws {
        let config = try validate("config dnsd 'main'\n\toption password $EMPTY", env: env)
        #expect(config.string("dnsd", "main", "password") == "")
    }

    @Test func unsetVariableIsAnErrorNamingIt() {
        #expect(validationError("config dnsd 'main'\n\toption password '$NOPE'", env: env) == ConfigError(
            "environment variable 'NOPE' is not set (used by option 'password' in section dnsd 'main')", at: loc(2, 9)))
        let e = validationError("config dnsd 'main'\n\tlist listen '::1'\n\tlist listen '{env.MISSING}:53'", env: env)
        #expect(e?.message.hasPrefix("environment variable 'MISSING' is not set") == true)
        #expect(e?.location == loc(3, 7))
    }

    @Test func textThatIsNotAReferenceStaysLiteral() throws {
        let cases = ["$", "a$b", "$1abc", "$a-b", "{env.}", "{env.a-b}", "{env.X", "{ENV.X}", "$$", "{env.1X}"]
        for text in cases {
            let config = try validate("config dnsd 'main'\n\toption password '\(text)'", env: env)
            #expect(config.string("dnsd", "main", "password") == text, "\(text)")
        }
    }

    @Test func replacementIsNotRescanned() throws {
        let env = fakeEnv(["A": "{env.B}", "B": "x"])
        let config = try validate("config dnsd 'main'\n\toption password '{env.A}'", env: env)
        #expect(config.string("dnsd", "main", "password") == "{env.B}")
    }

    @Test func substitutionHappensBeforeTypeChecks() {
        let e = validationError("config dnsd 'main'\n\toption workers '$BAD_PORT'", env: env)
        // The substituted text may be a secret: the message names its source only.
        #expect(e?.message ==
            "invalid value from '$BAD_PORT' for option 'workers' in section dnsd 'main' (expected an integer 0..1024)")
        #expect(e?.description.contains("abc") == false)
        #expect(validationError("config dnsd 'main'\n\toption workers '$WORKERS'", env: env) == nil)
    }

    @Test func showPrintsTheOriginalText() throws {
        let config = try validate("config dnsd 'main'\n\toption password '$DNS_PASSWORD'", env: env)
        #expect(config.showLines() == ["dnsbox.main=dnsd", "dnsbox.main.password='$DNS_PASSWORD'"])
        #expect(!config.showLines(includeDefaults: true).contains { $0.contains("s3cret") })
    }

    @Test func publicSubstitutionHelper() throws {
        let at = loc(1, 1)
        #expect(try Config.substituteEnvironment("$HOST", env: env, at: at, context: "x") == "192.0.2.7")
        #expect(try Config.substituteEnvironment("plain", env: env, at: at, context: "x") == "plain")
        #expect(throws: ConfigError.self) { try Config.substituteEnvironment("$NOPE", env: env, at: at, context: "x") }
    }
}
