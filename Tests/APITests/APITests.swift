import Foundation
import Testing
@testable import API
import Config
import HTTP
import Store
import Sys

private final class Fixture {
    let root = "/tmp/dnsbox-api-test-\(Sys.pid)-\(Sys.random64() % 1_000_000)"
    let store: Store
    let api: API
    var now: UInt64 = 1_000_000_000
    var commits = 0

    init(_ extra: String = "", rate: Int = 0) throws {
        store = try Store(path: root + "/dnsbox.db")
        let text = """
        config api
        \toption token 'sekret'
        \tlist allow '127.0.0.0/8'
        \toption rate_limit '\(rate)'
        config zone
        \toption name 'service.local'
        \toption dynamic '1'
        \toption service_ttl '7'
        config zone
        \toption name 'static.lan'
        config record
        \toption zone 'service.local'
        \toption name 'fixed'
        \toption type 'A'
        \toption value '10.9.9.9'
        """ + extra
        let c = try ConfigLoader.load(path: "t.conf", schema: Schema.dnsbox, readFile: { _ in Array(text.utf8) }, env: { _ in nil })
        var clock: () -> UInt64 = { 0 }
        api = API(settings: APISettings(c), store: store, clock: { clock() })
        clock = { [unowned self] in self.now }
        api.onCommit = { [unowned self] in self.commits += 1 }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func req(_ method: String, _ target: String, _ body: String? = nil, token: String? = "sekret", peer: String = "127.0.0.1") -> HTTPRequest {
        let (path, query) = HTTPRequest.splitTarget(target)!
        var r = HTTPRequest(method: method, path: path, query: query, body: Array((body ?? "").utf8), peer: peer)
        if let token { r.headers.append(("authorization", "Bearer " + token)) }
        return r
    }

    func call(_ method: String, _ target: String, _ body: String? = nil) -> (Int, JSON?) {
        let r = api.respond(req(method, target, body))
        return (r.status, r.body.isEmpty ? nil : try? JSON.parse(r.body))
    }
}

@Suite struct ServiceTests {
    @Test func putGetListDeleteWithShortAndFullNames() throws {
        let f = try Fixture()
        var (st, j) = f.call("PUT", "/v1/services/Valkey", #"{"type":"A","records":["10.0.0.12","10.0.0.12","10.0.0.13"],"ttl":0}"#)
        #expect(st == 200)
        #expect(j?["fqdn"]?.string == "valkey.service.local" && j?["ttl"]?.int == 7)
        #expect(j?["records"]?.array?.count == 2)  // the duplicate is ignored
        (st, j) = f.call("GET", "/v1/services/valkey.service.local")
        #expect(st == 200 && j?["name"]?.string == "valkey")
        (st, j) = f.call("GET", "/v1/services")
        #expect(st == 200 && j?["zone"]?.string == "service.local" && j?["services"]?["valkey"]?["records"]?.array?.count == 2)
        #expect(try Services.get(f.store.db, zone: "service.local", name: "valkey")?.records == ["10.0.0.12", "10.0.0.13"])
        (st, _) = f.call("DELETE", "/v1/services/VALKEY.service.local.")
        #expect(st == 204)
        (st, _) = f.call("DELETE", "/v1/services/valkey")
        #expect(st == 404)
        #expect(f.commits == 2)  // the PUT and the first DELETE changed something
    }

    @Test func validationErrorsNameTheField() throws {
        let f = try Fixture()
        let cases: [(String, String, String, String)] = [
            ("/v1/services/a", #"{"type":"MX","records":["10.0.0.1"]}"#, "type", "type"),
            ("/v1/services/a", #"{"type":"A","records":["10.0.0.300"]}"#, "records", "bad address"),
            ("/v1/services/a", #"{"type":"A","records":["2001:db8::1"]}"#, "records", "wrong family"),
            ("/v1/services/a", #"{"type":"A","records":[]}"#, "records", "empty"),
            ("/v1/services/a", #"{"type":"A","records":["10.0.0.1"],"ttl":-1}"#, "ttl", "ttl"),
            ("/v1/services/-a", #"{"records":["10.0.0.1"]}"#, "name", "leading dash"),
            ("/v1/services/a_b", #"{"records":["10.0.0.1"]}"#, "name", "underscore"),
            ("/v1/services/a.other.zone", #"{"records":["10.0.0.1"]}"#, "name", "outside"),
            ("/v1/services/a", "{", "body", "bad json"),
            ("/v1/services/a", "[]", "body", "not an object"),
        ]
        for (path, body, field, what) in cases {
            let (st, j) = f.call("PUT", path, body)
            #expect(st == 400, "\(what)")
            #expect(j?["field"]?.string == field, "\(what): \(j?.serialized ?? "")")
            #expect(j?["error"]?.string?.isEmpty == false)
        }
        let many = (1...65).map { "\"10.0.0.\($0)\"" }.joined(separator: ",")
        #expect(f.call("PUT", "/v1/services/a", "{\"records\":[\(many)]}").0 == 400)
        // A name a config record uses cannot become a service.
        #expect(f.call("PUT", "/v1/services/fixed", #"{"records":["10.0.0.1"]}"#).0 == 409)
        #expect(try Services.list(f.store.db, zone: "service.local").isEmpty)
        #expect(f.commits == 0)
    }

    @Test func recordLevelAddAndRemove() throws {
        let f = try Fixture()
        var (st, j) = f.call("POST", "/v1/services/web/records", #"{"records":["10.0.0.1","10.0.0.2"]}"#)
        #expect(st == 200 && j?["type"]?.string == "A" && j?["records"]?.array?.count == 2)
        (st, j) = f.call("POST", "/v1/services/web/records", #"{"records":["10.0.0.2","10.0.0.3"],"ttl":30}"#)
        #expect(st == 200 && j?["records"]?.array?.count == 3 && j?["ttl"]?.int == 30)
        (st, _) = f.call("POST", "/v1/services/web/records", #"{"records":["2001:db8::1"]}"#)
        #expect(st == 400)
        (st, j) = f.call("DELETE", "/v1/services/web/records", #"{"records":["10.0.0.1"]}"#)
        #expect(st == 200 && j?["records"]?.array?.map { $0.string ?? "" } == ["10.0.0.2", "10.0.0.3"])
        (st, _) = f.call("DELETE", "/v1/services/web/records", #"{"records":["10.0.0.2","10.0.0.3"]}"#)
        #expect(st == 204)
        #expect(f.call("GET", "/v1/services/web").0 == 404)
        #expect(f.call("DELETE", "/v1/services/web/records", #"{"records":["10.0.0.2"]}"#).0 == 404)
        (st, j) = f.call("POST", "/v1/services/v6/records", #"{"records":["2001:DB8::1"]}"#)
        #expect(st == 200 && j?["type"]?.string == "AAAA" && j?["records"]?.array?.first?.string == "2001:db8::1")
    }

    @Test func bulkStateReplacesAllOrNothing() throws {
        let f = try Fixture()
        _ = f.call("PUT", "/v1/services/old", #"{"records":["10.0.0.1"]}"#)
        var (st, j) = f.call("PUT", "/v1/state", #"{"services":{"a":{"type":"A","records":["10.0.0.2"]},"b.service.local":{"type":"AAAA","records":["::1"],"ttl":9}}}"#)
        #expect(st == 200 && j?["count"]?.int == 2 && j?["zone"]?.string == "service.local")
        #expect(try Services.list(f.store.db, zone: "service.local").map(\.name) == ["a", "b"])
        (st, j) = f.call("PUT", "/v1/state", #"{"services":{"c":{"records":["10.0.0.3"]},"d":{"records":["nope"]}}}"#)
        #expect(st == 400 && j?["service"]?.string == "d")
        #expect(try Services.list(f.store.db, zone: "service.local").map(\.name) == ["a", "b"])
    }

    @Test func severalDynamicZonesNeedTheZone() throws {
        let f = try Fixture("\nconfig zone\n\toption name 'infra.local'\n\toption dynamic '1'\n")
        #expect(f.call("PUT", "/v1/services/a", #"{"records":["10.0.0.1"]}"#).1?["field"]?.string == "zone")
        #expect(f.call("PUT", "/v1/services/a?zone=infra.local", #"{"records":["10.0.0.1"]}"#).0 == 200)
        #expect(f.call("PUT", "/v1/services/a.service.local", #"{"records":["10.0.0.2"]}"#).0 == 200)
        #expect(f.call("GET", "/v1/services").0 == 400)
        let (_, j) = f.call("GET", "/v1/services?zone=infra.local")
        #expect(j?["services"]?["a"]?["records"]?.array?.first?.string == "10.0.0.1")
        #expect(f.call("PUT", "/v1/services/a.service.local?zone=infra.local", #"{"records":["10.0.0.2"]}"#).0 == 400)
    }
}

@Suite struct AccessTests {
    @Test func allowListTokenRoutesAndMethods() throws {
        let f = try Fixture()
        #expect(f.api.respond(f.req("GET", "/v1/services", peer: "192.0.2.1")).status == 403)
        #expect(f.api.respond(f.req("GET", "/v1/services", token: nil)).status == 401)
        #expect(f.api.respond(f.req("GET", "/v1/services", token: "sekreT")).status == 401)
        #expect(f.api.respond(f.req("GET", "/v1/services", token: "sekret2")).status == 401)
        #expect(f.api.respond(f.req("GET", "/v1/nothing")).status == 404)
        let r = f.api.respond(f.req("POST", "/v1/services/a", "{}"))
        #expect(r.status == 405 && r.header("Allow") == "GET, PUT, DELETE")
        let big = f.api.respond(f.req("PUT", "/v1/services/a", String(repeating: " ", count: API.maxBody + 1)))
        #expect(big.status == 413)
        // The head alone is enough to refuse.
        var head = f.req("PUT", "/v1/state", nil, token: nil)
        head.headers.append(("content-length", "5000000"))
        #expect(f.api.precheck(head)?.status == 401)
        head = f.req("PUT", "/v1/state")
        head.headers.append(("content-length", "11000000"))
        #expect(f.api.precheck(head)?.status == 413)
        head = f.req("PUT", "/v1/services/a")
        head.headers.append(("content-length", "5000000"))
        #expect(f.api.precheck(head)?.status == 413)
        head = f.req("PUT", "/v1/state")
        head.headers.append(("content-length", "5000000"))
        #expect(f.api.precheck(head) == nil)
        #expect(API.constantTimeEquals("abc", "abc") && !API.constantTimeEquals("abc", "abd") && !API.constantTimeEquals("abc", "ab"))
    }

    @Test func writesAreRateLimitedAndRecover() throws {
        let f = try Fixture(rate: 5)
        var statuses: [Int] = []
        for i in 0..<8 { statuses.append(f.call("PUT", "/v1/services/s\(i)", #"{"records":["10.0.0.1"]}"#).0) }
        #expect(statuses == [200, 200, 200, 200, 200, 429, 429, 429])
        let limited = f.api.respond(f.req("PUT", "/v1/services/x", #"{"records":["10.0.0.1"]}"#))
        #expect(limited.status == 429 && limited.header("Retry-After") == "1")
        #expect(f.call("GET", "/v1/services").0 == 200)  // reads are not limited
        f.now += 400_000_000
        #expect(f.call("PUT", "/v1/services/y", #"{"records":["10.0.0.1"]}"#).0 == 200)
        #expect(f.call("PUT", "/v1/services/z", #"{"records":["10.0.0.1"]}"#).0 == 200)
        #expect(f.call("PUT", "/v1/services/w", #"{"records":["10.0.0.1"]}"#).0 == 429)
        #expect(f.api.writes["/v1/services/{name} 429"] == 5)
    }

    @Test func aBatchCommitsEachWriteOnItsOwn() throws {
        let f = try Fixture()
        var jobs: [API.Job] = []
        for (name, addr) in [("a", "10.0.0.1"), ("b", "bad"), ("c", "10.0.0.3")] {
            guard case .write(let j) = f.api.begin(f.req("PUT", "/v1/services/\(name)", "{\"records\":[\"\(addr)\"]}")) else {
                Issue.record("not a write"); return
            }
            jobs.append(j)
        }
        let g = try f.store.generation()
        let out = f.api.commit(jobs)
        #expect(out.map(\.status) == [200, 400, 200])
        #expect(try Services.list(f.store.db, zone: "service.local").map(\.name) == ["a", "c"])
        #expect(try f.store.generation() == g + 1)
        #expect(f.commits == 1)
        // A batch that changes nothing moves no generation.
        guard case .write(let bad) = f.api.begin(f.req("DELETE", "/v1/services/nope")) else { Issue.record("not a write"); return }
        #expect(f.api.commit([bad]).map(\.status) == [404])
        #expect(try f.store.generation() == g + 1 && f.commits == 1)
    }
}

@Suite struct ZoneRESTTests {
    @Test func zonesRecordsSerialAndConflicts() throws {
        let f = try Fixture()
        var (st, j) = f.call("POST", "/api/v1/zones", #"{"name":"Example.COM","default_ttl":300,"soa":{"mname":"ns.example.com","rname":"admin.example.com"}}"#)
        #expect(st == 201 && j?["id"]?.string == "example.com" && j?["soa"]?["mname"]?.string == "ns.example.com")
        #expect(f.call("POST", "/api/v1/zones", #"{"name":"example.com"}"#).0 == 409)
        #expect(f.call("POST", "/api/v1/zones", #"{"name":"static.lan"}"#).0 == 409)
        let serial0 = try Zones.get(f.store.db, "example.com")!.serial!
        let bodies = [
            #"{"name":"www","type":"A","data":"192.0.2.1"}"#,
            #"{"name":"www","type":"AAAA","data":"2001:db8::1"}"#,
            #"{"name":"alias","type":"CNAME","data":"www.example.com"}"#,
            #"{"name":"@","type":"MX","data":{"preference":10,"exchange":"mail.example.com"}}"#,
            #"{"name":"sub","type":"NS","data":"ns.other.net"}"#,
            #"{"name":"_sip._tcp","type":"SRV","ttl":60,"data":{"priority":1,"weight":2,"port":5060,"target":"sip.example.com"}}"#,
            #"{"name":"txt.example.com","type":"TXT","data":"v=spf1 \"quoted\" ~all"}"#,
            #"{"name":"@","type":"CAA","data":{"flags":0,"tag":"issue","value":"letsencrypt.org"}}"#,
        ]
        var ids: [Int] = []
        for b in bodies {
            (st, j) = f.call("POST", "/api/v1/zones/example.com/records", b)
            #expect(st == 201, "\(b): \(j?.serialized ?? "")")
            ids.append(j?["id"]?.int ?? -1)
        }
        // The data comes back in the form it was given.
        (st, j) = f.call("GET", "/api/v1/zones/example.com/records/\(ids[6])")
        #expect(j?["data"]?.string == "v=spf1 \"quoted\" ~all" && j?["fqdn"]?.string == "txt.example.com" && j?["name"]?.string == "txt")
        (st, j) = f.call("GET", "/api/v1/zones/example.com/records/\(ids[5])")
        #expect(j?["data"]?["port"]?.int == 5060 && j?["ttl"]?.int == 60)
        // Idempotent create.
        (st, j) = f.call("POST", "/api/v1/zones/example.com/records", #"{"name":"www.example.com.","type":"A","data":"192.0.2.1"}"#)
        #expect(st == 200 && j?["id"]?.int == ids[0])
        // A CNAME next to other data would break the zone: refused, nothing stored.
        (st, j) = f.call("POST", "/api/v1/zones/example.com/records", #"{"name":"www","type":"CNAME","data":"x.example.com"}"#)
        #expect(st == 400)
        #expect(try Zones.records(f.store.db, zone: "example.com").total == bodies.count)
        // Pagination.
        (st, j) = f.call("GET", "/api/v1/zones/example.com/records?offset=2&limit=3")
        #expect(j?["records"]?.array?.count == 3 && j?["total"]?.int == bodies.count && j?["records"]?.array?.first?["id"]?.int == ids[2])
        #expect(f.call("GET", "/api/v1/zones/example.com/records?limit=1001").0 == 400)
        (st, j) = f.call("GET", "/api/v1/zones/example.com/records?name=www&type=aaaa")
        #expect(j?["total"]?.int == 1)
        // Update and delete.
        (st, j) = f.call("PUT", "/api/v1/zones/example.com/records/\(ids[0])", #"{"name":"www","type":"A","data":"192.0.2.9"}"#)
        #expect(st == 200 && j?["data"]?.string == "192.0.2.9")
        #expect(f.call("DELETE", "/api/v1/zones/example.com/records/\(ids[1])").0 == 204)
        #expect(f.call("DELETE", "/api/v1/zones/example.com/records/\(ids[1])").0 == 404)
        let serial1 = try Zones.get(f.store.db, "example.com")!.serial!
        #expect(serial1 > serial0)
        // Config zones are read-only.
        #expect(f.call("POST", "/api/v1/zones/static.lan/records", #"{"type":"A","data":"192.0.2.1"}"#).0 == 409)
        #expect(f.call("DELETE", "/api/v1/zones/static.lan").0 == 409)
        (st, j) = f.call("GET", "/api/v1/zones")
        #expect(j?["total"]?.int == 3)
        #expect(j?["zones"]?.array?.map { $0["source"]?.string ?? "" } == ["api", "config", "config"])
        #expect(f.call("DELETE", "/api/v1/zones/example.com").0 == 204)
        #expect(f.call("GET", "/api/v1/zones/example.com").0 == 404)
    }

    @Test func ptrGoesIntoTheReverseZone() throws {
        let f = try Fixture()
        _ = f.call("POST", "/api/v1/zones", #"{"name":"example.com"}"#)
        #expect(f.call("POST", "/api/v1/zones/example.com/records", #"{"name":"h","type":"A","data":"192.0.2.7","ptr":true}"#).1?["field"]?.string == "ptr")
        _ = f.call("POST", "/api/v1/zones", #"{"name":"2.0.192.in-addr.arpa"}"#)
        #expect(f.call("POST", "/api/v1/zones/example.com/records", #"{"name":"h","type":"A","data":"192.0.2.7","ptr":true}"#).0 == 201)
        let ptrs = try Zones.records(f.store.db, zone: "2.0.192.in-addr.arpa").records
        #expect(ptrs.map(\.name) == ["7"] && ptrs.first?.value == "h.example.com.")
        #expect(RecordData.reverseName(IPAddress("2001:db8::1")!).hasPrefix("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"))
    }

    @Test func healthAndMetrics() throws {
        let f = try Fixture()
        f.api.status = { applet in applet == "dnsd" ? "ok applet=dnsd rcode_noerror=5 qtype_a=4 cache_hits=2 upstream_latency_us=1500 store_generation=3" : nil }
        _ = f.call("PUT", "/v1/services/a", #"{"records":["10.0.0.1"]}"#)
        let (st, j) = f.call("GET", "/api/v1/health")
        #expect(st == 200 && j?["status"]?.string == "ok" && j?["zones"]?.int == 2)
        let m = String(decoding: f.api.respond(f.req("GET", "/metrics")).body, as: UTF8.self)
        #expect(m.contains("dnsbox_dns_queries_total{rcode=\"noerror\"} 5\n"))
        #expect(m.contains("dnsbox_dns_queries_by_type_total{type=\"A\"} 4\n"))
        #expect(m.contains("dnsbox_upstream_latency_seconds 0.001500\n"))
        #expect(m.contains("dnsbox_api_writes_total{route=\"/v1/services/{name}\",status=\"200\"} 1\n"))
        #expect(m.contains("dnsbox_applet_up{applet=\"dnsd\"} 1\n"))
    }
}
