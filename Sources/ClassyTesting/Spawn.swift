import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Starts processes with `posix_spawn` and reaps them with `waitpid`, output to a file.
///
/// Foundation's `Process` notices a child's exit through a descriptor the child inherits, so a child that leaves a
/// daemon behind (pg_ctl starting postgres, nginx forking workers) looks alive for as long as the daemon runs; this
/// helper waits for exactly the process it started.
enum Spawn {
    /// Starts `arguments[0]` (an absolute path) with the rest as arguments, stdin from /dev/null and stdout and
    /// stderr appended to `outputPath`; returns the pid.
    static func start(
        _ arguments: [String], environment: [String: String], outputPath: String, directory: String?
    )
        throws -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // posix_spawn_file_actions_addchdir_np is not exported to Swift here: change directory through sh.
        let arguments = directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + arguments } ?? arguments
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard status == 0 else {
            throw TestSetupError("cannot start \(arguments[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Waits for `pid` to end and returns its exit status (128+signal when killed).
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return exitCode(status)
    }

    /// The exit status of `pid` if it has ended (reaping it), nil while it runs.
    static func poll(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return exitCode(status) }
        if result < 0 { return -1 }
        return nil
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs a command to completion and throws with its output if it fails.
    static func run(_ arguments: [String], directory: String? = nil) throws {
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
