// `config forward` and the dnsd forwarding options read into a ForwardSetup.

@testable import Dnsd
import Config
import DNS
import Resolver
import Sys
import Testing

@Suite struct ForwardSetupTests {
    static func setup(_ text: String) throws -> (ForwardSetup?, [String]) {
        let c = try ZoneSetTests.config(text)
        return DnsdService.forwardSetup(c, ownPrefixes: [(bytes: [10, 99, 0, 0], prefix: 24)])
    }

    @Test func forwardZonesAndDefaultForwardersShareOneServerList() throws {
        let (s, errors) = try Self.setup("""
            config dnsd 'main'
            \tlist forwarder '9.9.9.9'
            \tlist forwarder '[2620:fe::fe]:5353'
            \toption upstream_timeout '700ms'
            config forward
            \tlist zone 'g10.lo'
            \tlist zone '10.168.192.in-addr.arpa'
            \tlist server '192.168.10.199'
            \tlist server '9.9.9.9'
            \toption fallback_local '1'
            config forward
            \toption zone 'bad..name'
            \tlist server '10.0.0.1'
            config forward
            \toption zone 'noserver.lo'
            """)
        let setup = try #require(s)
        #expect(setup.servers.map(\.description) == ["192.168.10.199:53", "9.9.9.9:53", "10.0.0.1:53", "[2620:fe::fe]:5353"])
        #expect(setup.groups.map { $0.zone?.description ?? "default" } == ["g10.lo.", "10.168.192.in-addr.arpa.", "default"])
        #expect(setup.groups[0].servers == [0, 1] && setup.groups[0].fallbackLocal && setup.groups[1].fallbackLocal)
        #expect(setup.groups[2].servers == [1, 3] && !setup.groups[2].fallbackLocal)
        #expect(setup.defaultGroup == 2 && setup.timeoutMs == 700)
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.contains { $0.contains("bad..name") } && errors.contains { $0.contains("noserver.lo: no server") })
    }

    @Test func allowRecursionDefaultsToLoopbackAndOwnSubnets() throws {
        let (s, _) = try Self.setup("config dnsd 'main'\n\tlist forwarder '9.9.9.9'\n")
        let allow = try #require(s).allow
        #expect(allow.contains(SocketAddress(ip: "127.0.0.53", port: 1)!))
        #expect(allow.contains(SocketAddress(ip: "::1", port: 1)!))
        #expect(allow.contains(SocketAddress(ip: "10.99.0.7", port: 1)!))
        #expect(allow.contains(SocketAddress(ip: "::ffff:10.99.0.7", port: 1)!))
        #expect(!allow.contains(SocketAddress(ip: "10.98.0.7", port: 1)!))
        #expect(!allow.contains(SocketAddress(ip: "2001:db8::1", port: 1)!))
        let (g, _) = try Self.setup("config dnsd 'main'\n\tlist forwarder '9.9.9.9'\n\tlist allow_recursion '2001:db8::/32'\n\tlist allow_recursion '192.0.2.1'\n")
        let given = try #require(g).allow
        #expect(given.contains(SocketAddress(ip: "2001:db8::1", port: 1)!))
        #expect(given.contains(SocketAddress(ip: "192.0.2.1", port: 1)!))
        #expect(!given.contains(SocketAddress(ip: "192.0.2.2", port: 1)!))
        #expect(!given.contains(SocketAddress(ip: "127.0.0.1", port: 1)!))
    }

    @Test func noForwardersMeansNoForwarding() throws {
        let (s, errors) = try Self.setup("config dnsd 'main'\n\toption workers '1'\n")
        #expect(s == nil && errors.isEmpty)
    }
}
