"""api: apictl, the HTTP API (services, zones and records, access and limits, CGI, durability, metrics)."""
