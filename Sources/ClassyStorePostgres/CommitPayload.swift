import ClassyStore
import Foundation

/// The text of a `NOTIFY classy_commits` payload: a ``StoreCommit`` as compact JSON.
///
/// PostgreSQL limits a payload to 8000 bytes, so a commit that notified many users is split into several
/// payloads (the first carries the event sequence and kinds); wake-ups are hints, so splitting loses nothing.
enum CommitPayload {
    private struct Wire: Codable {
        /// The last event sequence, if the transaction appended events.
        var e: UInt64?
        /// The kinds of the events appended (absent: unknown, as from a replica that does not send them).
        var k: [String]?
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
            let first = index == 0
            let wire = Wire(
                e: first ? commit.lastEventSequence : nil,
                k: first ? commit.eventKinds.map { $0.map(\.rawValue).sorted() } : [],
                u: ids
            )
            guard let data = try? encoder.encode(wire) else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The wake-ups in a payload (an unreadable payload still wakes the event hub).
    static func decode(_ payload: String) -> [StoreCommit] {
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(payload.utf8)) else {
            return [StoreCommit(lastEventSequence: UInt64.max, notifiedUserIDs: [])]
        }
        // A kind this replica does not know (a newer replica's) makes the kinds unknown: the hub then reads.
        let kinds = wire.k.flatMap { names in
            let kinds = names.compactMap(SecurityEventKind.init(rawValue:))
            return kinds.count == names.count ? Set(kinds) : nil
        }
        let commit = StoreCommit(lastEventSequence: wire.e, eventKinds: kinds, notifiedUserIDs: Set(wire.u))
        return commit.isEmpty ? [] : [commit]
    }
}
