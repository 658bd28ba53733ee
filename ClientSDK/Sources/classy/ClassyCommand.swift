import ArgumentParser
import ClassySDK
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `classy`: a command-line client of Classy Book, built on ClassySDK.
@main
struct Classy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classy",
        abstract: "Command-line client of a Classy Book server.",
        discussion: """
            Profiles and tokens live in $CLASSY_CONFIG_DIR, else $XDG_CONFIG_HOME/classy, else ~/.config/classy.

            Exit codes: 0 success; 1 other failure; 2 not signed in or credentials refused; \
            3 permission denied (role, blocked IP, locked account); 4 not found; \
            5 conflict (stale etag, email taken); 6 server unreachable or not answering in time; \
            64 bad usage or input; 65 input refused by the server (INVALID_FIELD); \
            75 mutation queued offline (sent by a later command once the server is reachable).
            """,
        subcommands: [
            Login.self, Logout.self, WhoAmI.self, Sessions.self, Users.self, Notifications.self, BlockIP.self,
            UnblockIP.self, Unlock.self, Outbox.self,
        ]
    )
}

/// The documented exit codes.
enum Exit {
    static let failure: Int32 = 1
    static let unauthenticated: Int32 = 2
    static let permissionDenied: Int32 = 3
    static let notFound: Int32 = 4
    static let conflict: Int32 = 5
    static let unreachable: Int32 = 6
    static let usage: Int32 = 64
    static let invalidInput: Int32 = 65
    static let queued: Int32 = 75

    static func code(for error: ClassyClientError) -> Int32 {
        if error.isOffline { return unreachable }
        switch error.status {
        case .unauthenticated: return unauthenticated
        case .permissionDenied: return permissionDenied
        case .resourceExhausted: return error.reason == "ACCOUNT_LOCKED" ? permissionDenied : failure
        case .notFound: return notFound
        case .aborted, .alreadyExists: return conflict
        case .invalidArgument: return invalidInput
        case .unavailable, .deadlineExceeded: return unreachable
        default: return failure
        }
    }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Server address HOST:PORT (default: the profile's, else 127.0.0.1:50051).")
    var server: String?

    @Flag(name: .long, help: "Use TLS (system trust roots unless --ca-cert).")
    var tls = false

    @Option(
        name: .customLong("ca-cert"), help: "PEM file of the CA that signed the server certificate (implies --tls).")
    var caCert: String?

    @Option(name: .long, help: "Profile name (default: default).")
    var profile = "default"

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @Option(name: .long, help: "Seconds to wait for each call (default 30).")
    var timeout = 30

    func validate() throws {
        if let server, Endpoint(server) == nil {
            throw ValidationError("--server must be HOST:PORT with a port from 1 to 65535, got '\(server)'")
        }
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be 1 to 3600 seconds") }
        if let caCert, !FileManager.default.isReadableFile(atPath: caCert) {
            throw ValidationError("--ca-cert: cannot read '\(caCert)'")
        }
        guard !profile.isEmpty, profile.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ValidationError("--profile must be letters, digits, '-' or '_'")
        }
    }
}

/// HOST:PORT.
struct Endpoint: Codable, Equatable {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        self.init(host: host, port: port)
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A saved profile: which server it talks to and how.
struct Profile: Codable {
    var server: Endpoint
    var tls: Bool
    var caCert: String?
}

/// Where profiles live: `$CLASSY_CONFIG_DIR`, `$XDG_CONFIG_HOME/classy` or `~/.config/classy`.
enum ConfigDirectory {
    static var root: URL {
        let environment = ProcessInfo.processInfo.environment
        if let dir = environment["CLASSY_CONFIG_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("classy")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config/classy")
    }

    static func profile(_ name: String) -> URL { root.appendingPathComponent("profiles").appendingPathComponent(name) }
}

extension GlobalOptions {
    var profileDirectory: URL { ConfigDirectory.profile(profile) }

    func savedProfile() -> Profile? {
        let url = profileDirectory.appendingPathComponent("profile.json")
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(Profile.self, from: data)
    }

    /// Flags override the saved profile, which overrides the defaults.
    func resolvedProfile() -> Profile {
        let saved = savedProfile()
        let endpoint = server.flatMap(Endpoint.init) ?? saved?.server ?? Endpoint(host: "127.0.0.1", port: 50051)
        let ca = caCert ?? (server == nil ? saved?.caCert : nil)
        let useTLS = tls || ca != nil || (server == nil && (saved?.tls ?? false))
        return Profile(server: endpoint, tls: useTLS, caCert: ca)
    }

