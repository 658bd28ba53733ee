#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Cryptographically secure random bytes from the operating system, in as few system calls as possible.
///
/// `SystemRandomNumberGenerator` makes one `getrandom` call per 64-bit value, and `UInt8.random(using:)` draws a
/// whole value per byte: a 32-byte token took 32 system calls. Here a request is one `getrandom(2)` call on Linux
/// (looked up at run time, since Glibc's module does not declare it), and 8 bytes per call of the system generator
/// elsewhere.
public enum SecureRandom {
    private typealias GetRandom = @convention(c) (UnsafeMutableRawPointer?, Int, UInt32) -> Int

    private static let getrandom: GetRandom? = dlsym(nil, "getrandom").map { unsafeBitCast($0, to: GetRandom.self) }

    /// Fills `buffer` with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        var filled = 0
        if let getrandom {
            while filled < buffer.count {
                let count = getrandom(base + filled, buffer.count - filled, 0)
                if count > 0 {
                    filled += count
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
        }
        // Whatever `getrandom` did not fill (not available, or it failed), from the system generator.
        var generator = SystemRandomNumberGenerator()
        while filled < buffer.count {
            var word: UInt64 = generator.next()
            let count = min(MemoryLayout<UInt64>.size, buffer.count - filled)
            withUnsafeBytes(of: &word) { (base + filled).copyMemory(from: $0.baseAddress!, byteCount: count) }
            filled += count
        }
    }

    /// Returns `count` random bytes (none for a count below one).
    public static func bytes(_ count: Int) -> [UInt8] {
        let count = max(0, count)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }
}
