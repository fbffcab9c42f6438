import Testing
@testable import Applets
import Daemon
import Init
import Config

@Suite struct AppletTableTests {
    @Test func everyDocumentedAppletIsDeclaredOnce() {
        let names = Applets.table.map { $0.name }
        for n in ["dnsd", "dhcpd", "rad", "mdnsd", "bgpd", "apictl", "init"] { #expect(names.contains(n)) }
        #expect(Set(names).count == names.count)
    }

    @Test func appletSectionsExistInTheSchema() {
        for a in Applets.table {
            guard let s = a.info.section else { continue }
            #expect(Schema.dnsbox.section(s) != nil, "applet \(a.name) names section \(s)")
        }
    }

    @Test func unavailableAppletsSaySoAndExit69() {
        #expect(dnsboxMain(["dnsbox", "rad"]) == ExitCode.unavailable)
        #expect(dnsboxMain(["/usr/sbin/bgpd", "-c", "/nonexistent"]) == ExitCode.unavailable)
    }

    @Test func dispatchByNameAndByFirstArgument() {
        #expect(dnsboxMain(["dnsbox", "--version"]) == 0)
        #expect(dnsboxMain(["dnsbox", "--list"]) == 0)
        #expect(dnsboxMain(["dnsbox", "--help", "init"]) == 0)
        #expect(dnsboxMain(["/usr/sbin/init", "--help"]) == 0)
        #expect(dnsboxMain(["dnsbox", "nosuch"]) == ExitCode.usage)
        #expect(dnsboxMain(["dnsbox", "--help", "nosuch"]) == ExitCode.usage)
        #expect(dnsboxMain(["dnsbox"]) == ExitCode.usage)
    }

    @Test func commonOptionsParse() throws {
        let o = try CommonOptions.parse(["-c", "/x", "a", "-q", "b"], allowedFlags: ["-q"]).get()
        #expect(o.configPath == "/x" && o.rest == ["a", "b"] && o.flags == ["-q"])
        let eq = try CommonOptions.parse(["--config=/y"]).get()
        #expect(eq.configPath == "/y")
        if case .success = CommonOptions.parse(["-c"]) { Issue.record("-c without FILE must fail") }
        if case .success = CommonOptions.parse(["--bogus"]) { Issue.record("unknown option must fail") }
    }

    private func config(_ text: String) throws -> Config {
        try Config.validate(try UCIDocument.parse(text, file: "t"), schema: .dnsbox, env: { _ in nil })
    }

    @Test func initStartsSectionsThatAreNotDisabled() throws {
        let c = try config("""
            config idle 'a'
            config dnsd 'main'
            \toption enabled '0'
            config dhcp 'lan'
            \toption ignore '1'
            config dhcp 'guest'
            config api
            \toption enabled 'no'
            config api 'second'
            """)
        let names = InitService.enabledApplets(c, among: Applets.infos).map { $0.name }
        #expect(names == ["dhcpd", "apictl", "idle"])
    }

    @Test func settingsDefaults() throws {
        let s = try config("config dnsbox 'main'").global
        #expect(s.database == "/var/lib/dnsbox/dnsbox.db")
        #expect(s.rundir == "/run/dnsbox")
        #expect(s.logLevel == "info" && s.user == nil)
        #expect(s.controlSocket("dnsd") == "/run/dnsbox/dnsd.sock")
    }
}
