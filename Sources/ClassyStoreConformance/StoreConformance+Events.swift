import ClassyCore
import ClassyStore
import Foundation
import Testing

extension StoreConformance {
    /// Appending, reading after a sequence with type filters, and the latest sequence.
    public static func events(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            #expect(try await store.latestEventSequence() == 0)
            #expect(try await store.events(after: 0, types: nil, limit: 10).isEmpty)
            let committed = try await store.commit(
                StoreEffects(events: [
                    event(.loginAttempt, "one", time: at(1)), event(.ipBlocked, "two", time: at(2)),
                    event(.auditLog, "three", time: at(3)),
                ]))
            #expect(committed.events.map(\.sequence) == [1, 2, 3])
            #expect(committed.events.map(\.kind) == [.loginAttempt, .ipBlocked, .auditLog])
            #expect(try await store.latestEventSequence() == 3)

            let all = try await store.events(after: 0, types: nil, limit: 10)
            #expect(all == committed.events)
            #expect(all.map { String(decoding: $0.payload, as: UTF8.self) } == ["one", "two", "three"])
            #expect(all.map(\.time) == [at(1), at(2), at(3)])
            #expect(try await store.events(after: 1, types: nil, limit: 1).map(\.sequence) == [2])
            #expect(try await store.events(after: 0, types: [], limit: 10).count == 3, "an empty filter means all")
            #expect(
                try await store.events(after: 0, types: [.auditLog, .loginAttempt], limit: 10).map(\.sequence)
                    == [1, 3])
            #expect(try await store.events(after: 3, types: nil, limit: 10).isEmpty)

