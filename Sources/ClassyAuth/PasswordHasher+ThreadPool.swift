import ClassyCore
import Dispatch
import Foundation
import Synchronization

/// A small fixed pool of dedicated threads for CPU-heavy blocking work such as password hashing.
///
/// Work submitted with ``run(_:)`` never occupies a thread of the Swift concurrency cooperative pool or
/// a NIO event loop, and at most ``threadCount`` jobs run at once, so a burst of logins queues here
/// instead of starving request handling. Threads start on the first submitted job.
public final class PasswordHashingPool: Sendable {
    private typealias Job = @Sendable () -> Void

    private enum WorkerStep {
        case run(Job)
        case wait
        case exit
    }

    private struct State {
        var jobs: [Job] = []
        var head = 0
        var started = false
        var shutDown = false
        var runningThreads = 0

        mutating func pop() -> Job? {
            guard head < jobs.count else { return nil }
            let job = jobs[head]
            head += 1
            if head >= 64 && head * 2 >= jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            return job
        }
    }

    /// The number of dedicated threads, and so the most jobs that run at the same time.
    public let threadCount: Int
    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    private let label: String

    /// The process-wide pool, with one thread per active processor core.
    public static let shared = PasswordHashingPool(
        threadCount: ProcessInfo.processInfo.activeProcessorCount,
        label: "classy.password-hashing"
    )

    /// Creates a pool of `threadCount` threads (at least one), started lazily.
    public init(threadCount: Int, label: String = "classy.password-hashing") {
        self.threadCount = max(1, threadCount)
        self.label = label
    }

    /// Runs `body` on one of the pool's threads and returns its result to the awaiting task.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job: Job = {
                continuation.resume(with: Result { try body() })
            }
            if !self.enqueue(job) {
                continuation.resume(throwing: PasswordHasherError.poolShutDown)
            }
        }
    }

    /// Stops accepting work; queued jobs still run, then the threads exit.
    public func shutdown() {
        let threads = state.withLock { state -> Int in
            guard !state.shutDown else { return 0 }
            state.shutDown = true
            return state.runningThreads
        }
        for _ in 0..<threads { available.signal() }
    }

    private func enqueue(_ job: @escaping Job) -> Bool {
        let startThreads = state.withLock { state -> Bool in
            guard !state.shutDown else { return false }
            state.jobs.append(job)
            return true
        }
        guard startThreads else { return false }
        startThreadsIfNeeded()
        available.signal()
        return true
    }

    private func startThreadsIfNeeded() {
        let mustStart = state.withLock { state -> Bool in
            guard !state.started else { return false }
            state.started = true
            state.runningThreads = threadCount
            return true
        }
        guard mustStart else { return }
        for index in 0..<threadCount {
            let thread = Thread { [self] in self.workerLoop() }
            thread.name = "\(label)-\(index)"
            thread.start()
        }
    }

    private func workerLoop() {
        while true {
            available.wait()
            let next = state.withLock { state -> WorkerStep in
                if let job = state.pop() { return .run(job) }
                guard state.shutDown else { return .wait }
                state.runningThreads -= 1
                return .exit
            }
            switch next {
            case .run(let job): job()
            case .wait: continue
            case .exit: return
            }
        }
    }
}
