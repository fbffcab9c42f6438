"""The zone the `authoritative` dnsd (conftest.py) serves to the conformance testers."""

ZONE_NAME = "example.com"
NS_NAME = "ns1.example.com"

# A DNSKEY RRset (unsigned: dnsd does not sign) bigger than 512 bytes, so the
# DNSKEY tests see dnsd truncate over UDP and answer in full over TCP. dnsd
# reads DNSKEY in the generic form (RFC 3597): flags, protocol 3, algorithm 8,
# a 256-byte key.
_KEY = bytes(range(256))
_DNSKEY = ["\\# %d %s" % (4 + len(_KEY), (flags.to_bytes(2, "big") + bytes([3, 8]) + _KEY).hex())
           for flags in (256, 257)]

ZONE = f"""$TTL 300
@        IN SOA  ns1 hostmaster 2024010101 3600 600 1209600 60
@        IN NS   ns1
@        IN A    192.0.2.1
@        IN AAAA 2001:db8::1
@        IN MX   10 mail
@        IN TXT  "v=spf1 -all"
@        IN DNSKEY {_DNSKEY[0]}
@        IN DNSKEY {_DNSKEY[1]}
ns1      IN A    192.0.2.53
ns1      IN AAAA 2001:db8::53
www      IN A    192.0.2.1
www      IN AAAA 2001:db8::1
mail     IN A    192.0.2.25
mail     IN AAAA 2001:db8::25
"""
