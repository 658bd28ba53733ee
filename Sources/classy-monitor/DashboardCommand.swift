import ClassyAPI
import ClassyMonitorKit
import Dispatch
import Foundation
import GRPCCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The full-screen dashboard: the alternate screen redrawn in place from a `DashboardState`, sized by TIOCGWINSZ
/// and SIGWINCH, stdin in raw mode for `q`; the terminal is restored however it ends.
struct DashboardCommand {
    let connection: ConnectionOptions
    let email: String?
    let kinds: [EventKind]
    let signals: SignalWatcher
    let noColor: Bool

    /// How often the stream sends metrics snapshots.
    static let metricsInterval: Duration = .seconds(5)
    /// How often the block list is re-read (blocks also end by themselves).
    static let blocksRefresh: Duration = .seconds(30)

    func run() async throws {
        let color = Terminal.colorEnabled(disabledByFlag: noColor)
        // Credentials first: a password prompt needs the terminal in its normal mode.
        let connection = self.connection
        let signals = self.signals
        try await Session.with(connection, email: email) { session in
            let model = Locked(DashboardState(server: session.endpoint.description))
            let dirty = Locked(true)
            let update: @Sendable ((inout DashboardState) -> Void) -> Void = { change in
                model.withLock { change(&$0) }
                dirty.withLock { $0 = true }
            }

            guard let saved = Terminal.enterRawMode() else {
                throw MonitorFailure(.unexpected, "cannot put the terminal in raw mode")
            }
            Terminal.write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[2J", to: STDOUT_FILENO)
            defer {
                Terminal.write("\u{1B}[?25h\u{1B}[?1049l", to: STDOUT_FILENO)
                Terminal.restore(saved)
            }
            let resize = SignalWatcher([SIGWINCH])

            try await withThrowingTaskGroup(of: MonitorFailure?.self) { group in
                // Keys: q, Q, Ctrl-C, Ctrl-D quit (raw mode turns Ctrl-C into a byte).
                group.addTask {
                    await Self.waitForQuitKey()
                    return nil
                }
                group.addTask {
                    _ = await signals.next()
                    return nil
                }
                group.addTask {
                    for await _ in resize.signals { dirty.withLock { $0 = true } }
                    return nil
                }
                group.addTask {
                    await Self.loadSnapshot(session, update: update)
                    while true {
                        try await Task.sleep(for: Self.blocksRefresh)
                        await Self.loadBlocks(session, update: update)
                    }
                }
                group.addTask {
                    let follower = EventFollower(
                        source: GRPCSecurityEventSource(client: session.client),
                        tokens: session.tokens,
                        types: kinds.isEmpty ? [] : (kinds.compactMap(\.apiType) + [.securityMetrics]),
                        metricsInterval: Self.metricsInterval,
                        status: { status in update { $0.connection = status } }
                    )
                    do {
                        try await follower.run(after: nil) { event in update { $0.apply(event) } }
                        return nil
                    } catch let failure as MonitorFailure {
                        return failure
                    }
                }
                // Redraw when something changed, and every second for the clock.
                group.addTask {
                    var lastSecond = -1
                    var lastSize = (columns: 0, rows: 0)
                    while true {
                        let size = Terminal.size()
                        let second = Int(Date().timeIntervalSince1970)
                        let changed = dirty.withLock { value in
                            defer { value = false }
                            return value
                        }
                        if changed || second != lastSecond || size != lastSize {
                            if size != lastSize { Terminal.write("\u{1B}[2J", to: STDOUT_FILENO) }
                            let frame = model.withLock { state in
                                state.now = Date()
                                state.expireBlocks()
                                return DashboardRenderer.frame(
                                    state, columns: size.columns, rows: size.rows, color: color)
                            }
                            Terminal.write(frame, to: STDOUT_FILENO)
                            lastSecond = second
                            lastSize = size
                        }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                let failure = try await group.next() ?? nil
                group.cancelAll()
                if let failure { throw failure }
            }
        }
    }

    /// Reads stdin until a quit key or end of input (or until cancelled; the reading thread is then left blocked
    /// in read(2) until the process exits).
    static func waitForQuitKey() async {
        let resumed = Locked<CheckedContinuation<Void, Never>?>(nil)
        let finish: @Sendable () -> Void = {
            resumed.withLock { continuation in
                continuation?.resume()
                continuation = nil
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                resumed.withLock { $0 = continuation }
                if Task.isCancelled {
                    finish()
                    return
                }
                let thread = Thread {
                    var byte: UInt8 = 0
                    while true {
                        let n = read(STDIN_FILENO, &byte, 1)
                        if n < 0 && errno == EINTR { continue }
                        if n <= 0 { break }
                        if byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") || byte == 3 || byte == 4 { break }
                    }
                    finish()
                }
                thread.start()
            }
        } onCancel: {
            finish()
        }
    }

    /// The first picture: metrics, recent attempts and blocks (errors leave those parts empty: a service account
    /// may only stream).
    static func loadSnapshot(_ session: Session, update: @Sendable ((inout DashboardState) -> Void) -> Void) async {
        if let metrics = try? await session.call(
            "GetSecurityMetrics",
            { metadata, options in
                try await session.monitoring.getSecurityMetrics(.init(), metadata: metadata, options: options)
            })
        {
            update { if $0.metrics == nil { $0.metrics = metrics.metrics } }
        }
        if let attempts = try? await session.call(
            "ListLoginAttempts",
            { metadata, options in
                try await session.monitoring.listLoginAttempts(
                    .with { $0.pageSize = 100 }, metadata: metadata, options: options)
            })
        {
            update { state in
                let live = Set(state.attempts.map(\.id))
                state.attempts += attempts.attempts.filter { !live.contains($0.id) }
            }
        }
        await loadBlocks(session, update: update)
    }

    static func loadBlocks(_ session: Session, update: @Sendable ((inout DashboardState) -> Void) -> Void) async {
        if let blocks = try? await session.call(
            "ListBlockedIPs",
            { metadata, options in
                try await session.monitoring.listBlockedIPs(
                    .with { $0.pageSize = 500 }, metadata: metadata, options: options)
            })
        {
            update { $0.blockedIPs = blocks.blockedIps }
        }
    }
}
