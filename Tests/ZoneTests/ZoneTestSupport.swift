// Shared helpers of the zone tests: fixtures read from disk (Foundation is
// fine in tests), in-memory parsing, and the real-world checkers
// (named-checkzone, kzonecheck) run on text the writer produced.

import DNS
import Foundation
@testable import Zone

enum Fixtures {
    /// Tests/ZoneTests/Fixtures, found from this file's path.
    static let directory: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    /// A `readFile` for Zone.load: plain file reads.
    static func read(_ path: String) -> [UInt8]? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return [UInt8](d)
    }

    /// Loads `Fixtures/NAME.zone` as zone NAME, $INCLUDE limited to Fixtures.
    static func load(_ name: String) throws -> Zone {
        try Zone.load(file: directory + "/" + name + ".zone", origin: try DomainName(name + "."),
                      directory: directory, readFile: read)
    }

    static let zoneNames = ["example.com", "example.org", "2.0.192.in-addr.arpa", "realworld.net"]
}

/// Parses `text` as zone `origin` from the pretend file "z.zone", with
/// `files` as the only other readable files (paths under "/zones").
func parseZone(_ text: String, origin: String = "example.com.", defaultTTL: UInt32? = nil,
               files: [String: String] = [:]) throws(ZoneError) -> Zone {
    let o: DomainName
    do { o = try DomainName(origin) } catch { fatalError("bad test origin") }
    return try Zone.parse(Array(text.utf8), file: "z.zone", origin: o, directory: "/zones",
                          defaultTTL: defaultTTL, readFile: { files[$0].map { Array($0.utf8) } })
}

/// The error `parseZone` throws, or nil when it parses.
func zoneError(_ text: String, files: [String: String] = [:]) -> ZoneError? {
    do {
        _ = try parseZone(text, files: files)
        return nil
    } catch {
        return error
    }
}

/// A minimal SOA + NS head for error tests: lines 1–2.
let head = "@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\n"

/// The real-world zone checkers, found on PATH or in /usr/sbin.
enum Checker {
    static func find(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin"] {
            let p = dir + "/" + tool
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static let namedCheckzone = find("named-checkzone")
    static let kzonecheck = find("kzonecheck")

    /// Writes `text` to a temporary file and runs `tool` on it for zone
    /// `origin`; returns (exit status, combined output).
    static func run(_ tool: String, origin: String, text: String) throws -> (Int32, String) {
        // One directory per run: tests run in parallel.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zonetests-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent(origin + "zone")
        try Data(text.utf8).write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = tool.hasSuffix("kzonecheck")
            ? ["-o", origin, file.path]
            : ["-k", "fail", origin, file.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self))
    }
}
