#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address in binary form.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    /// Parses a textual IPv4 or IPv6 address (IPv4-mapped IPv6 addresses become IPv4).
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard text.contains(":"), inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let raw = withUnsafeBytes(of: &v6) { Array($0) }
        if raw[0..<10].allSatisfy({ $0 == 0 }) && raw[10] == 0xff && raw[11] == 0xff {
            self.bytes = Array(raw[12..<16])
        } else {
            self.bytes = raw
        }
    }

    /// Creates an address from 4 or 16 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// True for IPv4.
    public var isIPv4: Bool { bytes.count == 4 }

    /// The canonical text form (RFC 5952 for IPv6).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address range in CIDR notation (`10.0.0.0/8`, `2001:db8::/64`); a single address is a /32 or /128.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network address, with host bits cleared.
    public let address: IPAddress
    /// The prefix length.
    public let prefixLength: Int

    /// Parses `ADDRESS` or `ADDRESS/PREFIX`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(String(parts[0])) else { return nil }
        let maxPrefix = address.bytes.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maxPrefix).contains(value), !parts[1].hasPrefix("+") else {
                return nil
            }
            prefix = value
        }
        self.init(address: address, prefixLength: prefix)
    }

    /// The network of `prefixLength` bits containing `address`.
    public init(address: IPAddress, prefixLength: Int) {
        let maxPrefix = address.bytes.count * 8
        let prefix = max(0, min(prefixLength, maxPrefix))
        self.prefixLength = prefix
        self.address = IPAddress(bytes: Self.mask(address.bytes, prefix))!
    }

    /// Whether `ip` lies in this network (an IPv4 address never lies in an IPv6 network).
    public func contains(_ ip: IPAddress) -> Bool {
        guard ip.bytes.count == address.bytes.count else { return false }
        return Self.mask(ip.bytes, prefixLength) == address.bytes
    }

    /// True if this network is a single address.
    public var isSingleAddress: Bool { prefixLength == address.bytes.count * 8 }

    /// `ADDRESS/PREFIX`, or just the address for a single address.
    public var description: String {
        isSingleAddress ? address.description : "\(address)/\(prefixLength)"
    }

    /// The key that groups clients for brute-force counting: IPv4 addresses as they are, IPv6 by /64.
    public static func blockKey(for ip: IPAddress) -> IPNetwork {
        IPNetwork(address: ip, prefixLength: ip.isIPv4 ? 32 : 64)
    }

    private static func mask(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let bitsBefore = index * 8
            if bitsBefore >= prefix {
                result[index] = 0
            } else if bitsBefore + 8 > prefix {
                let keep = prefix - bitsBefore
                result[index] &= UInt8(truncatingIfNeeded: 0xff << (8 - keep))
            }
        }
        return result
    }
}
