"""dhcpd: real DHCP clients and crafted packets in network namespaces."""
