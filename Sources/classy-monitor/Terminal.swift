import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's terminal: tty checks, size, raw mode, the alternate screen, and a password prompt.
enum Terminal {
    static func isTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Whether stdout gets colour: a terminal, and NO_COLOR unset (https://no-color.org).
    static func colorEnabled(disabledByFlag: Bool) -> Bool {
        if disabledByFlag { return false }
        if let value = ProcessInfo.processInfo.environment["NO_COLOR"], !value.isEmpty { return false }
        return isTTY(STDOUT_FILENO)
    }

    /// The size of the terminal on stdout (TIOCGWINSZ), else COLUMNS/LINES, else 80x24.
    static func size() -> (columns: Int, rows: Int) {
        var size = winsize()
        let result = withUnsafeMutablePointer(to: &size) { ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), $0) }
        if result == 0, size.ws_col > 0, size.ws_row > 0 {
            return (Int(size.ws_col), Int(size.ws_row))
        }
        let environment = ProcessInfo.processInfo.environment
        return (environment["COLUMNS"].flatMap(Int.init) ?? 80, environment["LINES"].flatMap(Int.init) ?? 24)
    }

    /// Puts stdin in raw mode (no echo, no line buffering, no signals from keys); returns the settings to restore.
    static func enterRawMode() -> termios? {
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return nil }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | BRKINT | INPCK | ISTRIP)
        raw.c_cflag |= tcflag_t(CS8)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return nil }
        return original
    }

    static func restore(_ settings: termios) {
        var settings = settings
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &settings)
    }

    /// Writes all of `text` to `fd`, retrying short writes; false if the descriptor is gone (EPIPE and the like).
    @discardableResult
    static func write(_ text: String, to fd: Int32) -> Bool {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// Prompts on /dev/tty and reads a line without echo.
    static func readPassword(prompt: String) throws -> String {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY)
        guard fd >= 0 else {
            throw MonitorUsage("no terminal to prompt for the password on: use --password-stdin")
        }
        defer { close(fd) }
        var original = termios()
        let haveTermios = tcgetattr(fd, &original) == 0
        if haveTermios {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            silent.c_lflag |= tcflag_t(ECHONL)
            tcsetattr(fd, TCSANOW, &silent)
        }
        defer { if haveTermios { tcsetattr(fd, TCSANOW, &original) } }
        write(prompt, to: fd)
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { break }
            line.append(byte)
        }
        return String(decoding: line, as: UTF8.self)
    }
}

/// A usage error raised while preparing a command (exit status 2).
struct MonitorUsage: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A status line on stderr: rewritten in place on a terminal of its own, one line per change otherwise.
final class StatusLine: Sendable {
    /// True when the line is rewritten in place: stderr is a terminal that the events on stdout do not share (they
    /// would land on the end of the status line).
    let inPlace = Terminal.isTTY(STDERR_FILENO) && !Terminal.isTTY(STDOUT_FILENO)
    private let shown = Mutex<Bool>(false)

    func show(_ text: String) {
        shown.withLock { shown in
            if inPlace {
                Terminal.write("\r\u{1B}[K" + text, to: STDERR_FILENO)
                shown = true
            } else {
                Terminal.write(text + "\n", to: STDERR_FILENO)
            }
        }
    }

    /// Ends an in-place line so later output starts on a fresh line.
    func finish() {
        shown.withLock { shown in
            if shown { Terminal.write("\n", to: STDERR_FILENO) }
            shown = false
        }
    }
}
