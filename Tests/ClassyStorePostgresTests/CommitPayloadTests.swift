import ClassyStore
import Foundation
import Testing

@testable import ClassyStorePostgres

/// The NOTIFY payload that carries commit wake-ups between replicas.
@Suite("Commit payload")
struct CommitPayloadTests {
    @Test("a wake-up round-trips with its event kinds")
    func roundTrip() {
        let commit = StoreCommit(
            lastEventSequence: 42, eventKinds: [.loginAttempt, .auditLog], notifiedUserIDs: ["u1", "u2"])
        #expect(CommitPayload.encode(commit).flatMap(CommitPayload.decode) == [commit])
        let notifiedOnly = StoreCommit(lastEventSequence: nil, eventKinds: [], notifiedUserIDs: ["u3"])
        #expect(CommitPayload.encode(notifiedOnly).flatMap(CommitPayload.decode) == [notifiedOnly])
        let unknown = StoreCommit(lastEventSequence: 7, eventKinds: nil, notifiedUserIDs: [])
        #expect(CommitPayload.encode(unknown).flatMap(CommitPayload.decode) == [unknown])
    }

    @Test("a wake-up for many users is split; only the first payload carries the sequence and kinds")
    func split() {
        let users = Set((0..<600).map { "user-\($0)-\(String(repeating: "x", count: 20))" })
        let commit = StoreCommit(lastEventSequence: 9, eventKinds: [.ipBlocked], notifiedUserIDs: users)
        let payloads = CommitPayload.encode(commit)
        #expect(payloads.count > 1)
        #expect(payloads.allSatisfy { $0.utf8.count < 8000 })
        let decoded = payloads.flatMap(CommitPayload.decode)
        #expect(decoded.first?.lastEventSequence == 9)
        #expect(decoded.first?.eventKinds == [.ipBlocked])
        #expect(decoded.dropFirst().allSatisfy { $0.lastEventSequence == nil && $0.eventKinds == [] })
        #expect(decoded.reduce(into: Set<String>()) { $0.formUnion($1.notifiedUserIDs) } == users)
    }

    @Test("kinds are unknown when a replica sends none or one this replica does not know")
    func unknownKinds() {
        let older = CommitPayload.decode(#"{"e":5,"u":[]}"#)
        #expect(older == [StoreCommit(lastEventSequence: 5, eventKinds: nil, notifiedUserIDs: [])])
        let newer = CommitPayload.decode(#"{"e":6,"k":["audit_log","some_future_kind"],"u":[]}"#)
        #expect(newer == [StoreCommit(lastEventSequence: 6, eventKinds: nil, notifiedUserIDs: [])])
    }

    @Test("an unreadable payload still wakes the hub, as a commit of unknown events")
    func unreadable() {
        let decoded = CommitPayload.decode("not json")
        #expect(decoded == [StoreCommit(lastEventSequence: UInt64.max, eventKinds: nil, notifiedUserIDs: [])])
    }
}
