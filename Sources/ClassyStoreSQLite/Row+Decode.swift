import GRDB

extension Row {
    /// Decodes every row of `statement` with `decode` while SQLite still holds it.
    ///
    /// `Row.fetchAll` and `Row.fetchOne` copy each row first, and a copied row finds a column by name by
    /// lowercasing every column name of the row, on every lookup; a row read in place looks its columns up in
    /// the statement's index. Decoders run once per row and must not keep the row.
    static func decodeAll<T>(
        _ statement: Statement,
        arguments: StatementArguments = StatementArguments(),
        as decode: (Row) throws -> T
    ) throws -> [T] {
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        var decoded: [T] = []
        while let row = try cursor.next() {
            decoded.append(try decode(row))
        }
        return decoded
    }

    /// Decodes the first row of `statement` with `decode` while SQLite still holds it; `nil` if there is none.
    static func decodeOne<T>(
        _ statement: Statement,
        arguments: StatementArguments = StatementArguments(),
        as decode: (Row) throws -> T
    ) throws -> T? {
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        return try cursor.next().map(decode)
    }
}
