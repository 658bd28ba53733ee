import GRDB

/// Builds `WHERE` clauses and their arguments for list queries.
struct SQLFilter {
    private(set) var clauses: [String] = []
    private(set) var arguments: [(any DatabaseValueConvertible)?] = []

    /// Adds a clause with its arguments.
    mutating func add(_ clause: String, _ values: (any DatabaseValueConvertible)?...) {
        clauses.append(clause)
        arguments.append(contentsOf: values)
    }

    /// Adds a clause with an array of arguments (for `IN (...)` lists).
    mutating func add(_ clause: String, values: [any DatabaseValueConvertible]) {
        clauses.append(clause)
        arguments.append(contentsOf: values.map { $0 })
    }

    /// The `WHERE ...` text, or an empty string without clauses.
    var whereClause: String {
        clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
    }

    /// The arguments as GRDB statement arguments, followed by `extra`.
    func statementArguments(_ extra: (any DatabaseValueConvertible)?...) -> StatementArguments {
        StatementArguments(arguments + extra)
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
func likePattern(containing text: String) -> String {
    var escaped = ""
    for character in text {
        if character == "%" || character == "_" || character == "\\" {
            escaped.append("\\")
        }
        escaped.append(character)
    }
    return "%" + escaped + "%"
}
