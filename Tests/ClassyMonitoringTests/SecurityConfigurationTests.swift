import ClassyCore
import ClassyServer
import Foundation
import Testing

/// The brute-force, rate-limit, retention and stream keys of ConfigurationLoader.
@Suite("Security configuration keys")
struct SecurityConfigurationTests {
    @Test("defaults follow DESIGN.md and API.md")
    func defaults() async throws {
        let configuration = try await ConfigurationLoader(environment: [:]).load()
        #expect(configuration.bruteForce == BruteForcePolicy())
        #expect(configuration.rateLimits.credentials == .init(rate: 10, burst: 30))
        #expect(configuration.rateLimits.standard == .init(rate: 100, burst: 200))
        #expect(configuration.loginAttemptRetention == 30 * 86400)
        #expect(configuration.streamHeartbeatInterval == .seconds(15))
        #expect(configuration.streamBufferSize == 1024)
    }

    @Test("every key is read from the environment")
    func environment() async throws {
        let configuration = try await ConfigurationLoader(
            environment: [
                "CLASSY_IP_ALLOW_LIST": "10.0.0.0/8, 2001:db8::/32",
                "CLASSY_LOCKOUT_THRESHOLD": "3",
                "CLASSY_LOCKOUT_WINDOW_SECONDS": "600",
                "CLASSY_LOCKOUT_SECONDS": "30",
                "CLASSY_LOCKOUT_MAX_SECONDS": "900",
                "CLASSY_IP_BLOCK_THRESHOLD": "50",
                "CLASSY_IP_BLOCK_WINDOW_SECONDS": "300",
                "CLASSY_IP_BLOCK_SECONDS": "120",
                "CLASSY_IP_BLOCK_MAX_SECONDS": "7200",
                "CLASSY_IP_BLOCK_PERMANENT_AFTER": "0",
                "CLASSY_LOGIN_ATTEMPT_RETENTION_DAYS": "7",
                "CLASSY_RATE_LIMIT_CREDENTIALS": "5/15",
                "CLASSY_RATE_LIMIT_STANDARD": "50.5/100",
                "CLASSY_STREAM_HEARTBEAT_SECONDS": "5",
                "CLASSY_STREAM_BUFFER_SIZE": "4096",
            ]
        ).load()
        let policy = configuration.bruteForce
        #expect(policy.allowList == [IPNetwork("10.0.0.0/8")!, IPNetwork("2001:db8::/32")!])
        #expect(policy.email == .init(threshold: 3, window: 600, baseLock: 30, maxLock: 900))
        #expect(policy.ip.threshold == 50)
        #expect(policy.ip.window == 300)
        #expect(policy.ip.baseBlock == 120)
        #expect(policy.ip.maxBlock == 7200)
        #expect(policy.ip.permanentAfter == 0)
        #expect(configuration.loginAttemptRetention == 7 * 86400)
        #expect(configuration.rateLimits.credentials == .init(rate: 5, burst: 15))
        #expect(configuration.rateLimits.standard == .init(rate: 50.5, burst: 100))
        #expect(configuration.streamHeartbeatInterval == .seconds(5))
        #expect(configuration.streamBufferSize == 4096)
    }

    @Test("bad values name their key")
    func badValues() async throws {
        for (key, value) in [
            ("CLASSY_IP_ALLOW_LIST", "10.0.0.0/33"), ("CLASSY_LOCKOUT_THRESHOLD", "0"),
            ("CLASSY_RATE_LIMIT_CREDENTIALS", "fast"), ("CLASSY_RATE_LIMIT_STANDARD", "10/0"),
            ("CLASSY_STREAM_BUFFER_SIZE", "2"),
        ] {
            do {
                _ = try await ConfigurationLoader(environment: [key: value]).load()
                Issue.record("\(key)=\(value) was accepted")
            } catch {
                #expect(error.description.hasPrefix(key), "\(error)")
            }
        }
    }
}
