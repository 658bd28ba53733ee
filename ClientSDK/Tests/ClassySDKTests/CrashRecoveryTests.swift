import ClassyTesting
import Foundation
import Synchronization
import Testing

@_spi(Testing) @testable import ClassySDK

#if canImport(Glibc)
    import Glibc
#endif

/// Lines a child process wrote, for a test to wait on.
final class LineReader: Sendable {
    private let state = Mutex<(text: String, waiters: [(String, CheckedContinuation<String, Never>)])>(("", []))

    func append(_ data: Data) {
        let ready = state.withLock { state -> [(CheckedContinuation<String, Never>, String)] in
            state.text += String(decoding: data, as: UTF8.self)
            var ready: [(CheckedContinuation<String, Never>, String)] = []
            state.waiters.removeAll { waiter in
                let (prefix, continuation) = waiter
                guard let line = Self.line(startingWith: prefix, in: state.text) else { return false }
                ready.append((continuation, line))
                return true
            }
            return ready
        }
        for (continuation, line) in ready { continuation.resume(returning: line) }
    }

    /// The first complete line starting with `prefix`, once written.
    func line(startingWith prefix: String) async -> String {
        await withCheckedContinuation { continuation in
            let found = state.withLock { state -> String? in
                if let line = Self.line(startingWith: prefix, in: state.text) { return line }
                state.waiters.append((prefix, continuation))
                return nil
            }
            if let found { continuation.resume(returning: found) }
        }
    }

    var text: String { state.withLock { $0.text } }

    private static func line(startingWith prefix: String, in text: String) -> String? {
        // Complete lines only: a key may arrive in two reads.
        guard let end = text.lastIndex(of: "\n") else { return nil }
        return text[..<end].split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
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

                let process = Process()
                process.executableURL = helper
                process.arguments = ["\(server.port)", directory.path, email]
                let output = Pipe()
                let reader = LineReader()
                output.fileHandleForReading.readabilityHandler = { handle in reader.append(handle.availableData) }
                process.standardOutput = output
                process.standardError = output
                let exited = Gate()
                process.terminationHandler = { _ in exited.open() }
                try process.run()
                defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
                let sent = try await withTimeout(60) { await reader.line(startingWith: "SENT ") }
                let key = String(sent.dropFirst("SENT ".count))
                kill(process.processIdentifier, SIGKILL)
                try await withTimeout(30) { await exited.wait() }
                output.fileHandleForReading.readabilityHandler = nil
                #expect(process.terminationReason == .uncaughtSignal)
                #expect(process.terminationStatus == SIGKILL)
                #expect(!reader.text.contains("NOT KILLED"))
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
