import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file in which `watch --state-file` keeps the sequence of the last event it printed.
///
/// Contents: one JSON object, `{"last_sequence": 42}`. Every save writes a temporary file beside it, flushes it to
/// disk and renames it over the old one, so a crash leaves either the old or the new value, never a torn file.
public struct StateFile: Sendable {
    /// Where the file is.
    public let path: String

    /// The state file at `path` (not read yet).
    public init(path: String) {
        self.path = path
    }

    /// The saved sequence, or nil if the file does not exist.
    public func load() throws(MonitorFailure) -> UInt64? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MonitorFailure(.unexpected, "cannot read the state file '\(path)': \(error.localizedDescription)")
        }
        struct Contents: Decodable {
            var last_sequence: UInt64
        }
        guard let value = try? JSONDecoder().decode(Contents.self, from: data).last_sequence else {
            throw MonitorFailure(
                .usage, "the state file '\(path)' is not a classy-monitor state file ({\"last_sequence\": N})")
        }
        return value
    }

    /// Saves `sequence` atomically (temporary file, fsync, rename).
    public func save(_ sequence: UInt64) throws(MonitorFailure) {
        let bytes = Array("{\"last_sequence\":\(sequence)}\n".utf8)
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw failure("create '\(temporary)'") }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = failure("write '\(temporary)'")
                close(fd)
                unlink(temporary)
                throw error
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let error = failure("flush '\(temporary)'")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = failure("rename '\(temporary)' to '\(path)'")
            unlink(temporary)
            throw error
        }
        // Make the rename itself durable.
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    private func failure(_ what: String) -> MonitorFailure {
        MonitorFailure(.unexpected, "cannot \(what) for the state file: \(String(cString: strerror(errno)))")
    }
}
