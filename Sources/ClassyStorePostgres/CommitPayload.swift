import ClassyStore
import Foundation

/// The text of a `NOTIFY classy_commits` payload: a ``StoreCommit`` as compact JSON.
///
/// PostgreSQL limits a payload to 8000 bytes, so a commit that notified many users is split into several
/// payloads (the first carries the event sequence); wake-ups are hints, so splitting loses nothing.
enum CommitPayload {
    private struct Wire: Codable {
        /// The last event sequence, if the transaction appended events.
        var e: UInt64?
        /// Notified user ids.
        var u: [String]
    }

    /// How many bytes of user ids one payload carries at most.
    static let userBytesPerPayload = 7000

    /// The payloads announcing `commit` (none for an empty commit).
    static func encode(_ commit: StoreCommit) -> [String] {
        guard !commit.isEmpty else { return [] }
        var chunks: [[String]] = [[]]
        var size = 0
        for id in commit.notifiedUserIDs.sorted() {
            if size + id.utf8.count + 3 > userBytesPerPayload, !(chunks.last ?? []).isEmpty {
                chunks.append([])
                size = 0
            }
            chunks[chunks.count - 1].append(id)
            size += id.utf8.count + 3
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return chunks.enumerated().compactMap { index, ids in
            let wire = Wire(e: index == 0 ? commit.lastEventSequence : nil, u: ids)
            guard let data = try? encoder.encode(wire) else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The wake-ups in a payload (an unreadable payload still wakes the event hub).
    static func decode(_ payload: String) -> [StoreCommit] {
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(payload.utf8)) else {
            return [StoreCommit(lastEventSequence: UInt64.max, notifiedUserIDs: [])]
        }
        let commit = StoreCommit(lastEventSequence: wire.e, notifiedUserIDs: Set(wire.u))
        return commit.isEmpty ? [] : [commit]
    }
}