    func saveProfile(_ profile: Profile) throws {
        try FileManager.default.createDirectory(
            at: profileDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(profile).write(to: profileDirectory.appendingPathComponent("profile.json"), options: .atomic)
    }

    func clientConfiguration(_ profile: Profile) -> ClassyClient.Configuration {
        var configuration = ClassyClient.Configuration(
            host: profile.server.host, port: profile.server.port,
            transportSecurity: profile.caCert.map { .tlsTrusting(caCertificatePath: $0) }
                ?? (profile.tls ? .tls : .plaintext),
            dataDirectory: profileDirectory,
            clientInfo: ClientInfo(
                deviceName: ProcessInfo.processInfo.hostName, platform: "cli", appVersion: "1", userAgent: "classy-cli"
            )
        )
        configuration.autoSync = false
        configuration.callTimeout = .seconds(timeout)
        configuration.backoff = .init(initial: .milliseconds(100), maximum: .seconds(1))
        return configuration
    }

    /// Runs `body` with a client for the profile; maps SDK errors to a message and an exit code.
    func run(replayOutbox: Bool = true, _ body: (ClassyClient, Output) async throws -> Void) async throws {
        let profile = resolvedProfile()
        let output = Output(json: json)
        do {
            try await withClassyClient(clientConfiguration(profile)) { client in
                if replayOutbox, await client.account != nil {
                    // Mutations queued by earlier commands go first, in order (best effort).
                    _ = try? await client.outbox.replay()
                }
                try await body(client, output)
            }
        } catch let error as ClassyClientError {
            output.error(error)
            throw ExitCode(Exit.code(for: error))
        }
    }
}

/// Prints results as text or JSON, and errors to stderr.
struct Output {
    let json: Bool

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }()

    func print<Value: Encodable>(json value: Value, text: @autoclosure () -> String) {
        if json {
            let data = (try? Self.encoder.encode(value)) ?? Data("null".utf8)
            Swift.print(String(decoding: data, as: UTF8.self))
        } else {
            Swift.print(text())
        }
        fflush(nil)
    }

    func error(_ error: ClassyClientError) {
        if json {
            let data = (try? Self.encoder.encode(error)) ?? Data()
            FileHandle.standardError.write(data + Data("\n".utf8))
        } else {
            FileHandle.standardError.write(Data("classy: error: \(Self.explain(error))\n".utf8))
        }
    }

    static func explain(_ error: ClassyClientError) -> String {
        switch error.reason {
        case "OFFLINE": return "cannot reach the server, or it did not answer in time (\(error.message))"
        case "SIGNED_OUT": return "not signed in: run `classy login`"
        case "INVALID_CREDENTIALS": return "wrong email or password"
        default: return error.description
        }
    }
}

/// Reads a password: from stdin when `fromStdin`, else from the terminal without echo.
func readPassword(prompt: String, fromStdin: Bool) throws -> String {
    if fromStdin {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("--password-stdin: no password on standard input")
        }
        return line
    }
    guard isatty(STDIN_FILENO) == 1 else {
        throw ValidationError("standard input is not a terminal: use --password-stdin")
    }
    FileHandle.standardError.write(Data(prompt.utf8))
    var original = termios()
    tcgetattr(STDIN_FILENO, &original)
    var silent = original
    silent.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
    defer {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
        FileHandle.standardError.write(Data("\n".utf8))
    }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("no password entered")
    }
    return line
}

/// Prints what happened to a mutation; a queued one exits 75.
func report<Value: Encodable>(
    _ outcome: MutationOutcome<Value>, output: Output, text: (Value) -> String
) throws {
    switch outcome {
    case .applied(let value):
        output.print(json: value, text: text(value))
    case .queued(let pending):
        output.print(
            json: ["status": "queued", "id": "\(pending.id)", "operation": pending.operation.name],
            text:
                "queued \(pending.operation.name) (#\(pending.id)): the server is unreachable; a later command sends it"
        )
        throw ExitCode(Exit.queued)
    case .conflicted(let conflict):
        output.print(
            json: conflict,
            text:
                "conflict: the record changed on the server (etag \(conflict.server?.etag ?? "deleted")); read it again"
        )
        throw ExitCode(Exit.conflict)
    }
}

struct Done: Encodable {
    var ok = true
}
