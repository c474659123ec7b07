import CSQLite

/// An SQLite failure: the result code, SQLite's message and what was being done.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// SQLite's (extended) result code.
    public var code: Int32
    /// SQLite's message.
    public var message: String
    /// What was being done (`open /x/state.db`, `step INSERT ...`).
    public var context: String

    /// Creates an error.
    public init(code: Int32, message: String, context: String) {
        self.code = code
        self.message = message
        self.context = context
    }

    /// `sqlite error 5 (database is locked) during step ...`.
    public var description: String { "sqlite error \(code) (\(message)) during \(context)" }
}

/// A small hand-written wrapper over one SQLite connection (not thread-safe: callers serialise).
///
/// Opens in WAL mode with `synchronous=FULL`, a busy timeout and foreign keys on; a committed
/// transaction survives the process being SIGKILLed at any point.
final class SQLiteDatabase {
    private(set) var handle: OpaquePointer?
    let path: String
    private var statements: [String: SQLiteStatement] = [:]

    /// Opens (creating when missing) the database at `path`.
    init(path: String, busyTimeoutMilliseconds: Int32 = 10_000) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message, context: "open \(path)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// An error for result code `rc` with SQLite's current message.
    func error(_ rc: Int32, context: String) -> SQLiteError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return SQLiteError(code: rc, message: message, context: context)
    }

    /// Runs one or more statements without parameters or results (schema, pragmas).
    func execute(_ sql: String) throws(SQLiteError) {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        defer { sqlite3_free(errmsg) }
        guard rc == SQLITE_OK else {
            let message = errmsg.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            throw SQLiteError(code: rc, message: message, context: "exec \(sql.prefix(60))")
        }
    }

    /// A cached prepared statement for `sql`.
    private func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let s = statements[sql] { return s }
        let s = try SQLiteStatement(database: self, sql: sql)
        statements[sql] = s
        return s
    }

    /// Runs a statement with parameters to completion; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> Int {
        let s = try statement(sql)
        defer { s.reset() }
        try s.bind(values)
        while try s.step() {}
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and returns every row.
    func query(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> [SQLiteRow] {
        let s = try statement(sql)
        defer { s.reset() }
        try s.bind(values)
        var rows: [SQLiteRow] = []
        while try s.step() { rows.append(s.row()) }
        return rows
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// `PRAGMA user_version`: the schema version.
    func userVersion() throws(SQLiteError) -> Int {
        Int(try query("PRAGMA user_version").first?["user_version"].int64 ?? 0)
    }

    /// Sets `PRAGMA user_version` (inside the caller's transaction).
    func setUserVersion(_ v: Int) throws(SQLiteError) {
        try execute("PRAGMA user_version = \(v)")
    }
}
