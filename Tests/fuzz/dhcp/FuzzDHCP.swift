// libFuzzer target for the DHCPv4 decoder and the server's decisions
// (issue 6). Built by scripts/fuzz.sh with Sources/DHCP/*.swift as one
// module. For every input:
// - decoding returns or throws, never traps;
// - an accepted message encodes (up to 64 KB) into one that decodes, with
//   every option except overload (52) unchanged;
// - the engine, given the message as a request, decides without trapping,
//   and any reply it makes encodes within the client's size and decodes.
// A broken invariant calls fatalError, which libFuzzer reports as a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzDHCP.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

enum FuzzDHCP {
    static let engine: DHCPEngine = {
        var p = DHCPPool(serverAddress: 0xC0A8_0101, prefixLength: 24, first: 0xC0A8_0164, count: 8)
        p.search = ["lan", "home.lan"]
        p.domain = "lan"
        p.nextServer = 0xC0A8_0105
        p.bootFile = "pxelinux.0"
        p.bootFileEFI = "grubx64.efi"
        p.ipxeURL = "http://192.168.1.5/boot.ipxe"
        p.reservations = [DHCPPool.Reservation(macs: [[0xAA, 0xBB, 0xCC, 0, 0, 0x50]], address: 0xC0A8_0132, name: "server1")]
        return DHCPEngine(pool: p)
    }()
    static var clock: UInt64 = 1000

    static func fail(_ what: String, _ b: [UInt8]) -> Never {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        var hex = ""
        for x in b.prefix(600) {
            hex.append(digits[Int(x >> 4)])
            hex.append(digits[Int(x & 15)])
        }
        fatalError("invariant broken: \(what); input \(hex)")
    }

    static func run(_ b: [UInt8]) {
        guard let m = try? DHCPMessage.decode(b) else { return }
        let again = m.encode(maxSize: 65535)
        guard let d = try? DHCPMessage.decode(again) else { fail("re-encoded message does not decode", b) }
        for o in m.options where o.code != DHCPOption.overload {
            if d.option(o.code) != o.value { fail("option \(o.code) changed in a round trip", b) }
        }
        if d.xid != m.xid || d.chaddr != m.chaddr || d.flags != m.flags { fail("fixed fields changed", b) }
        clock += 7
        var req = m
        req.op = 1
        let out = engine.handle(req, now: clock)
        if let r = out.reply {
            let bytes = r.encode(maxSize: req.maxMessageSize)
            if bytes.count > max(576, req.maxMessageSize) { fail("reply larger than the client allows", b) }
            guard let back = try? DHCPMessage.decode(bytes) else { fail("reply does not decode", b) }
            if back.messageType == nil { fail("reply lost its message type", b) }
        }
        // Keep the lease table small and moving.
        if clock % 500 < 7 { _ = engine.expire(now: clock + 100_000) }
    }
}
