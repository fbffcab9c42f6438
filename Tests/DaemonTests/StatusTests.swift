@testable import Daemon
import Testing

@Suite struct StatusTests {
    @Test func fieldsAndRowsRoundTrip() throws {
        var s = Status()
        s.set(StatusKeys.applet, text: "init")
        s.set(StatusKeys.pid, 42)
        var row = Status(name: "dnsd")
        row.set(StatusKeys.pid, 43)
        row.set(StatusKeys.Init.restarts, 2)
        row.set(StatusKeys.Init.lastExit, text: "exit code 1")
        s.rows.append(row)
        #expect(s.text == "ok applet=init pid=42\ndnsd pid=43 restarts=2 last_exit=\"exit code 1\"")
        let back = try #require(Status.parse(s.text))
        #expect(back[StatusKeys.applet] == "init")
        #expect(back.number(StatusKeys.pid) == 42)
        #expect(back.rows.count == 1)
        #expect(back.rows[0].name == "dnsd")
        #expect(back.rows[0].number(StatusKeys.Init.restarts) == 2)
        #expect(back.rows[0][StatusKeys.Init.lastExit] == "\"exit code 1\"")
        #expect(Status.parse("error: no") == nil)
    }

    @Test func everyMetricNameIsDeclaredOnceWithOneTypeAndHelp() {
        typealias D = StatusKeys.Dnsd
        var seen: [String: (String, String)] = [:]
        let keys = D.gauges + D.rcodes + [D.qtype("a", upper: "A"), D.qtype("aaaa", upper: "AAAA"), StatusKeys.Init.restarts]
        for k in keys {
            guard let m = k.metric else { continue }
            if let (t, h) = seen[m.name] {
                #expect(t == m.typeName && h == m.help, "metric \(m.name) declared twice differently")
            }
            seen[m.name] = (m.typeName, m.help)
        }
        #expect(D.rcodes.count == 6)
        #expect(D.rcodes.map { $0.name } == ["rcode_noerror", "rcode_formerr", "rcode_servfail", "rcode_nxdomain", "rcode_notimp", "rcode_refused"])
    }
}
