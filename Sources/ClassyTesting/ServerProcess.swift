import Foundation
import Synchronization

/// A child process for tests (the real `classy-server` binary, nginx, …) that a watchdog shell kills if the test
/// process dies first, so no test leaves a process behind even when it crashes.
public final class ChildProcess: Sendable {
    /// The process id.
    public let pid: Int32
    /// What it printed on stdout and stderr so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    private let outputPath: String
    private let watchdog: pid_t?
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments` and `environment` (added to a minimal `PATH`).
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        outputPath = NSTemporaryDirectory() + "classy-child-\(UUID().uuidString.prefix(8).lowercased()).out"
        pid = try Spawn.start(
            [executable] + arguments,
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"].merging(environment) { _, new in new },
            outputPath: outputPath,
            directory: nil
        )
        let script =
            "while kill -0 \(getpid()) 2>/dev/null && kill -0 \(pid) 2>/dev/null; do sleep 1; done; "
            + "kill -9 \(pid) 2>/dev/null"
        watchdog = try? Spawn.start(
            ["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"], outputPath: "/dev/null", directory: nil
        )
    }

    deinit {
        try? FileManager.default.removeItem(atPath: outputPath)
    }

    /// Whether the process is still running.
    public var isRunning: Bool { terminationStatus == nil }

    /// The exit status, once it ended.
    public var terminationStatus: Int32? {
        exitStatus.withLock { status in
            if status == nil { status = Spawn.poll(pid) }
            return status
        }
    }

    /// Waits (at most `timeout`) until the output contains `text`; false if it did not or the process ended.
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.contains(text) { return true }
            if !isRunning { return output.contains(text) }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    /// Waits (at most `timeout`) for the process to end on its own; its exit status, or nil (then it is stopped).
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(25))
        }
        let status = terminationStatus
        await stop()
        return status
    }

    /// Sends `signal` and waits (at most `timeout`) for the process to end, then kills it if it has not.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async {
        if isRunning { kill(pid, signal) }
        let deadline = ContinuousClock.now + timeout
        while isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(25))
        }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
        if let watchdog {
            kill(watchdog, SIGKILL)
            _ = Spawn.wait(watchdog)
        }
    }
}

/// A `classy-server serve` process of the real binary on a free loopback port.
public final class ClassyServerProcess: Sendable {
    /// The child process.
    public let child: ChildProcess
    /// The port it listens on.
    public let port: Int

    /// The binary built beside the test bundle (`swift build` builds it).
    public static var binary: URL? { BuiltBinaries.url("classy-server") }

    /// Starts `classy-server serve --port PORT` with `arguments` and `environment` and waits until it listens.
    public init(arguments: [String], environment: [String: String] = [:], port: Int? = nil) async throws {
        guard let binary = Self.binary else {
            throw TestSetupError("classy-server is not built (run swift build)")
        }
        let port = try port ?? FreePort.find()
        let child = try ChildProcess(
            binary.path, ["serve", "--host", "127.0.0.1", "--port", "\(port)"] + arguments, environment: environment
        )
        guard await child.waitForOutput(containing: "listening on") else {
            await child.stop(signal: SIGKILL)
            throw TestSetupError("classy-server did not start:\n\(child.output.suffix(3000))")
        }
        self.child = child
        self.port = port
    }

    /// Stops it with SIGTERM (graceful) and waits.
    public func stop() async {
        await child.stop()
    }
}

extension ClassyServerProcess {
    /// Starts a server process, runs `body` with it and stops it afterwards, also when `body` throws (the
    /// process output is attached to the error).
    public static func with<T>(
        arguments: [String],
        environment: [String: String] = [:],
        port: Int? = nil,
        _ body: (ClassyServerProcess) async throws -> T
    ) async throws -> T {
        let server = try await ClassyServerProcess(arguments: arguments, environment: environment, port: port)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw ProcessFailure(error: error, output: server.child.output)
        }
    }
}

/// A test step failed while a child process ran; carries the end of its output.
public struct ProcessFailure: Error, CustomStringConvertible {
    /// What failed.
    public let error: any Error
    /// The end of the process output.
    public let output: String

    init(error: any Error, output: String) {
        self.error = error
        self.output = String(output.suffix(4000))
    }

    public var description: String { "\(error)\n--- process output ---\n\(output)" }
}
