#!/usr/bin/env bash
# Benchmarks run dnsbox side by side with its peers (NSD, Knot, unbound,
# dnsmasq, Kea) in one run and print ratios. There is nothing to measure yet:
# the protocol applets (dnsd first) are not in this build. This placeholder
# says so instead of printing numbers that mean nothing.
echo "bench: no benchmarks yet — dnsd (issue: authoritative DNS) brings the first one (dnsperf vs NSD/Knot)."
exit 0
