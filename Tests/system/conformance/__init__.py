"""conformance: dnsd judged by other projects' protocol compliance testers (ISC's genreport)."""
