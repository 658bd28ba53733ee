import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Starts processes with `posix_spawn` and reaps them with `waitpid`, output to a file.
///
/// Foundation's `Process` notices a child's exit through a descriptor the child inherits, so a child that leaves a
/// daemon behind (pg_ctl starting postgres, nginx forking workers) looks alive for as long as the daemon runs; this
/// helper waits for exactly the process it started. On Linux `Process` also watches its children through
/// libdispatch, which has crashed the test process (`_dispatch_event_loop_drain`); nothing here uses libdispatch.
///
/// A child starts with default signal handlers and no blocked signals, and (glibc 2.34+) inherits no descriptors
/// but 0, 1 and 2.
public enum Spawn {
    /// Starts `arguments[0]` (an absolute path) with the rest as arguments and exactly `environment`, in
    /// `directory` if given; stdout is appended to `outputPath`, stderr to `errorPath` (`outputPath` when nil),
    /// stdin is the descriptor `input` (/dev/null when nil). Returns the pid.
    public static func start(
        _ arguments: [String], environment: [String: String], outputPath: String, errorPath: String? = nil,
        input: Int32? = nil, directory: String?
    )
        throws -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Descriptors the test process made without O_CLOEXEC (Foundation's Pipe does) must not leak into the child:
        // a leaked pipe end keeps another child from seeing end of file.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let closeFrom = gnu("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self) {
            _ = closeFrom(&actions, 3)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        // posix_spawn_file_actions_addchdir_np is not exported to Swift here: change directory through sh.
        let arguments = directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + arguments } ?? arguments
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw TestSetupError("cannot start \(arguments[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Waits for `pid` to end and returns its exit status (128+signal when killed). Blocks the calling thread: in
    /// async code poll with ``poll(_:)`` or use ``Child/waitForExit(timeout:)``.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Termination(status).status
    }

    /// The exit status of `pid` (128+signal when killed) if it has ended (reaping it), nil while it runs.
    public static func poll(_ pid: pid_t) -> Int32? {
        reap(pid)?.status
    }

    /// How `pid` ended if it has (reaping it), nil while it runs; `.exited(-1)` if it cannot be waited for.
    static func reap(_ pid: pid_t) -> Termination? {
        var status: Int32 = 0
        var result = waitpid(pid, &status, WNOHANG)
        while result < 0 && errno == EINTR { result = waitpid(pid, &status, WNOHANG) }
        if result == pid { return Termination(status) }
        if result < 0 { return .exited(-1) }
        return nil
    }

