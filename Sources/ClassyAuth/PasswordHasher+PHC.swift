import ClassyCore
import Foundation

/// The parts of an Argon2id hash in PHC string format: `$argon2id$v=19$m=M,t=T,p=P$<salt>$<hash>`.
public struct Argon2PHCString: Sendable, Hashable {
    /// The Argon2 version this code writes (0x13).
    public static let currentVersion = 19

    /// The Argon2 version (`v`).
    public var version: Int
    /// Memory, iterations, lanes, and the salt and hash lengths as decoded.
    public var parameters: Argon2Parameters
    /// The decoded salt.
    public var salt: [UInt8]
    /// The decoded hash.
    public var hash: [UInt8]

    /// Parses an Argon2id PHC string; nil when it is not one.
    public init?(_ string: String) {
        let fields = string.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0].isEmpty, fields[1] == "argon2id",
            fields[2].hasPrefix("v="), let version = Int(fields[2].dropFirst(2))
        else { return nil }
        var values: [Substring: UInt32] = [:]
        for pair in fields[3].split(separator: ",", omittingEmptySubsequences: false) {
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard keyValue.count == 2, let value = UInt32(keyValue[1]), values[keyValue[0]] == nil else { return nil }
            values[keyValue[0]] = value
        }
        guard values.count == 3, let memory = values["m"], let iterations = values["t"], let lanes = values["p"],
            let salt = Self.decodeBase64(fields[4]), let hash = Self.decodeBase64(fields[5]),
            !salt.isEmpty, !hash.isEmpty
        else { return nil }
        self.version = version
        self.parameters = Argon2Parameters(
            memoryKiB: memory, iterations: iterations, parallelism: lanes,
            saltLength: salt.count, hashLength: hash.count
        )
        self.salt = salt
        self.hash = hash
    }

    /// Decodes the unpadded standard base64 that PHC strings use.
    private static func decodeBase64(_ text: Substring) -> [UInt8]? {
        guard !text.contains("=") else { return nil }
        var padded = String(text)
        padded += String(repeating: "=", count: (4 - padded.utf8.count % 4) % 4)
        return Data(base64Encoded: padded).map { Array($0) }
    }
}
