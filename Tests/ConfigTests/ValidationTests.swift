import Testing
@testable import Config

// Schema validation: unknown names with suggestions, list vs single, value
// kinds, environment substitution, defaults.

/// A schema shaped like the future dnsd one, to exercise every rule.
let testSchema = Schema(sections: [
    SectionSpec(type: "dnsd", summary: "DNS", options: [
        OptionSpec(name: "enabled", kind: .bool, defaultValue: "1", summary: ""),
        OptionSpec(name: "listen", kind: .hostPort(defaultPort: 53), defaultValue: "[::]:53", isList: true, summary: ""),
        OptionSpec(name: "workers", kind: .int(min: 0, max: 1024), defaultValue: "0", summary: ""),
        OptionSpec(name: "timeout", kind: .duration, defaultValue: "2s", summary: ""),
        OptionSpec(name: "password", kind: .string, summary: ""),
        OptionSpec(name: "upstream", kind: .address, isList: true, summary: ""),
    ]),
    SectionSpec(type: "zone", summary: "zone", options: [
        OptionSpec(name: "prefix", kind: .cidr, summary: ""),
    ], nameRequired: true),
    SectionSpec(type: "dhcp", summary: "dhcp", options: [
        OptionSpec(name: "interface", kind: .string, summary: ""),
    ]),
])

func noEnv(_ name: String) -> String? { nil }

func validate(_ text: String, schema: Schema = testSchema,
              env: (String) -> String? = noEnv) throws(ConfigError) -> Config {
    try Config.validate(try parse(text), schema: schema, env: env)
}

func validationError(_ text: String, schema: Schema = testSchema,
                     env: (String) -> String? = noEnv) -> ConfigError? {
    do {
        _ = try validate(text, schema: schema, env: env)
        return nil
    } catch {
        return error
    }
}

