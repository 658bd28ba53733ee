import Foundation

/// Collects the field violations of one request, then throws them all at once as INVALID_FIELD.
///
/// ```swift
/// var check = FieldValidator()
/// let email = check.email("email", request.email)
/// check.text("first_name", request.firstName, max: 100)
/// try check.finish()
/// ```
public struct FieldValidator: Sendable {
    /// The violations found so far.
    public private(set) var violations: [ClassyError.FieldViolation] = []

    public init() {}

    /// Records a violation.
    public mutating func fail(_ field: String, _ description: String) {
        violations.append(.init(field: field, description: description))
    }

    /// Checks a free-text field: at most `max` characters, no control characters, optionally required.
    @discardableResult
    public mutating func text(_ field: String, _ value: String, min: Int = 0, max: Int) -> String {
        let count = value.count
        if count < min {
            fail(field, min == 1 ? "must not be empty" : "must be at least \(min) characters")
        } else if count > max {
            fail(field, "must be at most \(max) characters")
        } else if value.unicodeScalars.contains(where: Self.isControl) {
            fail(field, "must not contain control characters")
        }
        return value
    }

    /// Checks and normalises an email address (trimmed, lower-cased, at most 254 characters).
    @discardableResult
    public mutating func email(_ field: String, _ value: String) -> String {
        let normalised = Self.normaliseEmail(value)
        if normalised.isEmpty {
            fail(field, "must not be empty")
        } else if normalised.count > 254 {
            fail(field, "must be at most 254 characters")
        } else if normalised.unicodeScalars.contains(where: { Self.isControl($0) || $0 == " " }) {
            fail(field, "must not contain spaces or control characters")
        } else if !Self.looksLikeEmail(normalised) {
            fail(field, "must be an email address like name@example.com")
        }
        return normalised
    }

    /// Checks a page size: 0 means the default (50); at most 500.
    public mutating func pageSize(_ value: Int32, field: String = "page_size") -> Int {
        if value < 0 {
            fail(field, "must not be negative")
            return Self.defaultPageSize
        }
        if value > Self.maxPageSize {
            fail(field, "must be at most \(Self.maxPageSize)")
            return Self.maxPageSize
        }
        return value == 0 ? Self.defaultPageSize : Int(value)
    }

    /// Checks a UUID-shaped identifier.
    @discardableResult
    public mutating func identifier(_ field: String, _ value: String) -> String {
        if value.isEmpty {
            fail(field, "must not be empty")
        } else if UUID(uuidString: value) == nil {
            fail(field, "must be an id returned by this server")
        }
        return value.lowercased()
    }

    /// Throws INVALID_FIELD with every violation found, if any.
    public func finish() throws(ClassyError) {
        if !violations.isEmpty { throw ClassyError.invalidFields(violations) }
    }

    /// Default page size of list RPCs.
    public static let defaultPageSize = 50
    /// Largest page size of list RPCs.
    public static let maxPageSize = 500

    /// Trims and lower-cases an email address.
    public static func normaliseEmail(_ value: String) -> String {
        value.trimmingWhitespace().lowercased()
    }

    /// Control characters (C0, DEL, C1) and Unicode line/paragraph separators.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028
            || scalar.value == 0x2029
    }

    private static func looksLikeEmail(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return false }
        let domain = parts[1]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }
    }
}
