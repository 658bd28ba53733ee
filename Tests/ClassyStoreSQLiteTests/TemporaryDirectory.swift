import Foundation

/// A directory under the system temp folder, removed by ``remove()``.
struct TemporaryDirectory: Sendable {
    /// The directory's URL.
    let url: URL

    /// Creates a fresh, empty directory.
    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("classy-store-tests-\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of a file named `name` inside the directory.
    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    /// Deletes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
