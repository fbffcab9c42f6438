// swift-tools-version:6.0
// Host build of dnsbox, and the one list of its modules: the firmware build
// (Embedded Swift, static musl; scripts/firmware.sh) reads the product
// modules and their order from this file (`swift package dump-package`).
import PackageDescription

let package = Package(
    name: "dnsbox",
    products: [
        .executable(name: "dnsbox", targets: ["dnsbox"]),
    ],
    targets: [
        // The one C module: libc differences, awkward macros, rtnetlink, capabilities, sqlite glue.
        .target(
            name: "CShim",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),
        // Pure building blocks: the bounds-checked wire reader, backoff, token bucket, text forms.
        .target(name: "Core"),
        // Thin syscall wrappers with typed errors; socket addresses and prefix sets.
        .target(name: "Sys", dependencies: ["CShim"]),
        // Event loop, timer heap, signals, control socket, interface watcher, logging.
        .target(name: "Runtime", dependencies: ["Sys", "CShim"]),
        // UCI grammar, schema, validation, typed sections. Pure: no I/O.
        .target(name: "Config", dependencies: ["Core"]),
        // DNS wire format: messages, names, RDATA, EDNS, presentation, TCP framing. Pure: no I/O.
        .target(name: "DNS", dependencies: ["Core"]),
        // RFC 1035 master files: parser ($ORIGIN, $TTL, $INCLUDE) and writer. Pure: no I/O.
        .target(name: "Zone", dependencies: ["DNS"]),
        // Authoritative answering (RFC 1034 §4.3.2), transfers and their admission. Sans-I/O.
        .target(name: "Authority", dependencies: ["DNS", "Zone", "Sys"]),
        // Forwarding: the answer order, the shared cache, the forwarding engine. Sans-I/O
        // (Sys only for the cache's mutexes and socket addresses).
        .target(name: "Resolver", dependencies: ["DNS", "Authority", "Sys", "Core"]),
        // DHCPv4 wire format and the server's decisions (leases, address choice). Pure: no I/O.
        .target(name: "DHCP", dependencies: ["Core"]),
        // SQLite state store.
        .target(name: "Store", dependencies: ["Sys", "CShim"]),
        // HTTP/1.1 request parsing, responses and JSON. Pure: no I/O.
        .target(name: "HTTP", dependencies: ["Core"]),
        // The shared service host: Service, main, store handle, stream and HTTP servers, pacing, typed status.
        .target(name: "Daemon", dependencies: ["Core", "Sys", "Runtime", "Config", "Store", "HTTP"]),
        // The API's handlers: request in, response out (the store is its only I/O).
        .target(name: "API", dependencies: ["HTTP", "Store", "Config", "DNS", "Zone", "Sys", "Core", "Daemon"]),
        // One module per applet: its Service and its sockets.
        .target(name: "Dnsd", dependencies: ["Daemon", "Runtime", "Sys", "Config", "Store", "DNS", "Zone", "Authority", "Resolver", "Core", "CShim"]),
        .target(name: "Dhcpd", dependencies: ["Daemon", "Runtime", "Sys", "Config", "Store", "DHCP", "Core"]),
        .target(name: "Apictl", dependencies: ["Daemon", "API", "HTTP", "Runtime", "Sys", "Config", "Store"]),
        .target(name: "Init", dependencies: ["Daemon", "Runtime", "Sys", "Config", "Store", "Core"]),
        // check-config, show-config, install, db, ctl, ifaces.
        .target(name: "Commands", dependencies: ["Daemon", "Runtime", "Sys", "Config", "Store", "Core"]),
        // The applet table and dispatch, nothing else.
        .target(name: "Applets", dependencies: ["Daemon", "Commands", "Dnsd", "Dhcpd", "Apictl", "Init", "Sys", "Config"]),
        .executableTarget(name: "dnsbox", dependencies: ["Applets"]),

        .testTarget(name: "CoreTests", dependencies: ["Core"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "DNSTests", dependencies: ["DNS", "AllocCounter"]),
        .testTarget(name: "ZoneTests", dependencies: ["Zone", "DNS"], exclude: ["Fixtures"]),
        .testTarget(name: "AuthorityTests", dependencies: ["Authority", "DNS", "Zone", "Sys", "AllocCounter"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Sys"]),
        .testTarget(name: "DHCPTests", dependencies: ["DHCP"]),
        .testTarget(name: "APITests", dependencies: ["API", "HTTP", "Store", "Config", "Sys", "Daemon"]),
        .testTarget(name: "ResolverTests", dependencies: ["Resolver", "Authority", "DNS", "Zone", "Sys", "AllocCounter"]),
        // Test-only malloc interposer: proves hot paths allocate nothing.
        .target(name: "AllocCounter", path: "Tests/AllocCounter"),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Sys", "AllocCounter"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "Runtime", "Sys", "Config", "HTTP"]),
        .testTarget(name: "DnsdTests", dependencies: ["Dnsd", "Daemon", "Config", "DNS", "Sys", "Runtime", "Store", "Zone",
                                                     "Resolver", "Authority", "AllocCounter"]),
        .testTarget(name: "AppletsTests", dependencies: ["Applets", "Daemon", "Config", "Init"]),
    ],
    // Swift 5 language mode: the firmware build compiles the same files with
    // plain swiftc, and process-wide state (the logger) is single-threaded by design.
    swiftLanguageModes: [.v5]
)