    /// The glibc function `name`, which Swift does not see when it is declared for _GNU_SOURCE only.
    private static func gnu<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(nil, name).map { unsafeBitCast($0, to: type) }
    }

    /// A pipe whose two ends are closed on exec (a child gets one only through a `dup2` file action).
    static func makePipe() throws -> (read: Int32, write: Int32) {
        typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
        var ends: [Int32] = [-1, -1]
        guard let pipe2 = gnu("pipe2", as: Pipe2.self), pipe2(&ends, O_CLOEXEC) == 0 else {
            throw TestSetupError("cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        return (ends[0], ends[1])
    }

    /// Runs a command to completion and throws with its output if it fails.
    public static func run(_ arguments: [String], directory: String? = nil) throws {
        let outputPath = NSTemporaryDirectory() + "classy-spawn-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let pid = try start(
            arguments, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], outputPath: outputPath,
            directory: directory
        )
        let status = wait(pid)
        guard status == 0 else {
            let text = ((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw TestSetupError("\(arguments.joined(separator: " ")) failed (\(status)): \(text)")
        }
    }
}

extension Spawn {
    /// How a process ended.
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        /// It exited with this code.
        case exited(Int32)
        /// A signal with this number killed it.
        case signaled(Int32)

        init(_ waitStatus: Int32) {
            let signal = waitStatus & 0x7f
            self = signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signaled(signal)
        }

        /// The status as a shell reports it: the exit code, or 128 + the signal number.
        public var status: Int32 {
            switch self {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            }
        }

        public var description: String {
            switch self {
            case .exited(let code): "exit \(code)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    /// A started process whose stdout and stderr go to temporary files (read back at any time, also while it runs)
    /// and whose stdin is a pipe (``input``) or /dev/null. Waiting polls `waitpid` without blocking and sleeps between
    /// polls, so no thread is held. Released while it still runs, it is killed with SIGKILL and reaped.
    public final class Child: Sendable {
        /// The process id.
        public let pid: pid_t
        /// The write end of its stdin, when started with `input: true`: write to it, close it for end of file.
        /// (The test process ignores SIGPIPE from then on, so writing after the child is gone throws instead.)
        public let input: FileHandle?

        private let outputPath: String
        private let errorPath: String?
        private let termination = Mutex<Termination?>(nil)

        /// Starts `executable` (an absolute path) with `arguments` and exactly `environment` (by default the test
        /// process's), in `directory` if given. With `input` stdin is a pipe, else /dev/null; with `mergeErrors`
        /// stderr goes to ``stdout`` too.
        public init(
            _ executable: String, _ arguments: [String],
            environment: [String: String] = ProcessInfo.processInfo.environment, directory: String? = nil,
            input: Bool = false, mergeErrors: Bool = false
        ) throws {
            let base = NSTemporaryDirectory() + "classy-spawn-\(UUID().uuidString.prefix(8).lowercased())"
            outputPath = base + ".out"
            errorPath = mergeErrors ? nil : base + ".err"
            var pipe: (read: Int32, write: Int32)? = nil
            if input {
                _ = Self.ignoreBrokenPipes
                pipe = try Spawn.makePipe()
            }
            do {
                pid = try Spawn.start(
                    [executable] + arguments, environment: environment, outputPath: outputPath, errorPath: errorPath,
                    input: pipe?.read, directory: directory
                )
            } catch {
                if let pipe {
                    close(pipe.read)
                    close(pipe.write)
                }
                throw error
            }
            if let pipe { close(pipe.read) }
            self.input = pipe.map { FileHandle(fileDescriptor: $0.write, closeOnDealloc: true) }
        }

        deinit {
            termination.withLock { termination in
                guard termination == nil, Spawn.reap(pid) == nil else { return }
                kill(pid, SIGKILL)
                _ = Spawn.wait(pid)
            }
            try? FileManager.default.removeItem(atPath: outputPath)
            if let errorPath { try? FileManager.default.removeItem(atPath: errorPath) }
        }

        /// What it wrote to stdout so far (and to stderr, with `mergeErrors`).
        public var stdout: String { Self.read(outputPath) }

        /// What it wrote to stderr so far ("" with `mergeErrors`).
        public var stderr: String { errorPath.map(Self.read) ?? "" }

        /// How it ended, nil while it runs.
        public var ended: Termination? {
            termination.withLock { termination in
                if termination == nil { termination = Spawn.reap(pid) }
                return termination
            }
        }

        /// Whether it still runs.
        public var isRunning: Bool { ended == nil }

        /// Sends `signal` if it still runs (never to a reaped pid, which may belong to another process by now).
        public func signal(_ signal: Int32) {
            termination.withLock { termination in
                if termination == nil { termination = Spawn.reap(pid) }
                if termination == nil { kill(pid, signal) }
            }
        }

        /// Waits (at most `timeout`) for it to end; how it ended, or nil if it still runs.
        public func waitForExit(timeout: Duration) async throws -> Termination? {
            let deadline = ContinuousClock.now + timeout
            while true {
                if let ended { return ended }
                if ContinuousClock.now >= deadline { return nil }
                try await Task.sleep(for: .milliseconds(25))
            }
        }

        /// Waits for it to end, however long that takes.
        public func waitForExit() async throws -> Termination {
            while true {
                if let ended { return ended }
                try await Task.sleep(for: .milliseconds(25))
            }
        }

        /// Sends `signal`, waits (at most `grace`) for it to end, then kills it with SIGKILL if it has not; how it
        /// ended.
        @discardableResult
        public func stop(signal: Int32 = SIGTERM, grace: Duration = .seconds(20)) async throws -> Termination {
            self.signal(signal)
            if let ended = try await waitForExit(timeout: grace) { return ended }
            self.signal(SIGKILL)
            return try await waitForExit()
        }

        private static func read(_ path: String) -> String {
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }

        /// Writing to a pipe whose reader is gone raises SIGPIPE, which would end the test process: ignore it (a
        /// child gets the default handler back, see ``Spawn``).
        private static let ignoreBrokenPipes: Void = { _ = Glibc.signal(SIGPIPE, SIG_IGN) }()
    }
}
