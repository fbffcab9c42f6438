"""dhcpd answering crafted packets (dhcp_probe.py beside this file) in network
namespaces: PXE boot files, an exhausted pool, DECLINE, foreign server
identifiers, malformed input, and a relay served from its subnet's pool.
Nothing leaves the namespaces."""
import sqlite3

from dhcpd.lan import SERVER, opt


def test_pxe_boot_files_by_architecture_and_ipxe(lan):
    lan.config(dhcp_extra="\toption next_server '192.168.77.5'\n\toption boot_file 'pxelinux.0'\n"
                          "\toption boot_file_efi 'grubx64.efi'\n\toption ipxe_boot_url 'http://192.168.77.5/boot.ipxe'\n"
                          "\tlist option '42,192.168.77.1'\n")
    lan.start("dhcpd")
    bios, efi, ipxe = (lan.probe([{"type": 1, "mac": f"02:00:00:00:01:0{i}", "xid": i, "options": o}])[0]
                       for i, o in ((1, {}), (2, {"93": "0007"}), (3, {"77": "0469505845"})))
    assert bios["type"] == 2 and opt(bios, 67) == b"pxelinux.0" and bios["file"] == "pxelinux.0"
    assert bios["siaddr"] == "192.168.77.5" and opt(bios, 66) == b"192.168.77.5"
    assert opt(efi, 67) == b"grubx64.efi"
    assert opt(ipxe, 67) == b"http://192.168.77.5/boot.ipxe"
    assert opt(bios, 42) == bytes([192, 168, 77, 1])
    # Option 119 (RFC 3397), T1/T2 and the server identifier.
    assert opt(bios, 119) == b"\x03lan\x00" and opt(bios, 54) == bytes([192, 168, 77, 1])
    assert int.from_bytes(opt(bios, 58), "big") == 1800 and int.from_bytes(opt(bios, 59), "big") == 3150


def test_exhausted_pool_decline_foreign_server_and_malformed_packets(lan):
    lan.config(dhcp_extra="\toption limit '2'\n")
    lan.start("dhcpd")
    a = lan.probe([{"type": 1, "mac": "02:00:00:00:02:01", "xid": 1}])[0]["yiaddr"]
    b = lan.probe([{"type": 1, "mac": "02:00:00:00:02:02", "xid": 2}])[0]["yiaddr"]
    assert a != b
    # Both addresses are offered: a third client gets nothing, and the log says why.
    assert lan.probe([{"type": 1, "mac": "02:00:00:00:02:03", "xid": 3}], wait=1.0) == []
    assert "pool exhausted" in lan.dnsbox.log("dhcpd")
    # A REQUEST naming another server is ignored (no reply) and frees the offer.
    assert lan.probe([{"type": 3, "mac": "02:00:00:00:02:01", "xid": 4,
                       "options": {"54": "c0a84d02", "50": bytes(map(int, a.split("."))).hex()}}], wait=1.0) == []
    c = lan.probe([{"type": 1, "mac": "02:00:00:00:02:03", "xid": 5}])
    assert [r["yiaddr"] for r in c] == [a]
    # DECLINE: that address is held; the client is offered another one.
    req = {"type": 3, "mac": "02:00:00:00:02:03", "xid": 6, "options": {"54": "c0a84d01", "50": bytes(map(int, a.split("."))).hex()}}
    assert lan.probe([req])[0]["type"] == 5
    lan.probe([{"type": 4, "mac": "02:00:00:00:02:03", "xid": 7,
                "options": {"54": "c0a84d01", "50": bytes(map(int, a.split("."))).hex()}}], wait=0.3)
    # Pool of 2: a declined, b offered to .02 → nothing left for .03 now.
    assert lan.probe([{"type": 1, "mac": "02:00:00:00:02:03", "xid": 8}], wait=1.0) == []
    # Malformed packets are dropped with a log line; the server goes on serving.
    lan.probe([{"raw": "0101"}, {"raw": "01010600" + "00" * 232 + "63825363" + "3505"},
               {"raw": "01010600" + "00" * 232 + "deadbeef"}], wait=0.3)
    log = lan.dnsbox.log("dhcpd")
    assert log.count("dropped a malformed packet") >= 2, log[-2000:]
    assert lan.probe([{"type": 1, "mac": "02:00:00:00:02:02", "xid": 9}])[0]["yiaddr"] == b


