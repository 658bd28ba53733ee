import ClassyTesting
import Foundation
import Testing

/// Runs the `classy-bench` load generators briefly (debug build, tiny loads): they must keep working, with both
/// client implementations, and report every call and every delivery.
@Suite("classy-bench load generators")
struct BenchmarkToolTests {
    func runBench(_ arguments: [String]) async throws -> (status: Int32?, output: String) {
        let binary = try #require(BuiltBinaries.url("classy-bench"), "classy-bench must be built (swift build)")
        let child = try ChildProcess(binary.path, arguments)
        let status = await child.waitForExit(timeout: .seconds(180))
        return (status, child.output)
    }

    /// `rpc` with a tiny load: 4 calls in flight over 2 connections, then `arguments`.
    func runSmallRPC(_ arguments: [String]) async throws -> (status: Int32?, output: String) {
        try await runBench(["rpc", "--concurrency", "4", "--connections", "2"] + arguments)
    }

    @Test("fanout: every subscriber receives every event", arguments: ["raw", "grpc"])
    func fanout(client: String) async throws {
        let (status, output) = try await runBench([
            "fanout", "--subscribers", "20", "--events", "30", "--rate", "300", "--connections", "2",
            "--client", client, "--timeout", "90",
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("20 \(client) subscribers over 2 connections"), "\(output)")
        #expect(output.contains("| 20 | 30 | 600 |"), "\(output)")
        #expect(output.contains("subscribers that received every event: 20 of 20"), "\(output)")
    }

    @Test(
        "rpc: every scenario answers every call; Login is compared with the raw hash rate", arguments: ["raw", "grpc"])
    func rpc(client: String) async throws {
        let (status, output) = try await runSmallRPC([
            "--duration", "0.5", "--only", "Health,GetMe,Refresh,Login", "--client", client,
        ])
        #expect(status == 0, "\(output)")
        for name in ["Health/Check", "GetMe", "Refresh", "Login"] {
            // | RPC | calls | failures | RPC/s | p50 ms | p99 ms | CPU µs/call |
            let row = output.split(separator: "\n").first { $0.hasPrefix("| \(name) |") }
            let cells = row.map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
            #expect(cells.count >= 7, "no row for \(name) in:\n\(output)")
            guard cells.count >= 7 else { continue }
            #expect((Int(cells[1]) ?? 0) > 0, "\(name): no call completed")
            #expect(cells[2] == "0", "\(name): \(cells[2]) failures")
            #expect((Int(cells[6]) ?? 0) > 0, "\(name): no CPU time per call in \(row ?? "")")
        }
        // The raw rates, measured right before and right after Login: one core, and all cores at once; Login
        // against the mean of both measurements.
        for when in ["before Login", "after Login"] {
            #expect(output.contains("\(when): "), "\(output)")
        }
        #expect(output.contains(" hashes/s on one core ("), "\(output)")
        let ratio = output.split(separator: "\n").first { $0.hasPrefix("Login / (raw hash rate x cores): ") }
        let percent = ratio.flatMap {
            Double($0.dropFirst("Login / (raw hash rate x cores): ".count).prefix { $0 != " " })
        }
        #expect((percent ?? 0) > 0, "\(output)")
    }

    @Test("rpc with Login rounds: a ratio per round between raw rates, then their median")
    func rpcLoginRounds() async throws {
        let (status, output) = try await runSmallRPC(["--duration", "0.4", "--only", "Login", "--login-rounds", "3"])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        // Raw rates before, between the rounds and after: four measurements for three rounds.
        #expect(lines.filter { $0.contains(" hashes/s on one core (") }.count == 4, "\(output)")
        for round in 1...3 {
            #expect(lines.contains { $0.hasPrefix("Login round \(round): ") }, "\(output)")
        }
        #expect(lines.contains { $0.hasPrefix("Login round 4: ") } == false, "\(output)")
        #expect(
            lines.contains {
                $0.hasPrefix("Login / (raw hash rate x cores): ") && $0.contains(" median of 3 rounds (")
            },
            "\(output)")
        #expect(lines.contains { $0.hasPrefix("raw hash scaling: all cores hashing at once give ") }, "\(output)")
        #expect(lines.filter { $0.hasPrefix("| Login | ") }.count == 1, "\(output)")
    }

    @Test(
        "rpc refuses bad options with a clear message",
        arguments: [
            (["--login-rounds", "0"], "--login-rounds must be at least 1"),
            (["--duration", "0"], "--duration must be positive"),
            (
                ["--login-rounds", "2", "--server-hash-kib", "8"],
                "--login-rounds compares Login with the raw hash rates"
            ),
        ])
    func rpcRefusesBadOptions(arguments: [String], message: String) async throws {
        let (status, output) = try await runBench(["rpc"] + arguments)
        #expect(status != 0, "\(output)")
        #expect(output.contains(message), "\(output)")
    }

    @Test("rpc with a tiny server hash: Login's cost besides the hash, without the raw hash rates")
    func rpcTinyHash() async throws {
        let (status, output) = try await runSmallRPC(["--duration", "0.5", "--only", "Login", "--server-hash-kib", "8"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("| Login | "), "\(output)")
        #expect(!output.contains("hashes/s on one core"), "\(output)")
        #expect(!output.contains("Login / (raw hash rate x cores)"), "\(output)")
    }
}
