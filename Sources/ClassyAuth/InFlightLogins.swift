import Synchronization

/// Login attempts admitted by this process whose outcome is not recorded yet, per IP key.
///
/// Admission counts an attempt as a failure before its password is checked, so concurrent guesses cannot slip
/// past the limit. Attempts still in flight therefore look like failures to the attempts counted after them;
/// this registry tells ``LoginGuard`` how many of an IP key's counted failures are really attempts of this
/// process still being checked, so it can wait for them instead of refusing a legitimate burst (many users
/// behind one NAT), and so a failure decides on a block only from failures that are final.
final class InFlightLogins: Sendable {
    private struct Entry {
        /// Attempts counted and not ended.
        var pending = 0
        /// Attempts that stepped out of the count to wait for pending ones.
        var waiting = 0
        /// The ticket the next waiter gets.
        var nextTicket = 0
        /// Waiters with a ticket below this may go: each attempt that ends lets one more waiter go, first come
        /// first served, so a burst does not wake every waiter whenever one attempt ends.
        var served = 0
    }

    private let entries = Mutex([String: Entry]())
    /// IP keys whose block decision is being made.
    private let deciding = Mutex(Set<String>())

    /// Registers an attempt on `key`.
    func begin(_ key: String) {
        entries.withLock { $0[key, default: Entry()].pending += 1 }
    }

    /// Ends an attempt on `key`; returns how many others are still in flight on it.
    func end(_ key: String) -> Int {
        entries.withLock { entries in
            guard var entry = entries[key] else { return 0 }
            entry.pending -= 1
            if entry.served < entry.nextTicket { entry.served += 1 }
            entries[key] = entry.pending <= 0 && entry.waiting <= 0 ? nil : entry
            return max(0, entry.pending)
        }
    }

    /// Takes a pending attempt out of the count while it waits; returns its place in the queue of waiters.
    func suspend(_ key: String) -> Int {
        entries.withLock { entries in
            var entry = entries[key, default: Entry()]
            entry.pending -= 1
            entry.waiting += 1
            defer { entry.nextTicket += 1; entries[key] = entry }
            return entry.nextTicket
        }
    }

    /// Sends a waiting attempt to the back of the queue; returns its new place.
    func requeue(_ key: String) -> Int {
        entries.withLock { entries in
            var entry = entries[key, default: Entry()]
            defer { entry.nextTicket += 1; entries[key] = entry }
            return entry.nextTicket
        }
    }

    /// Puts a waiting attempt back in the count.
    func resume(_ key: String) {
        entries.withLock { entries in
            entries[key, default: Entry()].waiting -= 1
            entries[key, default: Entry()].pending += 1
        }
    }

    /// Attempts counted and in flight on `key`.
    func pending(_ key: String) -> Int {
        entries.withLock { max(0, $0[key]?.pending ?? 0) }
    }

    /// Returns once the waiter with `ticket` may go (enough attempts ended, or none is pending), or at
    /// `deadline`.
    ///
    /// Polls every few milliseconds: waiting only happens in bursts of logins from one address, and polling needs
    /// no continuation bookkeeping to stay correct under cancellation.
    func waitForTurn(_ key: String, ticket: Int, until deadline: ContinuousClock.Instant) async {
        func mustWait() -> Bool {
            entries.withLock { entries in
                guard let entry = entries[key] else { return false }
                return entry.served <= ticket && entry.pending > 0
            }
        }
        while mustWait(), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
            if Task.isCancelled { return }
        }
    }

    /// Runs `body` while no other block decision for `key` runs in this process.
    func deciding<T>(_ key: String, _ body: () async throws -> T) async throws -> T {
        while !deciding.withLock({ $0.insert(key).inserted }) {
            try await Task.sleep(for: .milliseconds(1))
        }
        defer { _ = deciding.withLock { $0.remove(key) } }
        return try await body()
    }
}