def test_two_dhcp_sections_and_a_relay_served_from_its_subnets_pool(lan):
    """A second `config dhcp` on another interface (192.168.78.1/24):
    a relayed DISCOVER whose giaddr is in that subnet gets an address from its
    pool, with that interface's address as server identifier, sent back to the
    relay (port 67) even though it came in on `vs`; a giaddr in no served
    subnet gets nothing; the first interface still serves its own clients."""
    ns = lan.netns
    # (No dummy driver everywhere: a veth pair with both ends in the server's namespace.)
    ns.exec(lan.srv, "ip", "link", "add", "vs2", "type", "veth", "peer", "name", "vs2p")
    ns.exec(lan.srv, "ip", "addr", "add", "192.168.78.1/24", "dev", "vs2")
    ns.exec(lan.srv, "ip", "link", "set", "vs2p", "up")
    ns.exec(lan.srv, "ip", "link", "set", "vs2", "up")
    # The client namespace plays the relay agent 192.168.78.254, reached over vs.
    ns.exec(lan.cli, "ip", "addr", "add", "192.168.77.2/24", "dev", "vc")
    ns.exec(lan.cli, "ip", "addr", "add", "192.168.78.254/32", "dev", "vc")
    ns.exec(lan.srv, "ip", "route", "add", "192.168.78.254/32", "via", "192.168.77.2", "dev", "vs")
    lan.config(rest="config dhcp 'lab'\n\toption interface 'vs2'\n\toption start '100'\n\toption limit '20'\n"
                    "\toption leasetime '1h'\n")
    lan.start("dhcpd")
    st = lan.ctl("dhcpd", "status")
    assert "interfaces=2" in st, st
    relayed = {"type": 1, "mac": "02:00:00:00:78:01", "giaddr": "192.168.78.254", "to": SERVER, "broadcast": False}
    replies = lan.probe([relayed], port=67)
    assert len(replies) == 1 and replies[0]["type"] == 2, replies
    offer = replies[0]
    assert offer["yiaddr"].startswith("192.168.78.") and 100 <= int(offer["yiaddr"].split(".")[3]) < 120, offer
    assert opt(offer, 54) == bytes([192, 168, 78, 1]), offer
    # REQUEST through the relay: ACKed and stored under the second interface.
    req = dict(relayed, type=3, options={"50": bytes(map(int, offer["yiaddr"].split("."))).hex(), "54": "c0a84e01"})
    replies = lan.probe([req], port=67)
    assert [r["type"] for r in replies] == [5] and replies[0]["yiaddr"] == offer["yiaddr"], replies
    with sqlite3.connect(lan.dnsbox.database) as db:
        rows = db.execute("SELECT interface, state FROM leases WHERE address = ?", (offer["yiaddr"],)).fetchall()
    assert rows == [("vs2", 2)], rows
    # A relay in a subnet no section serves: nothing.
    assert lan.probe([dict(relayed, mac="02:00:00:00:78:02", giaddr="10.9.9.9")], wait=1.0, port=67) == []
    assert "no pool for the relay's subnet" in lan.dnsbox.log("dhcpd")
    # The first section still serves its own clients.
    ns.exec(lan.cli, "ip", "addr", "flush", "dev", "vc")
    replies = lan.probe([{"type": 1, "mac": "02:00:00:00:77:09"}])
    assert len(replies) == 1 and replies[0]["yiaddr"].startswith("192.168.77."), replies
