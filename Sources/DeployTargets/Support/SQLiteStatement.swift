import CSQLite

/// A value bound to or read from an SQLite statement.
public enum SQLiteValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A 64-bit integer.
    case integer(Int64)
    /// A double.
    case real(Double)
    /// UTF-8 text.
    case text(String)
    /// Raw bytes.
    case blob([UInt8])

    /// The integer, when this is one (a real with an integral value counts).
    public var int64: Int64? {
        switch self {
        case .integer(let i): return i
        case .real(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }

    /// The number as a double, when numeric.
    public var double: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .real(let d): return d
        default: return nil
        }
    }

    /// The text, when this is text.
    public var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }
}

/// One result row: values by column name.
public struct SQLiteRow: Sendable, Hashable {
    /// Column name → value.
    public var values: [String: SQLiteValue]

    /// The value of a column (`.null` when absent).
    public subscript(column: String) -> SQLiteValue { values[column] ?? .null }
}

/// A prepared statement; finalized when released.
final class SQLiteStatement {
    private var handle: OpaquePointer?
    private let database: SQLiteDatabase
    let sql: String

    init(database: SQLiteDatabase, sql: String) throws(SQLiteError) {
        self.database = database
        self.sql = sql
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(database.handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            sqlite3_finalize(stmt)
            throw database.error(rc, context: "prepare")
        }
        handle = stmt
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds positional parameters (`?1`, `?2`, ...), clearing earlier bindings.
    func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let i): rc = sqlite3_bind_int64(handle, index, i)
            case .real(let d): rc = sqlite3_bind_double(handle, index, d)
            case .text(let s):
                let bytes = Array(s.utf8)
                rc = bytes.withUnsafeBufferPointer { buf in
                    buf.baseAddress.map { base in
                        base.withMemoryRebound(to: CChar.self, capacity: buf.count) {
                            csqlite_bind_text(handle, index, $0, Int32(buf.count))
                        }
                    } ?? csqlite_bind_text(handle, index, "", 0)
                }
            case .blob(let b):
                rc = b.withUnsafeBytes { csqlite_bind_blob(handle, index, $0.baseAddress, Int32($0.count)) }
            }
            guard rc == SQLITE_OK else { throw database.error(rc, context: "bind ?\(index) in \(sql)") }
        }
    }

    /// Advances to the next row: true when a row is available, false when done.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(rc, context: "step \(sql)")
        }
    }

    /// The current row.
    func row() -> SQLiteRow {
        var values: [String: SQLiteValue] = [:]
        let count = sqlite3_column_count(handle)
        for i in 0..<count {
            let name = sqlite3_column_name(handle, i).map { String(cString: $0) } ?? "\(i)"
            values[name] = column(i)
        }
        return SQLiteRow(values: values)
    }

    private func column(_ i: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, i))
        case SQLITE_TEXT:
            let n = Int(sqlite3_column_bytes(handle, i))
            guard let p = sqlite3_column_text(handle, i) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(handle, i))
            guard let p = sqlite3_column_blob(handle, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }

    /// Resets the statement so it can run again (bindings stay until the next `bind`).
    func reset() { sqlite3_reset(handle) }
}
