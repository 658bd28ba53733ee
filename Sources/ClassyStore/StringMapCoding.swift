import Foundation

/// Encodes string maps (audit details, notification data) as canonical JSON text for storage; every backend
/// stores them the same way.
public enum StringMapCoding {
    /// The map as JSON with sorted keys.
    public static func encode(_ map: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(map), as: UTF8.self)
    }

    /// The map stored by ``encode(_:)``.
    public static func decode(_ text: String) throws -> [String: String] {
        try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }
}
