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

    /// The exact form of the PHC strings made with given parameters at ``currentVersion``: the same prefix
    /// (`$argon2id$v=19$m=…,t=…,p=…$`), then unpadded base64 salt and hash of the lengths the parameters give.
    struct Shape: Sendable {
        private let prefix: [UInt8]
        private let saltCharacters: Int
        private let hashCharacters: Int

        init(_ parameters: Argon2Parameters) {
            let text =
                "$argon2id$v=\(Argon2PHCString.currentVersion)$m=\(parameters.memoryKiB),"
                + "t=\(parameters.iterations),p=\(parameters.parallelism)$"
            prefix = Array(text.utf8)
            saltCharacters = Self.base64Length(parameters.saltLength)
            hashCharacters = Self.base64Length(parameters.hashLength)
        }

        /// True when `phc` has this shape: it then names these parameters, and its salt and hash decode to the
        /// lengths they give (unpadded base64 of those lengths never ends in a lone character).
        func matches(_ phc: String) -> Bool {
            var utf8 = phc.utf8.makeIterator()
            for byte in prefix where utf8.next() != byte { return false }
            return Self.skipBase64(saltCharacters, &utf8) && utf8.next() == UInt8(ascii: "$")
                && Self.skipBase64(hashCharacters, &utf8) && utf8.next() == nil
        }

        private static func base64Length(_ bytes: Int) -> Int { (bytes * 4 + 2) / 3 }

        private static func skipBase64(_ count: Int, _ utf8: inout String.UTF8View.Iterator) -> Bool {
            for _ in 0..<count {
                guard let byte = utf8.next() else { return false }
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                    continue
                default: return false
                }
            }
            return true
        }
    }

    /// Decodes the unpadded standard base64 that PHC strings use.
    private static func decodeBase64(_ text: Substring) -> [UInt8]? {
        guard !text.contains("=") else { return nil }
        var padded = String(text)
        padded += String(repeating: "=", count: (4 - padded.utf8.count % 4) % 4)
        return Data(base64Encoded: padded).map { Array($0) }
    }
}
