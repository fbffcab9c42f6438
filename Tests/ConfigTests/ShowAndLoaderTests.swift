import Testing
@testable import Config

// `uci show` output, path resolution, loading, and a full dnsbox file.

@Suite struct ShowTests {
    @Test func showFormMatchesUCI() throws {
        let config = try validate("""
            config dnsd 'main'
            \tlist listen '0.0.0.0:53'
            \tlist listen '[::]:53'
            \toption workers '4'
            config dhcp
            \toption interface 'lan'
            config dhcp
            \toption interface "it's"
            config dnsd
            """)
        #expect(config.showLines() == [
            "dnsbox.main=dnsd",
            "dnsbox.main.listen='0.0.0.0:53' '[::]:53'",
            "dnsbox.main.workers='4'",
            "dnsbox.@dhcp[0]=dhcp",
            "dnsbox.@dhcp[0].interface='lan'",
            "dnsbox.@dhcp[1]=dhcp",
            #"dnsbox.@dhcp[1].interface='it'\''s'"#,
            "dnsbox.@dnsd[1]=dnsd",
        ])
        #expect(config.showLines(package: "other").first == "other.main=dnsd")
    }

    @Test func showAfterMerges() throws {
        let config = try validate("""
            config dnsd 'main'
            \toption workers 1
            \toption timeout 5s
            config dnsd 'main'
            \toption workers 2
            \tlist listen ::1
            """)
        #expect(config.showLines() == [
            "dnsbox.main=dnsd",
            "dnsbox.main.workers='2'",
            "dnsbox.main.timeout='5s'",
            "dnsbox.main.listen='::1'",
        ])
    }

    @Test func showWithDefaults() throws {
        let config = try validate("config dnsd 'main'\n\toption workers 4\nconfig zone 'lan'")
        #expect(config.showLines(includeDefaults: true) == [
            "dnsbox.main=dnsd",
            "dnsbox.main.workers='4'",
            "dnsbox.main.enabled='1'",
            "dnsbox.main.listen='[::]:53'",
            "dnsbox.main.timeout='2s'",
            "dnsbox.lan=zone",
        ])
    }

    @Test func quoting() {
        #expect(Config.shellQuote("") == "''")
        #expect(Config.shellQuote("a b") == "'a b'")
        #expect(Config.shellQuote("'") == #"''\'''"#)
    }
}

@Suite struct LoaderTests {
    @Test func pathResolution() {
        let none = fakeEnv([:])
        let set = fakeEnv(["DNSBOX_CONFIG": "/tmp/env.conf"])
        let empty = fakeEnv(["DNSBOX_CONFIG": ""])
        #expect(ConfigLoader.resolvePath(explicit: "/x/dnsbox", env: set) == "/x/dnsbox")
        #expect(ConfigLoader.resolvePath(explicit: nil, env: set) == "/tmp/env.conf")
        #expect(ConfigLoader.resolvePath(explicit: "", env: set) == "/tmp/env.conf")
        #expect(ConfigLoader.resolvePath(explicit: nil, env: none) == "/etc/config/dnsbox")
        #expect(ConfigLoader.resolvePath(explicit: nil, env: empty) == "/etc/config/dnsbox")
    }

    @Test func missingFile() {
        do {
            _ = try ConfigLoader.load(path: "/nope", schema: .dnsbox, readFile: { _ in nil }, env: noEnv)
            Issue.record("expected an error")
        } catch {
            #expect(error == ConfigError("cannot read config file /nope"))
            #expect(error.description == "cannot read config file /nope")
        }
    }

