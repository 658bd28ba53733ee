import ArgumentParser
import ClassyMonitorKit
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `classy-monitor`: the security operator's terminal client of StreamSecurityEvents and MonitoringService.
struct ClassyMonitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classy-monitor",
        abstract: "Watch Classy Book's security events live, and administer IP blocks.",
        discussion: """
            Credentials: --email (password prompted, or --password-stdin), --client-id with CLASSY_CLIENT_SECRET or \
            --client-secret-file (a service account), or an access token in CLASSY_TOKEN.
            Exit status: 0 ok or interrupted, 1 unexpected error, 2 usage, 3 authentication failed, 4 permission \
            denied, 5 server unreachable, 6 refused by the server (not found, allow-listed).
            """,
        version: MonitorVersion.current,
        subcommands: [Watch.self, Metrics.self, Attempts.self, Blocked.self, Block.self, Unblock.self],
        defaultSubcommand: Watch.self
    )
}

@main
enum Main {
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        let command: any ParsableCommand
        do {
            command = try ClassyMonitor.parseAsRoot()
        } catch {
            if ClassyMonitor.exitCode(for: error) == .success { ClassyMonitor.exit(withError: error) }
            Terminal.write(ClassyMonitor.fullMessage(for: error) + "\n", to: STDERR_FILENO)
            exit(MonitorFailure.Kind.usage.exitCode)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
            exit(0)
        } catch let failure as MonitorFailure {
            fail(failure.message, failure.exitCode)
        } catch let error as ValidationError {
            fail(error.message, MonitorFailure.Kind.usage.exitCode)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            // ArgumentParser's own outcomes (help, version, usage) surface here too.
            switch ClassyMonitor.exitCode(for: error) {
            case .success:
                ClassyMonitor.exit(withError: error)
            case .validationFailure:
                Terminal.write(ClassyMonitor.fullMessage(for: error) + "\n", to: STDERR_FILENO)
                exit(MonitorFailure.Kind.usage.exitCode)
            default:
                let failure = MonitorFailure(error, operation: "classy-monitor")
                fail(failure.message, failure.exitCode)
            }
        }
    }

    static func fail(_ message: String, _ status: Int32) -> Never {
        Terminal.write("classy-monitor: error: \(message)\n", to: STDERR_FILENO)
        exit(status)
    }
}
