import ClassyCore
import Foundation

/// The one place that defines how emails are normalised before they are stored or compared.
public enum EmailNormalization {
    /// Trims surrounding whitespace and lower-cases the address.
    public static func normalize(_ email: String) -> String {
        FieldValidator.normaliseEmail(email)
    }
}
