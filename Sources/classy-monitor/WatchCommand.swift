import ArgumentParser
import ClassyAPI
import ClassyMonitorKit
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `classy-monitor watch`: security events as lines or JSON, resuming across disconnects and restarts.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print security events as they happen (the default subcommand).",
        discussion: """
            Reconnects with jittered exponential backoff and resumes after the last event printed, so no event is \
            missed or repeated. With --state-file the last sequence survives restarts. SIGINT/SIGTERM stop it \
            with status 0.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var signIn: SignInOptions

    @Flag(help: "One JSON object per line (schema in the README).")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Only these event types, comma-separated: login_attempt, ip_blocked, ip_unblocked, account_locked, refresh_token_reused, audit_log, security_metrics.",
            valueName: "types"))
    var types: String?

    @Option(
        help: ArgumentHelp(
            "Start after this sequence (0: everything kept). Overrides the state file.", valueName: "seq"))
    var since: UInt64?

    @Option(
        name: .customLong("state-file"),
        help: ArgumentHelp(
            "Keep the last printed sequence in this file (written atomically after each line) and resume after it.",
            valueName: "path"))
    var stateFile: String?

    @Option(
        name: .customLong("metrics-interval"),
        help: ArgumentHelp(
            "Also print a metrics snapshot this often (seconds, at least 1).", valueName: "seconds"))
    var metricsInterval: Int?

    @Option(
        name: .customLong("give-up-after"),
        help: ArgumentHelp(
            "Exit with status 5 after this many seconds without a connection (default: keep trying).",
            valueName: "seconds"))
    var giveUpAfter: Double?

    @Flag(
        help:
            "Full-screen live view (metrics, failures per minute, latest attempts, blocked IPs); q quits. Falls back to lines when stdout is not a terminal."
    )
    var dashboard = false

    @Flag(
        name: .customLong("no-color"), help: "Never colour the output (also: NO_COLOR set, or stdout not a terminal).")
    var noColor = false

    func validate() throws {
        if let metricsInterval, metricsInterval < 1 { throw ValidationError("--metrics-interval must be at least 1") }
        if let giveUpAfter, giveUpAfter <= 0 { throw ValidationError("--give-up-after must be positive") }
        if let types { _ = try EventKind.parseList(types) }
        if let stateFile {
            // Fail now rather than after the first event: the state file is written beside itself, then renamed.
            let directory = URL(fileURLWithPath: stateFile).deletingLastPathComponent().path
            guard access(directory, W_OK) == 0 else {
                throw ValidationError("--state-file: cannot write in the directory '\(directory)'")
            }
        }
    }

    mutating func run() async throws {
        let signals = SignalWatcher([SIGINT, SIGTERM])
        let kinds = try types.map { try EventKind.parseList($0) } ?? []
        if dashboard {
            if Terminal.isTTY(STDOUT_FILENO) && Terminal.isTTY(STDIN_FILENO) {
                try await DashboardCommand(
                    connection: connection, email: signIn.email, kinds: kinds, signals: signals, noColor: noColor
                ).run()
                return
            }
            Terminal.write(
                "classy-monitor: stdout is not a terminal: printing events instead of the dashboard\n",
                to: STDERR_FILENO)
        }
        let state = stateFile.map(StateFile.init(path:))
        let start = try since ?? state?.load()
        let output = EventOutput(
            json: json,
            color: !json && Terminal.colorEnabled(disabledByFlag: noColor),
            stateFile: state,
            lastSequence: start
        )
        let status = StatusLine()
        let metricsInterval = self.metricsInterval.map { Duration.seconds($0) }
        let giveUpAfter = self.giveUpAfter.map { Duration.milliseconds(Int64($0 * 1000)) }
        let connection = self.connection
        let email = signIn.email
        try await Session.with(connection, email: email) { session in
            let endpoint = session.endpoint
            let follower = EventFollower(
                source: GRPCSecurityEventSource(client: session.client),
                tokens: session.tokens,
                types: kinds.compactMap(\.apiType),
                metricsInterval: metricsInterval,
                giveUpAfter: giveUpAfter,
                status: { state in
                    // In a log (stderr not a terminal) the "reconnecting in" line already announces each retry.
                    if case .connecting(let attempt) = state, attempt > 0, !status.inPlace { return }
                    status.show(StatusText.describe(state, endpoint: endpoint, after: output.lastSequence))
                }
            )
            let interrupted: Bool
            do {
                interrupted = try await runUntilInterrupted(signals) {
                    try await follower.run(after: start) { event in try output.deliver(event) }
                }
            } catch let error as DeliveryError where error.underlying is OutputClosed {
                interrupted = false
            } catch let error as DeliveryError {
                status.finish()
                throw error.underlying
            } catch {
                status.finish()
                throw error
            }
            if interrupted {
                status.finish()
                let saved = state.map { " (saved to \($0.path))" } ?? ""
                Terminal.write(
                    "classy-monitor: stopped after sequence \(output.lastSequence.map(String.init) ?? "-")\(saved)\n",
                    to: STDERR_FILENO
                )
            }
        }
    }
}

/// Writes events to stdout, then records their sequence in the state file.
final class EventOutput: Sendable {
    let json: Bool
    let color: Bool
    let stateFile: StateFile?
    private let last: Mutex<UInt64?>

    init(json: Bool, color: Bool, stateFile: StateFile?, lastSequence: UInt64?) {
        self.json = json
        self.color = color
        self.stateFile = stateFile
        self.last = Mutex(lastSequence)
    }

    var lastSequence: UInt64? { last.withLock { $0 } }

    /// Prints one event (heartbeats are not printed) and, once it is written, saves its sequence.
    func deliver(_ event: SecurityEvent) throws {
        if case .heartbeat = event.event { return }
        let line = json ? EventJSON.event(event).serialized : EventLine.render(event, color: color)
        // One write(2) per line: the line has left the process before the state file moves on.
        guard Terminal.write(line + "\n", to: STDOUT_FILENO) else { throw OutputClosed() }
        if event.sequence > 0 {
            try stateFile?.save(event.sequence)
            last.withLock { $0 = event.sequence }
        }
    }
}

/// stdout was closed (e.g. the reader of a pipe exited): stop quietly.
struct OutputClosed: Error {}

/// The status line texts.
enum StatusText {
    static func describe(_ status: FollowerStatus, endpoint: ServerEndpoint, after: UInt64?) -> String {
        switch status {
        case .connecting(let attempt):
            return attempt == 0
                ? "classy-monitor: connecting to \(endpoint)…"
                : "classy-monitor: connecting to \(endpoint) (attempt \(attempt + 1))…"
        case .connected:
            let position = after.map { "resuming after #\($0)" } ?? "live"
            return "classy-monitor: connected to \(endpoint) (\(position))"
        case .reconnecting(let attempt, let delay, let reason):
            return
                "classy-monitor: disconnected (\(reason)); reconnecting in \(String(format: "%.1f", delay.seconds))s (attempt \(attempt))"
        case .renewingToken:
            return "classy-monitor: access token expired; signing in again"
        }
    }
}
