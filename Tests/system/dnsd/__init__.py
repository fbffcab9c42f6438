"""dnsd: authoritative answers, reload, forwarding, cache, fallback, zone transfers."""
