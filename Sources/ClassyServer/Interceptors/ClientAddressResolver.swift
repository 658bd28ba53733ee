import ClassyCore

/// Finds the client IP of an RPC: the TCP peer, or the `x-forwarded-for` entry added by the
/// outermost trusted proxy when the peer is one of `trustedProxies`.
struct ClientAddressResolver: Sendable {
    var trustedProxies: [IPNetwork]

    /// The client IP for a peer (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`, `in-process:…`) and the
    /// values of `x-forwarded-for`.
    func clientIP(peer: String, forwardedFor: [String]) -> String {
        guard let peerAddress = Self.address(ofPeer: peer) else { return peer }
        guard trustedProxies.contains(where: { $0.contains(peerAddress) }) else { return peerAddress.description }
        // Walk right to left: each hop appended the address it saw; stop at the first one that
        // is not itself a trusted proxy.
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingBlanks() }
        var client = peerAddress
        for hop in hops.reversed() {
            guard let address = IPAddress(hop) else { break }
            client = address
            if !trustedProxies.contains(where: { $0.contains(address) }) { break }
        }
        return client.description
    }

    /// Parses the transport's peer description.
    static func address(ofPeer peer: String) -> IPAddress? {
        if peer.hasPrefix("ipv4:") {
            let rest = peer.dropFirst(5)
            guard let colon = rest.lastIndex(of: ":") else { return IPAddress(String(rest)) }
            return IPAddress(String(rest[..<colon]))
        }
        if peer.hasPrefix("ipv6:[") {
            let rest = peer.dropFirst(6)
            guard let close = rest.firstIndex(of: "]") else { return nil }
            return IPAddress(String(rest[..<close]))
        }
        return nil
    }
}