            let more = try await store.commit(StoreEffects(events: [event(.accountLocked, "four", time: at(4))]))
            #expect(more.events.map(\.sequence) == [4])
            #expect(try await store.events(after: 3, types: [.accountLocked], limit: 10) == more.events)
            for kind in SecurityEventKind.allCases {
                _ = try await store.commit(StoreEffects(events: [event(kind, kind.rawValue)]))
            }
            let kinds = try await store.events(after: 4, types: nil, limit: 100).map(\.kind)
            #expect(kinds == SecurityEventKind.allCases)
        }
    }

    /// A failed change writes none of its effects; a successful one writes all of them.
    public static func transactionalEffects(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            func effects(for userID: String, _ label: String, time: Date = at(1)) -> StoreEffects {
                StoreEffects(
                    auditEntries: [
                        AuditEntryRecord(
                            action: label, resourceType: "user", resourceID: userID, details: ["k": "v"],
                            time: time)
                    ],
                    events: [event(.auditLog, label, time: time)],
                    notifications: [
                        NewNotification(
                            userID: userID, kind: "PROFILE_UPDATED", title: label, body: "", createTime: time)
                    ]
                )
            }
            let id = UUID().uuidString.lowercased()
            let user = try await store.createUser(
                NewUser(
                    id: id, email: "tx@example.com", passwordHash: "h", firstName: "T", lastName: "X",
                    createTime: t0),
                effects: effects(for: id, "user.create"))
            #expect(try await store.latestEventSequence() == 1)
            #expect(try await store.listAuditLogs(AuditQuery()).map(\.action) == ["user.create"])
            #expect(try await store.notifications(userID: user.id, after: 0, limit: 10).map(\.title) == ["user.create"])

            await expectStoreError(.emailTaken) {
                try await store.createUser(
                    NewUser(email: "TX@example.com", passwordHash: "h", firstName: "T", lastName: "X", createTime: t0),
                    effects: effects(for: user.id, "duplicate"))
            }
            await expectStoreError(.etagMismatch) {
                try await store.updateUser(
                    id: user.id, ifETag: "stale", changes: UserChanges(firstName: "N"),
                    revokingSessions: nil, effects: effects(for: user.id, "stale"), now: at(2))
            }
            await expectStoreError(.notFound) {
                try await store.deleteUser(
                    id: "missing", ifETag: nil, effects: effects(for: user.id, "gone"), now: at(2))
            }
            #expect(try await store.latestEventSequence() == 1)
            #expect(try await store.listAuditLogs(AuditQuery()).count == 1)
            #expect(try await store.notifications(userID: user.id, after: 0, limit: 10).count == 1)

            let updated = try await store.updateUser(
                id: user.id, ifETag: user.etag, changes: UserChanges(firstName: "N"), revokingSessions: nil,
                effects: effects(for: user.id, "user.update", time: at(2)), now: at(2))
            #expect(updated.user.firstName == "N")
            #expect(try await store.latestEventSequence() == 2)
            #expect(try await store.listAuditLogs(AuditQuery()).map(\.action) == ["user.update", "user.create"])
            #expect(try await store.unreadNotificationCount(userID: user.id) == 2)

            // The sequence never goes back, even after a failed append.
            await expectStoreError(.emailTaken) {
                try await store.createUser(
                    NewUser(email: "tx@example.com", passwordHash: "h", firstName: "T", lastName: "X", createTime: t0),
                    effects: StoreEffects(events: [event(.auditLog, "x"), event(.auditLog, "y")]))
            }
            let next = try await store.commit(StoreEffects(events: [event(.auditLog, "after failure")]))
            #expect(try #require(next.events.first).sequence > 2)
            #expect(try await store.latestEventSequence() == next.events.first?.sequence)
        }
    }

    /// 100 concurrent appenders get distinct sequences with no gap, and a reader never sees a gap.
    public static func eventsConcurrentAppend(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let start = try await store.latestEventSequence()
            let appenders = 100
            let reader = Task { () -> (gapFree: Bool, seen: [UInt64]) in
                var cursor = start
                var seen: [UInt64] = []
                var gapFree = true
                var polls = 0
                while seen.count < appenders && polls < 20_000 {
                    polls += 1
                    let batch = try await store.events(after: cursor, types: nil, limit: 1000)
                    for event in batch {
                        if event.sequence != cursor + 1 { gapFree = false }
                        cursor = event.sequence
                        seen.append(event.sequence)
                    }
                    if batch.isEmpty { await Task.yield() }
                }
                return (gapFree, seen)
            }
            let results = await concurrently(appenders) { index in
                try await store.commit(StoreEffects(events: [event(.loginAttempt, "append-\(index)")]))
            }
            let sequences = results.compactMap { try? $0.get().events.first?.sequence }
            #expect(sequences.count == appenders)
            #expect(Set(sequences).count == appenders)
            #expect(sequences.sorted() == Array((start + 1)...(start + UInt64(appenders))))
            #expect(try await store.latestEventSequence() == start + UInt64(appenders))
            let stored = try await store.events(after: start, types: nil, limit: 1000)
            #expect(stored.map(\.sequence) == sequences.sorted())
            #expect(Set(stored.map { String(decoding: $0.payload, as: UTF8.self) }).count == appenders)

            let observed = try await reader.value
            #expect(observed.gapFree, "a reader saw a gap in the sequence")
            #expect(observed.seen == sequences.sorted())
        }
    }

    /// Subscribers are woken after commits that append events or notifications, and only then.
    public static func commitWakeUps(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "wake@example.com")
            let stream = store.commits()
            let second = store.commits()

            // Changes without events or notifications do not wake anyone.
            _ = try await store.updateUser(id: user.id, ifETag: nil, changes: UserChanges(firstName: "W"), now: at(1))
            let committed = try await store.commit(StoreEffects(events: [event(.ipBlocked, "wake")]))
            let wake = await first(of: stream)
            #expect(
                wake
                    == StoreCommit(
                        lastEventSequence: committed.events.last?.sequence, eventKinds: [.ipBlocked],
                        notifiedUserIDs: []
                    ))
            #expect(await first(of: second) == wake, "every subscriber is woken")

            var effects = StoreEffects()
            effects.notify(
                NewNotification(
                    userID: user.id, kind: "ROLE_CHANGED", title: "t", body: "b",
                    createTime: at(2)))
            _ = try await store.updateUser(
                id: user.id, ifETag: nil, changes: UserChanges(role: .admin),
                revokingSessions: nil, effects: effects, now: at(2))
            let notified = await first(of: stream)
            #expect(notified == StoreCommit(lastEventSequence: nil, eventKinds: [], notifiedUserIDs: [user.id]))

            // A failed change wakes nobody; the next wake-up is for the next commit.
            await expectStoreError(.etagMismatch) {
                try await store.updateUser(
                    id: user.id, ifETag: "stale", changes: UserChanges(firstName: "Q"),
                    revokingSessions: nil, effects: StoreEffects(events: [event(.auditLog, "no")]),
                    now: at(3))
            }
            let later = try await store.commit(
                StoreEffects(events: [event(.auditLog, "yes"), event(.loginAttempt, "yes")]))
            let next = await first(of: stream)
            #expect(next?.lastEventSequence == later.events.last?.sequence)
            #expect(next?.eventKinds == [.auditLog, .loginAttempt])
        }
    }

    /// Wake-ups arrive in commit order, even for concurrent writers: an event hub that moves past a commit nobody
    /// wants relies on every earlier commit having been announced before it.
    public static func commitWakeUpOrder(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let stream = store.commits()
            let writers = 8
            let perWriter = 12
            let results = await concurrently(writers) { writer in
                for index in 0..<perWriter {
                    _ = try await store.commit(StoreEffects(events: [event(.auditLog, "order-\(writer)-\(index)")]))
                }
            }
            for result in results {
                if case .failure(let error) = result { Issue.record("a commit failed: \(error)") }
            }
            var sequences: [UInt64] = []
            while sequences.count < writers * perWriter, let commit = await first(of: stream) {
                if let sequence = commit.lastEventSequence { sequences.append(sequence) }
            }
            #expect(sequences.count == writers * perWriter)
            #expect(sequences == sequences.sorted(), "wake-ups in commit order")
            #expect(Set(sequences).count == sequences.count)
        }
    }

    /// Audit entries round-trip and list newest first with filters and keyset paging.
    public static func auditLogs(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            var entries: [AuditEntryRecord] = []
            for index in 0..<8 {
                entries.append(
                    AuditEntryRecord(
                        action: index.isMultiple(of: 2) ? "user.update" : "ip.block",
                        actorUserID: index < 4 ? "admin-1" : nil,
                        resourceType: index.isMultiple(of: 2) ? "user" : "ip",
                        resourceID: "resource-\(index)",
                        details: ["index": "\(index)", "note": "ünïcödé \"quoted\""],
                        ipAddress: "192.0.2.\(index)",
                        time: at(Double(index))))
            }
            _ = try await store.commit(StoreEffects(auditEntries: Array(entries.prefix(4))))
            _ = try await store.commit(StoreEffects(auditEntries: Array(entries.suffix(4))))
            let newestFirst = Array(entries.reversed())
            #expect(try await store.listAuditLogs(AuditQuery(limit: 100)) == newestFirst)
            #expect(
                try await store.listAuditLogs(AuditQuery(actorUserID: "admin-1", limit: 100))
                    == newestFirst.filter { $0.actorUserID == "admin-1" })
            #expect(
                try await store.listAuditLogs(AuditQuery(action: "ip.block", limit: 100))
                    == newestFirst.filter { $0.action == "ip.block" })
            #expect(
                try await store.listAuditLogs(AuditQuery(resourceType: "user", limit: 100))
                    == newestFirst.filter { $0.resourceType == "user" })
            #expect(
                try await store.listAuditLogs(AuditQuery(startTime: at(2), endTime: at(5), limit: 100))
                    == newestFirst.filter { $0.time >= at(2) && $0.time < at(5) })
            #expect(
                try await store.listAuditLogs(
                    AuditQuery(
                        actorUserID: "admin-1", action: "user.update",
                        limit: 100)
                ).map(\.resourceID)
                    == ["resource-2", "resource-0"])

            var paged: [AuditEntryRecord] = []
            var cursor: TimeCursor?
            for _ in 0..<5 {
                let page = try await store.listAuditLogs(AuditQuery(after: cursor, limit: 3))
                paged += page
                guard let last = page.last, page.count == 3 else { break }
                cursor = TimeCursor(time: last.time, id: last.id)
            }
            #expect(paged == newestFirst)
        }
    }

    /// Per-user notifications: ordered cursors, replay after a cursor, listing, unread counts and mark read.
    public static func notifications(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let user = try await makeUser(store, email: "notify@example.com")
            let other = try await makeUser(store, email: "other@example.com")
            #expect(try await store.latestNotificationCursor(userID: user.id) == 0)
            var mine: [NotificationRecord] = []
            var theirs: [NotificationRecord] = []
            for index in 0..<5 {
                let committed = try await store.commit(
                    StoreEffects(notifications: [
                        NewNotification(
                            userID: user.id, kind: "NEW_SIGN_IN", title: "t\(index)", body: "b\(index)",
                            data: ["device": "d\(index)"], createTime: at(Double(index))),
                        NewNotification(
                            userID: other.id, kind: "ROLE_CHANGED", title: "o\(index)", body: "",
                            createTime: at(Double(index))),
                    ]))
                #expect(committed.notifications.count == 2)
                mine.append(committed.notifications[0])
                theirs.append(committed.notifications[1])
            }
            #expect(mine.map(\.cursor) == mine.map(\.cursor).sorted())
            #expect(Set(mine.map(\.cursor)).count == 5)
            #expect(mine.allSatisfy { !$0.read })
            #expect(try await store.notifications(userID: user.id, after: 0, limit: 100) == mine)
            #expect(
                try await store.notifications(userID: user.id, after: mine[1].cursor, limit: 2)
                    == Array(mine[2...3]))
            #expect(try await store.latestNotificationCursor(userID: user.id) == mine[4].cursor)
            #expect(try await store.latestNotificationCursor(userID: other.id) == theirs[4].cursor)

            let page1 = try await store.listNotifications(userID: user.id, unreadOnly: false, before: nil, limit: 2)
            #expect(page1.notifications == [mine[4], mine[3]])
            #expect(page1.unreadCount == 5)
            let page2 = try await store.listNotifications(
                userID: user.id, unreadOnly: false, before: mine[3].cursor,
                limit: 10)
            #expect(page2.notifications == [mine[2], mine[1], mine[0]])

            let marked = try await store.markNotificationsRead(
                userID: user.id, .ids([mine[0].id, mine[1].id, theirs[0].id, "missing"]))
            #expect(marked == 2)
            #expect(try await store.markNotificationsRead(userID: user.id, .ids([mine[0].id])) == 0)
            #expect(try await store.markNotificationsRead(userID: user.id, .ids([])) == 0)
            #expect(try await store.unreadNotificationCount(userID: user.id) == 3)
            #expect(try await store.unreadNotificationCount(userID: other.id) == 5)
            let unread = try await store.listNotifications(userID: user.id, unreadOnly: true, before: nil, limit: 10)
            #expect(unread.notifications.map(\.id) == [mine[4].id, mine[3].id, mine[2].id])
            #expect(unread.unreadCount == 3)
            let all = try await store.notifications(userID: user.id, after: 0, limit: 10)
            #expect(all.map(\.read) == [true, true, false, false, false])

            #expect(try await store.markNotificationsRead(userID: user.id, .all) == 3)
            #expect(try await store.markNotificationsRead(userID: user.id, .all) == 0)
            #expect(try await store.unreadNotificationCount(userID: user.id) == 0)
            #expect(try await store.unreadNotificationCount(userID: other.id) == 5)
        }
    }
}
