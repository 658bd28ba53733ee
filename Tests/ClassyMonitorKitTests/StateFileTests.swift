import ClassyMonitorKit
import Foundation
import Testing

@Suite("State file")
struct StateFileTests {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("classy-monitor-state-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("a missing file means no position; saves replace the value atomically and leave no temporary file")
    func roundTrip() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = StateFile(path: directory.appendingPathComponent("monitor.state").path)
        #expect(try file.load() == nil)
        try file.save(41)
        try file.save(UInt64.max)
        #expect(try file.load() == UInt64.max)
        try file.save(42)
        #expect(try file.load() == 42)
        #expect(try String(contentsOfFile: file.path, encoding: .utf8) == "{\"last_sequence\":42}\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["monitor.state"])
    }

    @Test("a file that is not a state file is a usage error naming it")
    func garbage() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("notes.txt").path
        try "hello".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try StateFile(path: path).load()
            Issue.record("expected a failure")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.contains(path))
        }
    }

    @Test("an unwritable location fails with a clear message")
    func unwritable() {
        do {
            try StateFile(path: "/nonexistent-dir/monitor.state").save(1)
            Issue.record("expected a failure")
        } catch {
            #expect(error.message.contains("cannot create"))
        }
    }
}
