import ClassyCore
import ClassyStore
import Foundation
import Testing

extension StoreConformance {
    /// Insert-if-absent, per-caller scoping, 24 h expiry and purge.
    public static func idempotency(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let dayAgo = at(-86_400)
            #expect(try await store.idempotencyRecord(callerKey: "user-1", key: "k1", notBefore: dayAgo) == nil)
            let first = IdempotencyRecord(
                callerKey: "user-1", key: "k1", method: "/classy.users.v1.UsersService/CreateUser",
                responseBytes: Data([1, 2, 3]), createTime: t0)
            #expect(try await store.saveIdempotencyRecord(first, notBefore: dayAgo) == first)
            var second = first
            second.responseBytes = Data([9])
            second.createTime = at(5)
            #expect(
                try await store.saveIdempotencyRecord(second, notBefore: dayAgo) == first, "the first response wins")
            #expect(try await store.idempotencyRecord(callerKey: "user-1", key: "k1", notBefore: dayAgo) == first)

            let otherCaller = IdempotencyRecord(
                callerKey: "user-2", key: "k1", method: first.method,
                responseBytes: Data([7]), createTime: at(1))
            #expect(try await store.saveIdempotencyRecord(otherCaller, notBefore: dayAgo) == otherCaller)

            // After 24 hours the key counts as absent and may be reused.
            let tomorrow = at(86_400 + 10)
            let notBefore = tomorrow.addingTimeInterval(-86_400)
            #expect(try await store.idempotencyRecord(callerKey: "user-1", key: "k1", notBefore: notBefore) == nil)
            var renewed = first
            renewed.responseBytes = Data([4])
            renewed.createTime = tomorrow
            #expect(try await store.saveIdempotencyRecord(renewed, notBefore: notBefore) == renewed)
            #expect(try await store.idempotencyRecord(callerKey: "user-1", key: "k1", notBefore: notBefore) == renewed)

            #expect(try await store.purgeIdempotencyRecords(before: notBefore) == 1)
            #expect(try await store.idempotencyRecord(callerKey: "user-2", key: "k1", notBefore: dayAgo) == nil)
            #expect(try await store.idempotencyRecord(callerKey: "user-1", key: "k1", notBefore: notBefore) == renewed)
        }
    }

    /// Concurrent first calls with one key all get the same stored record.
    public static func idempotencyConcurrent(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            let results = await concurrently(60) { index in
                try await store.saveIdempotencyRecord(
                    IdempotencyRecord(
                        callerKey: "caller", key: "same", method: "m",
                        responseBytes: Data("response-\(index)".utf8), createTime: t0),
                    notBefore: at(-86_400))
            }
            let stored = results.compactMap { try? $0.get() }
            #expect(stored.count == 60)
            #expect(Set(stored).count == 1)
            #expect(
                try await store.idempotencyRecord(callerKey: "caller", key: "same", notBefore: at(-86_400))
                    == stored.first)
        }
    }

    /// Create, look up, page and soft-delete service accounts.
    public static func serviceAccounts(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            var accounts: [ServiceAccountRecord] = []
            for index in 0..<5 {
                accounts.append(
                    try await store.createServiceAccount(
                        ServiceAccountRecord(
                            clientID: "client-\(index)", name: "svc \(index)",
                            description: "service \(index)", secretHash: "secret-\(index)",
                            createTime: at(Double(index))),
                        effects: auditEffects("service_account.create", time: at(Double(index)))))
            }
            #expect(try await store.listAuditLogs(AuditQuery(action: "service_account.create", limit: 10)).count == 5)
            let first = accounts[0]
            #expect(!first.deleted && first.deleteTime == nil)
            #expect(try await store.serviceAccount(id: first.id) == first)
            #expect(try await store.serviceAccount(clientID: "client-0") == first)
            #expect(try await store.serviceAccount(clientID: "nope") == nil)
            await expectStoreError(.conflict) {
                try await store.createServiceAccount(
                    ServiceAccountRecord(clientID: "client-0", name: "dup", secretHash: "s", createTime: at(9)),
                    effects: .none)
            }

            let page1 = try await store.listServiceAccounts(after: nil, limit: 2)
            #expect(page1 == [accounts[4], accounts[3]])
            let page2 = try await store.listServiceAccounts(
                after: TimeCursor(time: accounts[3].createTime, id: accounts[3].id), limit: 10)
            #expect(page2 == [accounts[2], accounts[1], accounts[0]])

            let deleted = try #require(
                try await store.deleteServiceAccount(
                    id: first.id, now: at(100),
                    effects: auditEffects("service_account.delete")))
            #expect(deleted.deleted && deleted.deleteTime == at(100))
            #expect(try await store.serviceAccount(id: first.id) == deleted)
            #expect(try await store.serviceAccount(clientID: "client-0") == nil)
            #expect(try await store.listServiceAccounts(after: nil, limit: 10).map(\.id).contains(first.id) == false)
            #expect(
                try await store.deleteServiceAccount(
                    id: first.id, now: at(101),
                    effects: auditEffects("service_account.delete")) == nil)
            #expect(try await store.deleteServiceAccount(id: "missing", now: at(101), effects: .none) == nil)
            #expect(try await store.listAuditLogs(AuditQuery(action: "service_account.delete")).count == 1)
        }
    }

    /// Signing keys persist, list in creation order, and retire into a publish-only then unpublished state.
    public static func signingKeys(_ makeStore: @escaping StoreFactory) async throws {
        try await withStore(makeStore) { store async throws in
            #expect(try await store.signingKeys().isEmpty)
            let k1 = SigningKeyRecord(
                id: "kid-1", privateKey: Data(repeating: 1, count: 32),
                publicKey: Data(repeating: 2, count: 32), createTime: t0)
            let k2 = SigningKeyRecord(
                id: "kid-2", privateKey: Data(repeating: 3, count: 32),
                publicKey: Data(repeating: 4, count: 32), createTime: at(10))
            try await store.insertSigningKey(k2)
            try await store.insertSigningKey(k1)
            await expectStoreError(.conflict) { try await store.insertSigningKey(k1) }
            #expect(try await store.signingKeys() == [k1, k2])
            #expect(try await store.signingKeys().first?.algorithm == "EdDSA")

            let retired = try #require(
                try await store.retireSigningKey(
                    id: "kid-1", retireTime: at(20),
                    expireTime: at(100)))
            #expect(retired.retireTime == at(20) && retired.expireTime == at(100))
            #expect(!retired.canSign(at: at(20)) && retired.canSign(at: at(19)))
            #expect(try await store.publishedSigningKeys(now: at(50)) == [retired, k2])
            #expect(try await store.publishedSigningKeys(now: at(100)) == [k2])
            #expect(try await store.signingKeys() == [retired, k2])
            #expect(try await store.retireSigningKey(id: "missing", retireTime: at(1), expireTime: nil) == nil)
        }
    }
}
