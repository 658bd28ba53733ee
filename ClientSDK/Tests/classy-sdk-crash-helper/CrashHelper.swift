@_spi(Testing) import ClassySDK
import Foundation

/// A test helper process for ClassySDKTests: with the account signed in under `--dir`, it creates a
/// user through the outbox, prints `SENT <idempotency key>` once the server has applied it (before
/// the outbox records that), then hangs so the test can kill it with SIGKILL at exactly that point.
///
/// Usage: classy-sdk-crash-helper PORT DATA_DIRECTORY NEW_EMAIL
@main
enum CrashHelper {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 4, let port = Int(arguments[1]) else {
            FileHandle.standardError.write(Data("usage: classy-sdk-crash-helper PORT DATA_DIRECTORY NEW_EMAIL\n".utf8))
            exit(64)
        }
        var configuration = ClassyClient.Configuration(
            host: "127.0.0.1", port: port, dataDirectory: URL(fileURLWithPath: arguments[2])
        )
        configuration.autoSync = false
        configuration.hooks.afterMutationSent = { key in
            print("SENT \(key)")
            fflush(nil)
            try await Task.sleep(for: .seconds(600))
        }
        try await withClassyClient(configuration) { client in
            _ = try await client.users.create(
                NewUser(email: arguments[3], password: "a long enough password", firstName: "Crash", lastName: "Test")
            )
        }
        print("NOT KILLED")
    }
}
