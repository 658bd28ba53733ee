import Foundation

/// Executables built by `swift build` for the tests: beside the test bundle, or in `.build/debug` of the
/// current directory.
public enum BuiltBinaries {
    /// The executable named `name`, if it is built.
    public static func url(_ name: String) -> URL? {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [
            here, here.deletingLastPathComponent(),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug"),
        ]
        return candidates.map { $0.appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}

/// A CA, and server and client certificates for localhost/127.0.0.1 signed by it, made by openssl in a fresh
/// temporary folder: `ca.pem`, `server.pem`/`server.key`, `client.pem`/`client.key`.
public struct TestCertificates: Sendable {
    /// The folder holding them.
    public let directory: URL

    /// Makes the certificates (openssl must be installed).
    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("classy-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = """
            set -e
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
              -subj /CN=classy-test-ca -keyout ca.key -out ca.pem 2>/dev/null
            for who in server client; do
              openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=$who \
                -keyout $who.key -out $who.csr 2>/dev/null
              printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > $who.ext
              openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                -extfile $who.ext -out $who.pem 2>/dev/null
            done
            """
        // posix_spawn, not Foundation's Process: its exit monitoring through libdispatch has crashed the test
        // process (_dispatch_event_loop_drain) on this platform.
        do {
            try Spawn.run(["/bin/sh", "-c", script], directory: directory.path)
        } catch {
            remove()
            throw TestSetupError("openssl could not make the test certificates: \(error)")
        }
    }

    /// The path of one of the files.
    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Deletes the folder.
    public func remove() { try? FileManager.default.removeItem(at: directory) }
}
