import Foundation
import GRDB

/// How dates are stored: `REAL` seconds since the reference date (2001-01-01 UTC), exact for any `Date`.
extension Date {
    /// The stored form of a date: seconds since the reference date (round-trips exactly).
    var storageValue: Double { timeIntervalSinceReferenceDate }

    /// Creates a date from its stored form.
    init(storageValue: Double) { self.init(timeIntervalSinceReferenceDate: storageValue) }
}

extension Optional where Wrapped == Date {
    /// The stored form of an optional date.
    var storageValue: Double? { self?.storageValue }
}

extension Row {
    /// Decodes a required date column.
    func date(_ column: String) -> Date { Date(storageValue: self[column] as Double) }

    /// Decodes an optional date column.
    func optionalDate(_ column: String) -> Date? { (self[column] as Double?).map(Date.init(storageValue:)) }
}