    @Test func loadReadsThroughTheClosureAndUsesThePathInLocations() throws {
        let files: [String: String] = [
            "/etc/dnsbox.conf": "config dnsbox\n\toption log_level debug\n",
            "/etc/bad.conf": "config dnsbox\n\toption log_level loud\n",
        ]
        let read: (String) -> [UInt8]? = { path in files[path].map { Array($0.utf8) } }
        let config = try ConfigLoader.load(path: "/etc/dnsbox.conf", schema: .dnsbox, readFile: read, env: noEnv)
        #expect(config.global.logLevel == "debug")
        do {
            _ = try ConfigLoader.load(path: "/etc/bad.conf", schema: .dnsbox, readFile: read, env: noEnv)
            Issue.record("expected an error")
        } catch {
            #expect(error.description ==
                "invalid value 'loud' for option 'log_level' in anonymous section @dnsbox[0] (expected one of debug, info, warn, error) at /etc/bad.conf:2:9")
        }
    }

    @Test func realisticDnsboxFile() throws {
        let text = """
            # /etc/config/dnsbox — dnsbox router configuration

            package dnsbox

            config dnsbox 'main'
            \toption database '/srv/dnsbox/state.db'
            \toption log_level 'debug'   # while we bring it up
            \toption log_format json
            \toption log_target 'syslog'
            \toption user "dnsbox"

            config dnsd 'dns'
            \toption enabled '1'

            config api 'api'
            \toption enabled 'yes'

            config mdnsd 'mdns'
            \toption enabled 'off'

            config bgpd 'bgp'
            \toption enabled '0'

            config rad 'ra'; option enabled on

            config idle 'idle'
            \toption enabled 'disabled'

            config dhcp 'lan'
            \toption interface 'br-lan'

            config dhcp 'wan'
            \toption interface 'wan'
            \toption ignore '1'

            config dhcp
            \toption interface '$GUEST_IF'
            """
        let env = fakeEnv(["GUEST_IF": "br-guest"])
        let config = try ConfigLoader.load(path: "/etc/config/dnsbox", schema: .dnsbox,
                                           readFile: { _ in Array(text.utf8) }, env: env)
        #expect(config.global.database == "/srv/dnsbox/state.db")
        #expect(config.global.rundir == "/run/dnsbox")
        #expect(config.global.logFormat == "json")
        #expect(config.global.user == "dnsbox")
        let enabled = ["dnsd", "api", "mdnsd", "bgpd", "rad", "idle"].map { config.isEnabled($0) }
        #expect(enabled == [true, true, false, false, true, false])
        #expect(config.dhcp.count == 3)
        #expect(config.dhcp[0].ignore == false)
        #expect(config.dhcp[1].ignore == true)
        #expect(config.sections(ofType: "dhcp")[2].option("interface") == .single("br-guest"))
        #expect(config.showLines() == [
            "dnsbox.main=dnsbox",
            "dnsbox.main.database='/srv/dnsbox/state.db'",
            "dnsbox.main.log_level='debug'",
            "dnsbox.main.log_format='json'",
            "dnsbox.main.log_target='syslog'",
            "dnsbox.main.user='dnsbox'",
            "dnsbox.dns=dnsd",
            "dnsbox.dns.enabled='1'",
            "dnsbox.api=api",
            "dnsbox.api.enabled='yes'",
            "dnsbox.mdns=mdnsd",
            "dnsbox.mdns.enabled='off'",
            "dnsbox.bgp=bgpd",
            "dnsbox.bgp.enabled='0'",
            "dnsbox.ra=rad",
            "dnsbox.ra.enabled='on'",
            "dnsbox.idle=idle",
            "dnsbox.idle.enabled='disabled'",
            "dnsbox.lan=dhcp",
            "dnsbox.lan.interface='br-lan'",
            "dnsbox.wan=dhcp",
            "dnsbox.wan.interface='wan'",
            "dnsbox.wan.ignore='1'",
            "dnsbox.@dhcp[2]=dhcp",
            "dnsbox.@dhcp[2].interface='$GUEST_IF'",
        ])
        let withDefaults = config.showLines(includeDefaults: true)
        #expect(withDefaults.contains("dnsbox.main.rundir='/run/dnsbox'"))
        #expect(withDefaults.contains("dnsbox.lan.ignore='0'"))
        #expect(!withDefaults.contains { $0.hasPrefix("dnsbox.main.user=") && $0 != "dnsbox.main.user='dnsbox'" })
    }

    @Test func typoInTheRealFileIsPointedOut() {
        let text = "config dnsbox 'main'\n\toption log_levle 'debug'\n"
        do {
            _ = try ConfigLoader.load(path: "/etc/config/dnsbox", schema: .dnsbox,
                                      readFile: { _ in Array(text.utf8) }, env: noEnv)
            Issue.record("expected an error")
        } catch {
            #expect(error.description ==
                "unknown option 'log_levle' in section dnsbox 'main' at /etc/config/dnsbox:2:9; did you mean 'log_level'?")
        }
    }
}
