import ClassyStore
import GRDB
import Synchronization

/// Sessions and their users as authentication reads them, kept until a commit changes either row.
///
/// Every authenticated RPC checks its session and account; most of those checks find nothing changed. This
/// cache serves them without a database read, and never serves a changed row: it observes every committed
/// change to the `sessions` and `users` tables through SQLite's update hook (GRDB's transaction observer) and
/// drops the entries of the rows a commit touched before the commit's caller is answered, so a revocation,
/// deactivation or role change is seen by the very next RPC.
///
/// A read that raced a commit does not fill the cache: entries are only stored if no commit touching these
/// tables happened while they were read (a generation check). The file must not be written by another process
/// while a server uses it (changes made there are not observed); the server's own tools (`migrate`,
/// `create-admin`, `rotate-keys`) never change existing sessions or users.
final class SessionCache: TransactionObserver, @unchecked Sendable {
    /// One cached session with its user, and their row ids (what commits are reported by).
    struct Entry {
        var session: SessionRecord
        var user: UserRecord
        var sessionRowID: Int64
        var userRowID: Int64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var bySessionRow: [Int64: String] = [:]
        var byUserRow: [Int64: Set<String>] = [:]
        /// Bumped by every commit that changed sessions or users.
        var generation: UInt64 = 0
    }

    /// The most sessions kept; the cache starts over when full.
    let capacity: Int
    private let state = Mutex(State())
    /// Rows changed by the transaction in progress: only touched on GRDB's writer queue (hence unchecked).
    private var changedSessionRows = Set<Int64>()
    private var changedUserRows = Set<Int64>()

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// The cached entry of a session, if any.
    func entry(sessionID: String) -> Entry? {
        state.withLock { $0.entries[sessionID] }
    }

    /// The generation to pass to ``store(_:generation:)`` for a read starting now.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// Caches an entry read after `generation` was taken, unless a commit changed sessions or users since.
    func store(_ entry: Entry, generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= capacity { state = State(generation: state.generation) }
            let id = entry.session.id
            state.entries[id] = entry
            state.bySessionRow[entry.sessionRowID] = id
            state.byUserRow[entry.userRowID, default: []].insert(id)
        }
    }

    // MARK: - TransactionObserver

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        eventKind.tableName == "sessions" || eventKind.tableName == "users"
    }

    func databaseDidChange(with event: DatabaseEvent) {
        if event.tableName == "sessions" {
            changedSessionRows.insert(event.rowID)
        } else {
            changedUserRows.insert(event.rowID)
        }
    }

    func databaseDidCommit(_ db: Database) {
        let sessionRows = changedSessionRows
        let userRows = changedUserRows
        changedSessionRows.removeAll(keepingCapacity: true)
        changedUserRows.removeAll(keepingCapacity: true)
        guard !sessionRows.isEmpty || !userRows.isEmpty else { return }
        state.withLock { state in
            state.generation &+= 1
            var dropped: [String] = []
            for row in sessionRows { if let id = state.bySessionRow[row] { dropped.append(id) } }
            for row in userRows { if let ids = state.byUserRow[row] { dropped.append(contentsOf: ids) } }
            for id in dropped {
                guard let entry = state.entries.removeValue(forKey: id) else { continue }
                state.bySessionRow[entry.sessionRowID] = nil
                state.byUserRow[entry.userRowID]?.remove(id)
                if state.byUserRow[entry.userRowID]?.isEmpty == true { state.byUserRow[entry.userRowID] = nil }
            }
        }
    }

    func databaseDidRollback(_ db: Database) {
        changedSessionRows.removeAll(keepingCapacity: true)
        changedUserRows.removeAll(keepingCapacity: true)
    }
}
