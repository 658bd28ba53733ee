import ClassyStore
import GRDB
import Synchronization

/// Account locks and IP block state as Login's admission reads them, kept until a commit changes
/// `account_locks` or `blocked_ips`.
///
/// Every sign-in reads the email's lock twice and the IP key's block epoch and block in force once; locks and
/// blocks are rare, so those reads nearly always find nothing changed. In WAL mode SQLite drops a reader's page
/// cache whenever another connection committed, so under a steady stream of sign-ins each such read costs a few
/// page reads (about 40 µs with Argon2 on both cores). This cache serves them from memory and never serves a
/// changed row: it observes every committed change to the two tables through SQLite's update hook (GRDB's
/// transaction observer) and drops everything it holds for a table before the commit's caller is answered.
///
/// An IP key is only answered from memory when it has no open block (the common case): its block in force then
/// is nil at any time. A key with an open block is read from the database, as its block may expire.
///
/// A read that raced a commit does not fill the cache (a generation check, as in ``SessionCache``). The file must
/// not be written by another process while a server uses it (changes made there are not observed); the server's
/// own tools never touch locks or blocks.
final class SecurityStateCache: TransactionObserver, @unchecked Sendable {
    /// What is cached for an IP key.
    struct IPState: Equatable {
        /// How many blocks the key ever had.
        var blockCount: Int
        /// Whether one of them is not lifted (it may be in force, or expired).
        var hasOpenBlock: Bool
    }

    private struct State {
        /// Normalised email → its lock record, or nil when it was never locked.
        var locks: [String: AccountLockRecord?] = [:]
        var ipStates: [String: IPState] = [:]
        /// Bumped by every commit that changed `account_locks`.
        var lockGeneration: UInt64 = 0
        /// Bumped by every commit that changed `blocked_ips`.
        var blockGeneration: UInt64 = 0
        var hits = 0
    }

    /// The most entries of each kind kept; a kind starts over when full.
    let capacity: Int
    private let state = Mutex(State())
    /// Tables changed by the transaction in progress: only touched on GRDB's writer queue (hence unchecked).
    private var locksChanged = false
    private var blocksChanged = false

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    // MARK: - Account locks

    /// The cached lock state of a normalised email: `.some(nil)` when it is known never to have been locked, nil
    /// when not cached.
    func lock(email: String) -> AccountLockRecord?? {
        state.withLock { state in
            let cached = state.locks[email]
            if cached != nil { state.hits += 1 }
            return cached
        }
    }

    /// The generation to pass to ``storeLock(_:email:generation:)`` for a read starting now.
    var lockGeneration: UInt64 { state.withLock { $0.lockGeneration } }

    /// Caches a lock state read after `generation` was taken, unless a commit changed locks since.
    func storeLock(_ lock: AccountLockRecord?, email: String, generation: UInt64) {
        state.withLock { state in
            guard state.lockGeneration == generation else { return }
            if state.locks.count >= capacity { state.locks.removeAll() }
            state.locks[email] = .some(lock)
        }
    }

    // MARK: - IP blocks

    /// The cached block state of an IP key (address or CIDR), nil when not cached.
    func ipState(_ key: String) -> IPState? {
        state.withLock { state in
            let cached = state.ipStates[key]
            if cached != nil { state.hits += 1 }
            return cached
        }
    }

    /// The generation to pass to ``storeIPState(_:key:generation:)`` for a read starting now.
    var blockGeneration: UInt64 { state.withLock { $0.blockGeneration } }

    /// Caches an IP key's state read after `generation` was taken, unless a commit changed blocks since.
    func storeIPState(_ ipState: IPState, key: String, generation: UInt64) {
        state.withLock { state in
            guard state.blockGeneration == generation else { return }
            if state.ipStates.count >= capacity { state.ipStates.removeAll() }
            state.ipStates[key] = ipState
        }
    }

    /// How many lookups were answered from memory (for tests).
    var hits: Int { state.withLock { $0.hits } }

    // MARK: - TransactionObserver

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        eventKind.tableName == "account_locks" || eventKind.tableName == "blocked_ips"
    }

    func databaseDidChange(with event: DatabaseEvent) {
        if event.tableName == "account_locks" {
            locksChanged = true
        } else {
            blocksChanged = true
        }
    }

    func databaseDidCommit(_ db: Database) {
        let locks = locksChanged
        let blocks = blocksChanged
        locksChanged = false
        blocksChanged = false
        guard locks || blocks else { return }
        state.withLock { state in
            if locks {
                state.lockGeneration &+= 1
                state.locks.removeAll()
            }
            if blocks {
                state.blockGeneration &+= 1
                state.ipStates.removeAll()
            }
        }
    }

    func databaseDidRollback(_ db: Database) {
        locksChanged = false
        blocksChanged = false
    }
}
