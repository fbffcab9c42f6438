// swift-tools-version:6.0
// Host build of dnsbox. The firmware build (Embedded Swift, static musl) compiles
// the same Sources/ modules with swiftc directly: see Makefile and scripts/firmware.sh.
import PackageDescription

let package = Package(
    name: "dnsbox",
    products: [
        .executable(name: "dnsbox", targets: ["dnsbox"]),
    ],
    targets: [
        // The one C module: libc differences, awkward macros, rtnetlink, libcap, sqlite glue.
        .target(
            name: "CShim",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("sqlite3"), .linkedLibrary("cap")]
        ),
        // Thin syscall wrappers with typed errors.
        .target(name: "Sys", dependencies: ["CShim"]),
        // Event loop, timers, signals, control socket, logging.
        .target(name: "Runtime", dependencies: ["Sys", "CShim"]),
        // UCI grammar, schema, validation. Pure: no I/O.
        .target(name: "Config"),
        // DNS wire format: messages, names, RDATA, EDNS, presentation. Pure: no I/O.
        .target(name: "DNS"),
        // RFC 1035 master files: parser ($ORIGIN, $TTL, $INCLUDE) and writer. Pure: no I/O.
        .target(name: "Zone", dependencies: ["DNS"]),
        // Authoritative answering (RFC 1034 §4.3.2) over a compiled snapshot. Sans-I/O.
        .target(name: "Authority", dependencies: ["DNS", "Zone"]),
        // Forwarding: the answer order, the shared cache, upstream selection. Sans-I/O
        // (Sys only for the cache's mutexes and socket addresses).
        .target(name: "Resolver", dependencies: ["DNS", "Authority", "Sys"]),
        // DHCPv4 wire format and the server's decisions (leases, address choice). Pure: no I/O.
        .target(name: "DHCP"),
        // SQLite state store.
        .target(name: "Store", dependencies: ["Sys", "CShim"]),
        // HTTP/1.1 request parsing, responses and JSON for the API. Pure: no I/O.
        .target(name: "HTTP"),
        // The API's handlers: request in, response out (the store is its only I/O).
        .target(name: "API", dependencies: ["HTTP", "Store", "Config", "DNS", "Zone", "Sys"]),
        // Applet table, dispatch, init and the CLI commands.
        .target(name: "Applets", dependencies: ["Sys", "Runtime", "Config", "Store", "DNS", "Zone", "Authority", "Resolver", "DHCP", "HTTP", "API"]),
        .executableTarget(name: "dnsbox", dependencies: ["Applets"]),

        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "DNSTests", dependencies: ["DNS", "AllocCounter"]),
        .testTarget(name: "ZoneTests", dependencies: ["Zone", "DNS"], exclude: ["Fixtures"]),
        .testTarget(name: "AuthorityTests", dependencies: ["Authority", "DNS", "Zone", "AllocCounter"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Sys"]),
        .testTarget(name: "DHCPTests", dependencies: ["DHCP"]),
        .testTarget(name: "APITests", dependencies: ["API", "HTTP", "Store", "Config", "Sys"]),
        .testTarget(name: "ResolverTests", dependencies: ["Resolver", "Authority", "DNS", "Zone", "Sys", "AllocCounter"]),
        // Test-only malloc interposer: proves hot paths allocate nothing.
        .target(name: "AllocCounter", path: "Tests/AllocCounter"),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Sys", "AllocCounter"]),
        .testTarget(name: "AppletsTests", dependencies: ["Applets", "Config", "DNS", "Sys", "Runtime", "Store", "Zone", "Resolver", "AllocCounter"]),
    ],
    // Swift 5 language mode: the firmware build compiles the same files with
    // plain swiftc, and process-wide state (the logger) is single-threaded by design.
    swiftLanguageModes: [.v5]
)
