"""ifaces: rtnetlink (addresses, links, watch) against iproute2."""
