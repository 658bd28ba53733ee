import ClassyCore
import Dispatch
import Foundation
import Synchronization

/// A small fixed pool of dedicated threads for CPU-heavy blocking work such as password hashing.
///
/// Work submitted with ``run(_:)`` never occupies a thread of the Swift concurrency cooperative pool or
/// a NIO event loop, and at most ``threadCount`` jobs run at once, so a burst of logins queues here
/// instead of starving request handling. Threads start on the first submitted job.
///
/// The pool is also a `TaskExecutor`. An RPC whose cost is mostly hashing (Login, Register, ChangePassword)
/// prefers it for its whole handler, so the short steps around the hash (reads, token signing, handing the
/// commit to the writer) run on these threads too, each ahead of every queued hash: when a hash ends, its
/// thread goes straight on with that sign-in's next step, without waking a cooperative thread that would have
/// to take a core from the other hash. With the pool's threads busy, a step waits for the next hash to end
/// (at most one hash time), which only matters when sign-ins are queueing for the hash anyway.
public final class PasswordHashingPool: Sendable {
    private typealias Job = @Sendable () -> Void

    private enum WorkerStep {
        case run(Job)
        case step(UnownedJob)
        case wait
        case exit
    }

    /// A first-in, first-out queue that reuses its storage.
    private struct FIFO<Element> {
        private var elements: [Element] = []
        private var head = 0

        var count: Int { elements.count - head }

        mutating func append(_ element: Element) {
            elements.append(element)
        }

        mutating func pop() -> Element? {
            guard head < elements.count else { return nil }
            let element = elements[head]
            head += 1
            if head >= 64 && head * 2 >= elements.count {
                elements.removeFirst(head)
                head = 0
            }
            return element
        }
    }

    private struct State {
        /// Blocking work from ``run(_:)``.
        var jobs = FIFO<Job>()
        /// Steps of tasks that prefer the pool as their executor; they run before any queued job.
        var steps = FIFO<UnownedJob>()
        var started = false
        var shutDown = false
        var runningThreads = 0
    }

    /// The number of dedicated threads, and so the most jobs that run at the same time.
    public let threadCount: Int
    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    private let label: String

    /// The process-wide pool, with one thread per active processor core.
    public static let shared = PasswordHashingPool(
        threadCount: ProcessInfo.processInfo.activeProcessorCount,
        label: "classy-hash"
    )

    /// Creates a pool of `threadCount` threads (at least one), started lazily; they are named `label-<index>`
    /// (Linux keeps the first 15 bytes of a thread name, so keep `label` short).
    public init(threadCount: Int, label: String = "classy-hash") {
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
            let name = "\(label)-\(index)"
            let thread = Thread { [self] in
                Self.nameCurrentThread(name)
                self.workerLoop()
            }
            thread.start()
        }
    }

    private func workerLoop() {
        while true {
            available.wait()
            let next = state.withLock { state -> WorkerStep in
                if let step = state.steps.pop() { return .step(step) }
                if let job = state.jobs.pop() { return .run(job) }
                guard state.shutDown else { return .wait }
                state.runningThreads -= 1
                return .exit
            }
            switch next {
            case .run(let job): job()
            case .step(let step): step.runSynchronously(on: asUnownedTaskExecutor())
            case .wait: continue
            case .exit: return
            }
        }
    }
}

extension PasswordHashingPool: TaskExecutor {
    /// Queues a step of a task that prefers this pool, ahead of the queued hashing jobs.
    ///
    /// A step is never dropped: once the pool is shut down and its threads have exited, a late step runs on a
    /// thread of its own.
    public func enqueue(_ job: consuming ExecutorJob) {
        let step = UnownedJob(job)
        let queued = state.withLock { state -> Bool in
            guard !state.shutDown || state.runningThreads > 0 else { return false }
            state.steps.append(step)
            return true
        }
        guard queued else {
            let name = "\(label)-late"
            let thread = Thread { [self] in
                Self.nameCurrentThread(name)
                step.runSynchronously(on: asUnownedTaskExecutor())
            }
            thread.start()
            return
        }
        startThreadsIfNeeded()
        available.signal()
    }
}

extension PasswordHashingPool {
    /// Names the calling thread, as `top -H` and `/proc/<pid>/task/<tid>/comm` show it (Linux keeps 15 bytes).
    ///
    /// Foundation's `Thread.name` reaches the system only once the starting thread has recorded the new thread's
    /// handle, which races with the new thread naming itself; glibc's `pthread_setname_np` does not, but is declared
    /// for `_GNU_SOURCE` only, so it is looked up at run time.
    static func nameCurrentThread(_ name: String) {
        typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
        guard let symbol = dlsym(nil, "pthread_setname_np") else { return }
        let setName = unsafeBitCast(symbol, to: SetName.self)
        _ = String(decoding: name.utf8.prefix(15), as: UTF8.self).withCString { setName(pthread_self(), $0) }
    }

    /// The blocking jobs and task steps waiting for a thread, and the threads not yet exited.
    public var load: (jobs: Int, steps: Int, runningThreads: Int) {
        state.withLock { ($0.jobs.count, $0.steps.count, $0.runningThreads) }
    }
}