@Suite struct ValidationTests {
    @Test func theBriefsExampleMessage() {
        let e = validationError("# dnsbox\n\nconfig dnsd 'main'\n\toption listne '0.0.0.0'\n")
        #expect(e?.description ==
            "unknown option 'listne' in section dnsd 'main' at /etc/config/dnsbox:4:9; did you mean 'listen'?")
        #expect(e?.location == loc(4, 9))
    }

    @Test func unknownSectionTypeSuggestsTheNearest() {
        let e = validationError("config dsnd 'main'")
        #expect(e?.description == "unknown section type 'dsnd' at /etc/config/dnsbox:1:8; did you mean 'dnsd'?")
        #expect(validationError("config firewall")?.description ==
            "unknown section type 'firewall' at /etc/config/dnsbox:1:8")
    }

    @Test func noSuggestionWhenTooFar() {
        let e = validationError("config dnsd\n\toption colour 'red'")
        #expect(e == ConfigError("unknown option 'colour' in anonymous section @dnsd[0]", at: loc(2, 9)))
        #expect(e?.hint == nil)
    }

    @Test func suggestionThreshold() {
        // max(2, len/3): a 9-byte name may be 3 edits away.
        #expect(Suggestion.nearest(to: "wrkrs", among: ["workers"]) == "workers")  // 2
        #expect(Suggestion.nearest(to: "wk", among: ["workers"]) == nil)  // 5
        #expect(Suggestion.nearest(to: "log_lvl", among: ["log_level", "log_format"]) == "log_level")
        #expect(Suggestion.nearest(to: "timeuot", among: ["timeout"]) == "timeout")  // transposition = 1
        #expect(Suggestion.nearest(to: "interfacexxx", among: ["interface"]) == "interface")  // 3 <= 12/3
        #expect(Suggestion.nearest(to: "ab", among: []) == nil)
        #expect(Suggestion.distance(Array("ca".utf8), Array("abc".utf8)) == 3)  // OSA, not full Damerau
        #expect(Suggestion.distance(Array("".utf8), Array("abc".utf8)) == 3)
        #expect(Suggestion.distance(Array("kitten".utf8), Array("sitting".utf8)) == 3)
    }

    @Test func pathsMustNotBeEmpty() {
        let e = validationError("config dnsbox 'main'\n\toption rundir ''\n\toption database '$EMPTY'",
                                schema: .dnsbox, env: { $0 == "EMPTY" ? "" : nil })
        #expect(e?.message.contains("option 'database'") == true)
        #expect(e?.message.contains("expected a non-empty path") == true)
    }

    @Test func listForASingleOptionIsRefused() {
        #expect(validationError("config dnsd\n\tlist workers 4") == ConfigError(
            "option 'workers' in anonymous section @dnsd[0] takes a single value, not a list (use 'option', not 'list')",
            at: loc(2, 7)))
        // Also after an `option` turned it into a list: reported at the `list` line.
        #expect(validationError("config dnsd 'm'\n\toption workers 4\n\tlist workers 5")?.location == loc(3, 7))
    }

    @Test func singleValueForAListOptionIsFine() throws {
        let config = try validate("config dnsd 'main'\n\toption listen '127.0.0.1'")
        #expect(config.values("dnsd", "main", "listen") == ["127.0.0.1"])
    }

    @Test func invalidValueMessages() {
        #expect(validationError("config dnsd 'main'\n\toption workers 'abc'")?.description ==
            "invalid value 'abc' for option 'workers' in section dnsd 'main' (expected an integer 0..1024) at /etc/config/dnsbox:2:9")
        #expect(validationError("config dnsd 'main'\n\toption workers 2048")?.message.hasPrefix("invalid value '2048'") == true)
        #expect(validationError("config dnsd\n\toption enabled maybe")?.message.contains("expected a boolean") == true)
        #expect(validationError("config dnsd\n\toption timeout 1y")?.message.contains("expected a duration") == true)
        #expect(validationError("config zone 'z'\n\toption prefix 10.0.0.0/40")?.message.contains("address/prefix") == true)
    }

    @Test func badListElementIsReportedAtItsOwnLine() {
        let e = validationError("config dnsd 'main'\n\tlist upstream 192.0.2.1\n\tlist upstream 2001:db8::1\n\tlist upstream nope\n")
        #expect(e?.location == loc(4, 7))
        #expect(e?.message.hasPrefix("invalid value 'nope' for option 'upstream'") == true)
    }

    @Test func nameRequired() {
        #expect(validationError("config zone\n\toption prefix 10.0.0.0/8") ==
            ConfigError("section zone needs a name (config zone 'NAME')", at: loc(1, 8)))
        #expect(validationError("config zone 'lan'\n\toption prefix 10.0.0.0/8") == nil)
    }

    @Test func everyKindValidates() throws {
        let config = try validate("""
            config dnsd 'main'
            \toption enabled 'yes'
            \tlist listen '0.0.0.0'
            \tlist listen '[::]:5353'
            \toption workers '8'
            \toption timeout '1m30s'
            \tlist upstream '9.9.9.9'
            \tlist upstream '2620:fe::fe'
            config zone 'lan'
            \toption prefix '192.168.1.0/24'
            """)
        #expect(config.bool("dnsd", "main", "enabled") == true)
        #expect(config.int("dnsd", "main", "workers") == 8)
        #expect(config.milliseconds("dnsd", "main", "timeout") == 90_000)
        #expect(config.values("dnsd", nil, "upstream") == ["9.9.9.9", "2620:fe::fe"])
        #expect(config.string("zone", "lan", "prefix") == "192.168.1.0/24")
    }

    @Test func defaultsApply() throws {
        let config = try validate("config dnsd 'main'\n\toption workers 4\nconfig dnsd 'other'\n\toption workers 2")
        #expect(config.string("dnsd", "main", "workers") == "4")
        #expect(config.string("dnsd", nil, "workers") == "4")  // nil = first of the type
        #expect(config.string("dnsd", "other", "workers") == "2")
        #expect(config.string("dnsd", "main", "timeout") == "2s")
        #expect(config.milliseconds("dnsd", "main", "timeout") == 2_000)
        #expect(config.string("dnsd", "main", "listen") == "[::]:53")
        #expect(config.string("dnsd", "main", "password") == nil)
        #expect(config.string("dnsd", "absent", "enabled") == "1")  // section absent: default
        #expect(config.string("dhcp", nil, "interface") == nil)
        #expect(config.values("dnsd", "main", "upstream") == [])
        #expect(config.sections(ofType: "dnsd").map { $0.name } == ["main", "other"])
        #expect(config.section("dnsd", named: "other")?.option("workers") == .single("2"))
        #expect(config.section("dnsd", named: "nope") == nil)
        #expect(config.section("zone", named: "main") == nil)
    }

    @Test func dnsboxSchemaDefaultsSatisfyTheirKinds() {
        for section in Schema.dnsbox.sections {
            for option in section.options {
                if let value = option.defaultValue {
                    #expect(option.kind.accepts(value), "\(section.type).\(option.name)")
                }
            }
        }
        for section in testSchema.sections {
            for option in section.options {
                if let value = option.defaultValue { #expect(option.kind.accepts(value)) }
            }
        }
    }

    @Test func dnsboxSchemaTable() throws {
        let types = Schema.dnsbox.sectionTypes
        #expect(types == ["dnsbox", "dnsd", "forward", "zone", "tsig_key", "record", "api", "mdnsd", "bgpd", "rad", "idle", "dhcp", "host"])
        let global = try #require(Schema.dnsbox.section("dnsbox"))
        #expect(global.summary == "global settings")
        #expect(global.optionNames == ["database", "rundir", "log_level", "log_format", "log_target", "user"])
        #expect(global.option("database")?.defaultValue == "/var/lib/dnsbox/dnsbox.db")
        #expect(global.option("rundir")?.defaultValue == "/run/dnsbox")
        #expect(global.option("log_level")?.kind == .oneOf(["debug", "info", "warn", "error"]))
        #expect(global.option("user")?.defaultValue == nil)
        let dnsd = try #require(Schema.dnsbox.section("dnsd"))
        #expect(dnsd.optionNames == ["enabled", "listen", "workers", "nsid", "version", "tcp_idle_timeout", "tcp_max_connections",
                                     "tcp_max_per_client", "tcp_io_timeout", "journal_max_depth", "journal_max_usage", "forwarder", "allow_recursion", "cache_size", "serve_stale", "upstream_timeout"])
        #expect(dnsd.option("forwarder")?.isList == true && dnsd.option("serve_stale")?.defaultValue == "1d")
        let forward = try #require(Schema.dnsbox.section("forward"))
        #expect(forward.optionNames == ["zone", "server", "fallback_local"])
        #expect(forward.option("zone")?.isList == true && forward.option("fallback_local")?.defaultValue == "0")
        #expect(dnsd.option("workers")?.kind == .int(min: 0, max: 64) && dnsd.option("workers")?.defaultValue == "0")
        #expect(dnsd.option("listen")?.isList == true && dnsd.option("listen")?.kind == .hostPort(defaultPort: 53))
        let zone = try #require(Schema.dnsbox.section("zone"))
        #expect(zone.optionNames == ["name", "file", "ttl", "allow_transfer", "notify", "primary", "allow_notify", "tsig_key", "dynamic",
                                     "fallback", "service_ttl"])
        #expect(zone.option("fallback")?.isList == true && zone.option("service_ttl")?.defaultValue == "5")
        let key = try #require(Schema.dnsbox.section("tsig_key"))
        #expect(key.optionNames == ["name", "algorithm", "secret"] && key.option("algorithm")?.defaultValue == "hmac-sha256")
        #expect(key.option("secret")?.kind == .base64)
        for good in ["YQ==", "gV9A0VfiHAQ9qP8ayZtbXDiEHNLweZnBRnxmvthwqoQ=", "YWJj ZGVm"] { #expect(OptionKind.base64.accepts(good), "\(good)") }
        for bad in ["", "YQ", "Y=Q=", "YQ===", "YW*j", "===="] { #expect(!OptionKind.base64.accepts(bad), "\(bad)") }
        #expect(zone.option("allow_transfer")?.kind == .addressOrCIDR && zone.option("allow_transfer")?.isList == true)
        #expect(OptionKind.addressOrCIDR.accepts("192.0.2.1") && OptionKind.addressOrCIDR.accepts("2001:db8::/32"))
        #expect(!OptionKind.addressOrCIDR.accepts("192.0.2.0/33") && !OptionKind.addressOrCIDR.accepts("host"))
        #expect(Schema.dnsbox.section("record")?.optionNames == ["zone", "name", "type", "value", "ttl"])
        for service in ["dnsd", "api", "mdnsd", "bgpd", "rad", "idle"] {
            let spec = try #require(Schema.dnsbox.section(service))
            if service == "api" {
                #expect(spec.optionNames == ["enabled", "listen", "token", "allow", "rate_limit", "audit", "max_connections", "timeout"])
                #expect(spec.option("listen")?.kind == .hostPort(defaultPort: 8080) && spec.option("rate_limit")?.defaultValue == "10")
            } else if service != "dnsd" {
                #expect(spec.optionNames == ["enabled"])
            }
            #expect(spec.option("enabled")?.kind == .bool)
            #expect(spec.option("enabled")?.defaultValue == "1")
        }
        #expect(Schema.dnsbox.section("idle")?.summary ==
            "diagnostic service applet: the shared runtime with no protocol; used to test supervision")
        let dhcp = try #require(Schema.dnsbox.section("dhcp"))
        #expect(dhcp.optionNames == ["interface", "ignore", "start", "limit", "leasetime", "domain", "dns", "router", "search",
                                     "next_server", "boot_file", "boot_file_efi", "ipxe_boot_url", "option", "leasefile"])
        #expect(dhcp.option("start")?.defaultValue == "100" && dhcp.option("limit")?.defaultValue == "150")
        #expect(Schema.dnsbox.section("host")?.optionNames == ["mac", "ip", "name", "leasetime"])
        #expect(dhcp.option("ignore")?.defaultValue == "0")
        #expect(Schema.dnsbox.section("nope") == nil)
    }
}
