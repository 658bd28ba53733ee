import Foundation

/// Opaque page tokens and cursors: a Codable position, JSON-encoded, base64url without padding.
///
/// Clients must treat them as opaque; the server rejects anything it did not make with
/// INVALID_FIELD on the named field.
public enum PageToken {
    /// Encodes a position.
    public static func encode(_ position: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode(position)) ?? Data()
        return Base64URL.encode(data)
    }

    /// Decodes a position; nil for an empty token; INVALID_FIELD naming `field` if malformed.
    public static func decode<Position: Decodable>(
        _ type: Position.Type,
        from token: String,
        field: String = "page_token"
    ) throws(ClassyError) -> Position? {
        if token.isEmpty { return nil }
        guard token.utf8.count <= 4096, let data = Base64URL.decode(token),
            let position = try? JSONDecoder().decode(Position.self, from: data)
        else {
            throw ClassyError.invalidField(field, "is not a token returned by this server")
        }
        return position
    }
}
