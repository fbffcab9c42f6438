import CShim
import Sys

/// A SQLite failure: what was being done, SQLite's result code and message.
public struct StoreError: Error, Equatable, CustomStringConvertible {
    public var op: String
    public var code: Int32
    public var message: String

    public init(_ op: String, code: Int32, message: String) {
        self.op = op
        self.code = code
        self.message = message
    }

    public var description: String { "\(op): \(message) (sqlite \(code))" }
    /// SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock.
    public var isBusy: Bool { code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED }
}

/// One SQLite connection. Not shared between threads: each thread (or
/// process) opens its own. Statements are prepared once and cached by SQL.
public final class Database {
    let db: OpaquePointer
    public let path: String
    private var cache: [String: Statement] = [:]

    /// Opens (creating when asked) the database at `path` in WAL mode with
    /// full sync, so a committed transaction survives kill -9 and power loss.
    public init(path: String, create: Bool = true, readOnly: Bool = false) throws(StoreError) {
        var handle: OpaquePointer?
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let h = handle else {
            let msg = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite3_close_v2(handle) }
            throw StoreError("open \(path)", code: rc, message: msg)
        }
        db = h
        self.path = path
        sqlite3_busy_timeout(db, 5000)
        sqlite3_extended_result_codes(db, 1)
        // The first statements are where a corrupt or foreign file shows up:
        // name the file in that error.
        // Switching a new file to WAL takes an exclusive lock that the busy
        // timeout does not cover: two applets opening a fresh database at
        // once retry here for up to 5 s instead of failing.
        var attempt = 0
        while true {
            do throws(StoreError) {
                if !readOnly { try exec("PRAGMA journal_mode=WAL") }
                try exec("PRAGMA synchronous=FULL")
                try exec("PRAGMA foreign_keys=ON")
                break
            } catch {
                attempt += 1
                if error.isBusy && attempt < 100 {
                    Sys.sleep(milliseconds: 50)
                    continue
                }
                throw StoreError("open \(path)", code: error.code, message: error.message)
            }
        }
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(db)
    }

    func error(_ op: String, _ rc: Int32) -> StoreError {
        StoreError(op, code: rc, message: String(cString: sqlite3_errmsg(db)))
    }

    /// Runs one or more statements that return no rows.
    public func exec(_ sql: String) throws(StoreError) {
        let rc = sqlite3_exec(db, sql, nil, nil, nil)
        if rc != SQLITE_OK { throw error(sql, rc) }
    }

    /// A cached prepared statement, reset and with bindings cleared.
    ///
    /// Contract: a caller that stops stepping before `step()` returned false
    /// must `reset()` it (use `defer`); an un-reset read statement keeps its
    /// read transaction open and pins this connection to an old snapshot.
    public func prepare(_ sql: String) throws(StoreError) -> Statement {
        if let s = cache[sql] {
            s.reset()
            return s
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error("prepare \(sql)", rc) }
        let s = Statement(stmt, db: self, sql: sql)
        cache[sql] = s
        return s
    }

    /// Runs `body` inside a read transaction (BEGIN … COMMIT): every read in
    /// it sees one committed state, and writers are not held up (WAL).
    public func readTransaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try run("BEGIN", body)
    }

    /// Runs `body` inside BEGIN IMMEDIATE … COMMIT; rolls back when it throws.
    /// When this returns, the transaction is durable.
    public func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try run("BEGIN IMMEDIATE", body)
    }

    private func run<T>(_ begin: String, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try exec(begin)
        do {
            let v = try body()
            try exec("COMMIT")
            return v
        } catch {
            _ = sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(db) }
    public var changes: Int { Int(sqlite3_changes(db)) }

    /// Runs `PRAGMA integrity_check`; returns "ok" or the first problems.
    public func integrityCheck() throws(StoreError) -> String {
        let s = try prepare("PRAGMA integrity_check")
        defer { s.reset() }
        var out: [String] = []
        while try s.step() { out.append(s.string(0) ?? "") }
        return out.joined(separator: "; ")
    }
}

/// A prepared statement. Bind parameters (1-based), step, read columns (0-based).
public final class Statement {
    let stmt: OpaquePointer
    unowned(unsafe) let db: Database
    public let sql: String

    init(_ stmt: OpaquePointer, db: Database, sql: String) {
        self.stmt = stmt
        self.db = db
        self.sql = sql
    }

    deinit { sqlite3_finalize(stmt) }

    public func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    @discardableResult
    public func bind(_ i: Int32, _ v: Int64) -> Statement { sqlite3_bind_int64(stmt, i, v); return self }
    @discardableResult
    public func bind(_ i: Int32, _ v: Int) -> Statement { bind(i, Int64(v)) }
    @discardableResult
    public func bind(_ i: Int32, _ v: String?) -> Statement {
        if var v {
            v.withUTF8 { b in
                _ = b.withMemoryRebound(to: CChar.self) { c in dx_sqlite_bind_text(stmt, i, c.baseAddress, Int32(c.count)) }
            }
        } else {
            sqlite3_bind_null(stmt, i)
        }
        return self
    }
    @discardableResult
    public func bind(_ i: Int32, blob: [UInt8]) -> Statement {
        blob.withUnsafeBytes { b in _ = dx_sqlite_bind_blob(stmt, i, b.baseAddress, Int32(b.count)) }
        return self
    }

    /// Advances: true when a row is available, false when done.
    public func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let e = db.error(sql, rc)
        sqlite3_reset(stmt)
        throw e
    }

    /// Steps to completion (for INSERT/UPDATE/DELETE).
    public func run() throws(StoreError) {
        while try step() {}
    }

    public func isNull(_ col: Int32) -> Bool { sqlite3_column_type(stmt, col) == SQLITE_NULL }
    public func int(_ col: Int32) -> Int64 { sqlite3_column_int64(stmt, col) }
    public func string(_ col: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, col) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, col))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }
    public func blob(_ col: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, col))
        guard n > 0, let p = sqlite3_column_blob(stmt, col) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}
