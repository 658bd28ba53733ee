import ClassyTesting
import Foundation
import Testing

@_spi(Testing) @testable import ClassySDK

#if canImport(Glibc)
    import Glibc
#endif

/// The first complete line of `child`'s output starting with `prefix`, once written (complete lines only: a key
/// may arrive in two writes). Polls the output file; throws if the process ends without writing it.
func outputLine(startingWith prefix: String, in child: Spawn.Child) async throws -> String {
    struct Ended: Error, CustomStringConvertible { let description: String }
    func find(_ text: String) -> String? {
        guard let end = text.lastIndex(of: "\n") else { return nil }
        return text[..<end].split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
    }
    while true {
        if let line = find(child.stdout) { return line }
        if !child.isRunning {
            if let line = find(child.stdout) { return line }
            throw Ended(description: "the process ended without a line starting with \(prefix):\n\(child.stdout)")
        }
        try await Task.sleep(for: .milliseconds(25))
    }
}

@Suite("SDK outbox: a process killed with SIGKILL mid-replay")
struct CrashRecoveryTests {
    static var helper: URL? { BuiltBinaries.url("classy-sdk-crash-helper") }

    @Test(
        "SIGKILL after the server applied a CreateUser: a new process replays it with the same key; one user, no error")
    func sigkillMidReplay() async throws {
        let helper = try #require(Self.helper, "classy-sdk-crash-helper must be built (swift build --build-tests)")
        try await withTestServer { server async throws in
            let admin = try await server.makeAccount(role: .admin)
            let email = "killed-\(UUID().uuidString.prefix(8).lowercased())@classy.test"
            let usersBefore = try await server.store.countUsers(includeDeleted: true)
            try await withTemporaryDirectory { directory in
                // Sign in once; the helper process finds the tokens in the same folder.
                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    try await client.auth.signIn(email: admin.email, password: TestServer.userPassword)
                }

                let child = try Spawn.Child(
                    helper.path, ["\(server.port)", directory.path, email], mergeErrors: true
                )
                defer { child.signal(SIGKILL) }
                let sent = try await withTimeout(60) { try await outputLine(startingWith: "SENT ", in: child) }
                let key = String(sent.dropFirst("SENT ".count))
                child.signal(SIGKILL)
                let ended = try await withTimeout(30) { try await child.waitForExit() }
                #expect(ended == .signaled(SIGKILL))
                #expect(!child.stdout.contains("NOT KILLED"))
                // Applied on the server, not recorded by the dead process.
                #expect(try await server.store.user(email: email) != nil)

                try await withClassyClient(sdkConfiguration(port: server.port, directory: directory)) { client in
                    let pending = try await client.outbox.pending()
                    #expect(pending.count == 1)
                    #expect(pending.first?.idempotencyKey == key)
                    #expect(pending.first?.state == .sending)
                    let report = try await client.outbox.replay()
                    #expect(report.applied == 1)
                    #expect(report.failed == 0, "a second CreateUser would have failed with EMAIL_TAKEN")
                    #expect(try await client.outbox.pending().isEmpty)
                    let cached = try await client.cache()?.users(matching: email)
                    #expect(cached?.map(\.email) == [email])
                }
                #expect(try await server.store.countUsers(includeDeleted: true) == usersBefore + 1)
            }
        }
    }
}
