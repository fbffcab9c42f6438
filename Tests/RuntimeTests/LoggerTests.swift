import Testing
@testable import Runtime
import Sys

@Suite struct LoggerTests {
    @Test func textLinesCarryLevelAppletPidAndQuotedFields() {
        let l = Logger(applet: "dnsd")
        let line = l.render(.warn, "upstream slow", [("server", "9.9.9.9"), ("note", "two words"), ("empty", "")], timestamp: "T")
        #expect(line == "T warn dnsd[\(Sys.pid)]: upstream slow server=9.9.9.9 note=\"two words\" empty=\"\"")
    }

    @Test func jsonLinesEscapeEverything() {
        let l = Logger(applet: "api", format: .json)
        let line = l.render(.error, "bad \"x\"\n", [("path", "a\\b\u{1}")], timestamp: "2026-01-01T00:00:00.000Z")
        #expect(line == "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"level\":\"error\",\"applet\":\"api\",\"pid\":\(Sys.pid),\"msg\":\"bad \\\"x\\\"\\n\",\"path\":\"a\\\\b\\u0001\"}")
    }

    @Test func levelsBelowTheThresholdAreDropped() {
        let l = Logger(applet: "x", level: .warn)
        var lines: [String] = []
        l.sink = { _, line in lines.append(line) }
        l.info("no")
        l.debug("no")
        l.warn("yes")
        l.error("yes")
        #expect(lines.count == 2)
    }

    @Test func timestampsAreRFC3339UTC() {
        #expect(Logger.timestamp(0) == "1970-01-01T00:00:00.000Z")
        #expect(Logger.timestamp(951_782_400_123_000_000) == "2000-02-29T00:00:00.123Z")
        #expect(Logger.timestamp(1_795_305_600_000_000_000) == "2026-11-22T00:00:00.000Z")
        #expect(Logger.timestamp(4_102_444_799_999_000_000) == "2099-12-31T23:59:59.999Z")
    }

    @Test func levelNamesRoundTrip() {
        for l in [LogLevel.debug, .info, .warn, .error] { #expect(LogLevel(name: l.name) == l) }
        #expect(LogLevel(name: "verbose") == nil)
    }
}
