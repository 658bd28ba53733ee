import ArgumentParser
import ClassyAPI
import ClassyMonitorKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// Server address, TLS and credentials: shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Server address HOST:PORT ([IPv6]:PORT for IPv6).")
    var server = "127.0.0.1:50051"

    @Flag(help: "Use TLS (server certificate checked against the system roots, or --ca-cert).")
    var tls = false

    @Option(
        name: .customLong("ca-cert"),
        help: ArgumentHelp("PEM CA bundle that signs the server certificate (implies --tls).", valueName: "path"))
    var caCert: String?

    @Option(
        name: .customLong("client-cert"),
        help: ArgumentHelp("PEM client certificate for mTLS (with --client-key).", valueName: "path"))
    var clientCert: String?

    @Option(name: .customLong("client-key"), help: ArgumentHelp("PEM private key of --client-cert.", valueName: "path"))
    var clientKey: String?

    @Flag(help: "Read the password from the first line of stdin.")
    var passwordStdin = false

    @Option(
        name: .customLong("client-id"),
        help: "Service account client id; the secret comes from CLASSY_CLIENT_SECRET or --client-secret-file.")
    var clientID: String?

    @Option(
        name: .customLong("client-secret-file"),
        help: ArgumentHelp("File holding the service account's client secret.", valueName: "path"))
    var clientSecretFile: String?

    @Option(
        help: ArgumentHelp(
            "Seconds to wait for each unary call, and for the server when it cannot be reached.", valueName: "seconds"))
    var timeout: Double = 15

    func validate() throws {
        if clientSecretFile != nil && clientID == nil {
            throw ValidationError("--client-secret-file needs --client-id")
        }
        if (clientCert == nil) != (clientKey == nil) {
            throw ValidationError("--client-cert and --client-key go together")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        for (flag, path) in [
            ("--ca-cert", caCert), ("--client-cert", clientCert), ("--client-key", clientKey),
            ("--client-secret-file", clientSecretFile),
        ] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("\(flag): cannot read '\(path)'")
            }
        }
    }

    func endpoint() throws -> ServerEndpoint {
        let useTLS = tls || caCert != nil || clientCert != nil
        let options =
            useTLS
            ? ServerEndpoint.TLSOptions(
                caCertificatePath: caCert, clientCertificatePath: clientCert, clientKeyPath: clientKey)
            : nil
        return try ServerEndpoint(parsing: server, tls: options)
    }

    /// Checks the sign-in e-mail against the other credential flags.
    func validate(email: String?) throws {
        if email != nil && clientID != nil {
            throw ValidationError("use either --email/--user or --client-id, not both")
        }
        if passwordStdin && email == nil { throw ValidationError("--password-stdin needs --email (or --user)") }
    }

    /// The credentials from the flags and environment (prompting for a password if needed).
    func credentials(email: String?) throws -> Credentials {
        let environment = ProcessInfo.processInfo.environment
        if let clientID {
            let secret: String
            if let clientSecretFile {
                secret = try String(contentsOfFile: clientSecretFile, encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)
            } else if let value = environment["CLASSY_CLIENT_SECRET"], !value.isEmpty {
                secret = value
            } else {
                throw MonitorFailure.usage(
                    "--client-id needs the secret in CLASSY_CLIENT_SECRET or --client-secret-file")
            }
            guard !secret.isEmpty else { throw MonitorFailure.usage("the client secret is empty") }
            return .clientCredentials(clientID: clientID, clientSecret: secret)
        }
        if let email {
            let password: String
            if passwordStdin {
                guard let line = readLine(strippingNewline: true) else {
                    throw MonitorFailure.usage("--password-stdin: stdin is empty")
                }
                password = line
            } else {
                do {
                    password = try Terminal.readPassword(prompt: "Password for \(email): ")
                } catch let error as MonitorUsage {
                    throw MonitorFailure.usage(error.description)
                }
            }
            guard !password.isEmpty else { throw MonitorFailure.usage("the password is empty") }
            return .password(email: email, password: password)
        }
        if let token = environment["CLASSY_TOKEN"], !token.isEmpty {
            return .accessToken(token)
        }
        throw MonitorFailure.usage(
            "no credentials: use --email, --client-id (with CLASSY_CLIENT_SECRET) or set CLASSY_TOKEN")
    }

    var callTimeout: Duration { .milliseconds(Int64(timeout * 1000)) }
}

/// The admin e-mail to sign in with: `--email` or `--user` (every subcommand but `attempts`).
struct SignInOptions: ParsableArguments {
    @Option(
        name: [.customLong("email"), .customLong("user")],
        help: "Sign in as this admin; the password is prompted without echo, or read with --password-stdin."
    )
    var email: String?
}

/// The admin e-mail to sign in with in `attempts`, whose `--email` is a filter: `--user` only.
struct UserSignInOptions: ParsableArguments {
    @Option(name: .customLong("user"), help: "Sign in as this admin (`--email` filters the attempts here).")
    var email: String?
}

/// A connected client with a token provider, for the lifetime of a command.
struct Session: Sendable {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let tokens: TokenProvider
    let endpoint: ServerEndpoint
    let callTimeout: Duration

    var monitoring: Classy_Monitoring_V1_MonitoringService.Client<HTTP2ClientTransport.Posix> {
        .init(wrapping: client)
    }

    /// Runs `body` with a client connected to the server of `options`.
    static func with<Result: Sendable>(
        _ options: ConnectionOptions,
        email: String?,
        _ body: (Session) async throws -> Result
    ) async throws -> Result {
        try options.validate(email: email)
        let endpoint = try options.endpoint()
        let credentials = try options.credentials(email: email)
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try endpoint.makeTransport()
        } catch {
            throw MonitorFailure.usage("cannot set up the connection to \(endpoint): \(error)")
        }
        return try await withGRPCClient(transport: transport) { client in
            let tokens = TokenProvider(
                credentials: credentials,
                authenticator: GRPCAuthenticator(client: client, timeout: options.callTimeout)
            )
            return try await body(
                Session(client: client, tokens: tokens, endpoint: endpoint, callTimeout: options.callTimeout))
        }
    }

    /// Call options for a unary call: the timeout, failing fast when the server is down.
    var unaryOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = callTimeout
        return options
    }

    /// Runs a unary call with a token, renewing it once if the server says it expired; errors become
    /// `MonitorFailure`s named after `operation`.
    func call<Result: Sendable>(
        _ operation: String,
        _ body: (Metadata, CallOptions) async throws -> Result
    ) async throws -> Result {
        var renewed = false
        while true {
            let token: String
            do {
                token = try await tokens.token(forceRenew: renewed)
            } catch {
                throw MonitorFailure(error, operation: "sign-in").unreachableIfTimedOut(endpoint)
            }
            do {
                return try await body(["authorization": "Bearer \(token)"], unaryOptions)
            } catch {
                if !renewed, tokens.credentials.isRenewable, case .renewToken = MonitorFailure.disposition(of: error) {
                    renewed = true
                    continue
                }
                throw MonitorFailure(error, operation: operation).unreachableIfTimedOut(endpoint)
            }
        }
    }
}

extension MonitorFailure {
    /// A timed-out or unavailable call means the server could not be reached.
    func unreachableIfTimedOut(_ endpoint: ServerEndpoint) -> MonitorFailure {
        guard kind == .unreachable else { return self }
        return MonitorFailure(.unreachable, "cannot reach the server at \(endpoint) (\(message))", reason: reason)
    }
}
