import ClassyCore
import Foundation

/// A bounded map from verified token strings to their claims, evicting the oldest insertion first.
///
/// Access tokens all live the same 15 minutes, so insertion order is expiry order and FIFO eviction
/// drops the entries that would expire first. Every operation is O(1). Not thread-safe by itself:
/// ``TokenService`` keeps it inside its mutex.
struct VerifiedTokenCache {
    private struct Entry {
        var claims: AccessTokenClaims
        var slot: Int
    }

    /// The most entries kept.
    let capacity: Int
    private var entries: [String: Entry] = [:]
    private var ring: [String?]
    private var next = 0

    /// Creates an empty cache holding at most `capacity` tokens (0 disables caching).
    init(capacity: Int) {
        self.capacity = max(0, capacity)
        self.ring = Array(repeating: nil, count: self.capacity)
    }

    /// The number of cached tokens.
    var count: Int { entries.count }

    /// The claims of a previously verified token, if cached.
    func claims(for token: String) -> AccessTokenClaims? {
        entries[token]?.claims
    }

    /// Caches the claims of a verified token, evicting the oldest entry when full.
    mutating func insert(_ token: String, claims: AccessTokenClaims) {
        guard capacity > 0, entries[token] == nil else { return }
        if let evicted = ring[next], entries[evicted]?.slot == next {
            entries[evicted] = nil
        }
        ring[next] = token
        entries[token] = Entry(claims: claims, slot: next)
        next = (next + 1) % capacity
    }

    /// Forgets one token.
    mutating func remove(_ token: String) {
        if let entry = entries.removeValue(forKey: token) { ring[entry.slot] = nil }
    }

    /// Forgets every token.
    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        ring = Array(repeating: nil, count: capacity)
        next = 0
    }
}
