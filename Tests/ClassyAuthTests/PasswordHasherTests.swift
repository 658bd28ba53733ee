import ClassyAuth
import ClassyCore
import Foundation
import Synchronization
import Testing

@Suite("Argon2id password hasher")
struct PasswordHasherTests {
    @Test("hash then verify round-trips; a wrong password is false")
    func roundTrip() async throws {
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2)
        let phc = try await hasher.hash("correct horse battery staple")
        #expect(try await hasher.verify("correct horse battery staple", against: phc))
        #expect(try await !hasher.verify("correct horse battery stapler", against: phc))
        #expect(try await !hasher.verify("", against: phc))
    }

    @Test("two hashes of one password differ by their random salt")
    func saltIsRandom() async throws {
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2)
        let first = try await hasher.hash("same password")
        let second = try await hasher.hash("same password")
        #expect(first != second)
        #expect(Argon2PHCString(first)?.salt != Argon2PHCString(second)?.salt)
    }

    @Test("the hash is a PHC string with the configured parameters")
    func phcFormat() async throws {
        let parameters = Argon2Parameters(memoryKiB: 2048, iterations: 3, parallelism: 1)
        let hasher = try await Argon2idPasswordHasher(parameters: parameters)
        let phc = try await hasher.hash("a password")
        #expect(phc.hasPrefix("$argon2id$v=19$m=2048,t=3,p=1$"))
        let parsed = try #require(Argon2PHCString(phc))
        #expect(parsed.version == 19)
        #expect(parsed.parameters == parameters)
        #expect(parsed.salt.count == 16)
        #expect(parsed.hash.count == 32)
        #expect(Argon2PHCString("$argon2i$v=19$m=2048,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g") == nil)
        #expect(Argon2PHCString("$argon2id$v=19$m=2048,t=3$c2FsdHNhbHQ$aGFzaGhhc2g") == nil)
        #expect(Argon2PHCString("not a hash") == nil)
    }

    @Test("needsRehash is true when any parameter differs, false when they match")
    func needsRehash() async throws {
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2)
        let phc = try await hasher.hash("a password")
        #expect(!hasher.needsRehash(phc))

        var stronger = fastArgon2
        stronger.iterations = 2
        let strongerHasher = try await Argon2idPasswordHasher(parameters: stronger)
        #expect(strongerHasher.needsRehash(phc))
        var moreMemory = fastArgon2
        moreMemory.memoryKiB = 2048
        #expect(try await Argon2idPasswordHasher(parameters: moreMemory).needsRehash(phc))
        var longerHash = fastArgon2
        longerHash.hashLength = 64
        #expect(try await Argon2idPasswordHasher(parameters: longerHash).needsRehash(phc))
        #expect(hasher.needsRehash("$2b$10$abcdefghijklmnopqrstuvwxyz"))
        // A hash made with the old parameters still verifies after the configuration changed.
        #expect(try await strongerHasher.verify("a password", against: phc))
    }

    @Test("needsRehash answers as the full parser does for near misses of the current form")
    func needsRehashNearMisses() async throws {
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2)
        let phc = try await hasher.hash("a password")
        let fields = phc.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        let (salt, hash) = (fields[4], fields[5])
        let prefix = "$argon2id$v=19$m=\(fastArgon2.memoryKiB),t=\(fastArgon2.iterations),p=1$"
        #expect(phc == prefix + salt + "$" + hash)
        let oldVersion = "$argon2id$v=16$m=\(fastArgon2.memoryKiB),t=\(fastArgon2.iterations),p=1$"
        let shortSalt = String(salt.dropLast())
        let shortHash = String(hash.dropLast())
        var candidates: [String] = [phc, oldVersion + salt + "$" + hash, prefix, ""]
        candidates.append(prefix + salt + "$" + hash + "x")
        candidates.append(prefix + salt + "$" + shortHash)
        candidates.append(prefix + salt + "A$" + hash)
        candidates.append(prefix + shortSalt + "$" + hash)
        candidates.append(prefix + salt + "$" + shortHash + "!")
        candidates.append(prefix + salt + "$" + shortHash + "=")
        candidates.append(prefix + salt + salt + "$" + hash)
        candidates.append(prefix + salt + "$" + hash + hash)
        candidates.append(prefix + salt + hash)
        for candidate in candidates {
            let parsed = Argon2PHCString(candidate)
            let expected = parsed.map { $0.parameters != fastArgon2 || $0.version != 19 } ?? true
            #expect(hasher.needsRehash(candidate) == expected, "\(candidate)")
        }
        #expect(!hasher.needsRehash(phc))
        #expect(hasher.needsRehash(prefix + salt + "$" + shortHash + "!"))
    }

    @Test("a malformed stored hash throws instead of answering")
    func malformedHash() async throws {
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2)
        await #expect(throws: PasswordHasherError.malformedHash) {
            try await hasher.verify("a password", against: "$argon2id$v=19$garbage")
        }
        await #expect(throws: PasswordHasherError.malformedHash) {
            try await hasher.verify("a password", against: "plain")
        }
    }

    @Test("passwords are never truncated and may hold any Unicode")
    func noTruncation() async throws {
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2)
        let long = String(repeating: "ab", count: 64) + "😀"
        let phc = try await hasher.hash(long)
        #expect(try await hasher.verify(long, against: phc))
        #expect(try await !hasher.verify(String(long.dropLast()), against: phc))
        #expect(try await !hasher.verify(String(long.prefix(72)), against: phc))
        let withNUL = "before\u{0}after"
        let nulHash = try await hasher.hash(withNUL)
        #expect(try await !hasher.verify("before", against: nulHash))
        #expect(try await hasher.verify(withNUL, against: nulHash))
    }

    @Test("20 hashes in parallel all complete and verify")
    func parallelHashing() async throws {
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2)
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for index in 0..<20 {
                group.addTask { (index, try await hasher.hash("password number \(index)")) }
            }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 20)
        for (index, phc) in results {
            #expect(try await hasher.verify("password number \(index)", against: phc))
        }
    }

    @Test("the dummy hash uses the configured parameters and verifyDummy completes")
    func dummyHash() async throws {
        let hasher = try await Argon2idPasswordHasher(parameters: fastArgon2)
        #expect(!hasher.needsRehash(hasher.dummyHash))
        await hasher.verifyDummy(password: "whatever the user typed")
    }

    @Test("the pool runs at most threadCount jobs at once")
    func poolBound() async throws {
        let pool = PasswordHashingPool(threadCount: 2)
        defer { pool.shutdown() }
        let counter = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    try await pool.run {
                        counter.enter()
                        Thread.sleep(forTimeInterval: 0.01)
                        counter.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(counter.maximum <= 2)
        #expect(counter.maximum >= 1)
    }

    @Test("a shut-down pool refuses work")
    func poolShutdown() async throws {
        let pool = PasswordHashingPool(threadCount: 1)
        #expect(try await pool.run { 41 + 1 } == 42)
        pool.shutdown()
        await #expect(throws: PasswordHasherError.poolShutDown) { try await pool.run { 0 } }
    }

    @Test("production parameters (m=19456, t=2, p=1) hash and verify")
    func productionParameters() async throws {
        let hasher = try await Argon2idPasswordHasher()
        let phc = try await hasher.hash("production password")
        #expect(phc.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(try await hasher.verify("production password", against: phc))
    }

    @Test(
        "timing of one hash at production parameters (set CLASSY_AUTH_TIMING=1)",
        .enabled(if: ProcessInfo.processInfo.environment["CLASSY_AUTH_TIMING"] != nil)
    )
    func productionTiming() async throws {
        let hasher = try await Argon2idPasswordHasher()
        let clock = ContinuousClock()
        var samples: [Duration] = []
        for _ in 0..<10 {
            samples.append(try await clock.measure { _ = try await hasher.hash("production password") })
        }
        let phc = try await hasher.hash("production password")
        let verify = try await clock.measure { _ = try await hasher.verify("production password", against: phc) }
        let sorted = samples.sorted()
        print(
            "argon2id m=19456 t=2 p=1: min \(sorted[0]) median \(sorted[sorted.count / 2]) max \(sorted.last!); verify \(verify)"
        )
        let parallel = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 { group.addTask { _ = try await hasher.hash("production password") } }
                try await group.waitForAll()
            }
        }
        print("argon2id 20 hashes on a pool of \(hasher.pool.threadCount) threads: \(parallel)")
    }
}

/// Tracks how many jobs run at once.
final class Counter: Sendable {
    private let state = Mutex((current: 0, maximum: 0))

    var maximum: Int { state.withLock { $0.maximum } }

    func enter() {
        state.withLock {
            $0.current += 1
            $0.maximum = max($0.maximum, $0.current)
        }
    }

    func leave() { state.withLock { $0.current -= 1 } }
}
