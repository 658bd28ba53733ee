import ClassyCore
import Foundation
import Testing

@Suite("Validation")
struct ValidationTests {
    @Test("emails are trimmed and lower-cased; malformed ones are named")
    func email() throws {
        var check = FieldValidator()
        #expect(check.email("email", "  Ada@Example.COM ") == "ada@example.com")
        #expect(check.violations.isEmpty)
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@ex\u{7}.com"] {
            var check = FieldValidator()
            check.email("email", bad)
            #expect(check.violations.map(\.field) == ["email"], "\(bad)")
        }
    }

    @Test("text bounds and control characters")
    func text() {
        var check = FieldValidator()
        check.text("first_name", String(repeating: "é", count: 100), max: 100)
        #expect(check.violations.isEmpty)
        check.text("first_name", String(repeating: "a", count: 101), max: 100)
        check.text("last_name", "a\u{0}b", max: 100)
        check.text("name", "", min: 1, max: 10)
        #expect(check.violations.map(\.field) == ["first_name", "last_name", "name"])
        #expect(throws: ClassyError.self) { try check.finish() }
    }

    @Test("page sizes default to 50 and cap at 500")
    func pageSize() {
        var check = FieldValidator()
        #expect(check.pageSize(0) == 50)
        #expect(check.pageSize(500) == 500)
        #expect(check.violations.isEmpty)
        _ = check.pageSize(501)
        _ = check.pageSize(-1)
        #expect(check.violations.count == 2)
    }

    @Test("page tokens round-trip and reject garbage")
    func pageTokens() throws {
        struct Position: Codable, Equatable { var time: Double; var id: String }
        let token = PageToken.encode(Position(time: 12.5, id: "x"))
        #expect(try PageToken.decode(Position.self, from: token) == Position(time: 12.5, id: "x"))
        #expect(try PageToken.decode(Position.self, from: "") == nil)
        #expect(throws: ClassyError.self) { try PageToken.decode(Position.self, from: "not a token!") }
    }
}

@Suite("IPNetwork")
struct IPNetworkTests {
    @Test("parses addresses and CIDRs and matches members")
    func cidr() throws {
        let network = try #require(IPNetwork("10.1.0.0/16"))
        #expect(network.contains(try #require(IPAddress("10.1.200.3"))))
        #expect(!network.contains(try #require(IPAddress("10.2.0.1"))))
        #expect(IPNetwork("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPNetwork("::1")?.description == "::1")
        #expect(IPNetwork("10.0.0.0/33") == nil)
        #expect(IPNetwork("nonsense") == nil)
        #expect(IPAddress("::ffff:1.2.3.4")?.description == "1.2.3.4")
    }

    @Test("IPv6 clients are grouped by /64, IPv4 by address")
    func blockKey() throws {
        let a = IPNetwork.blockKey(for: try #require(IPAddress("2001:db8:1:2:aaaa::1")))
        let b = IPNetwork.blockKey(for: try #require(IPAddress("2001:db8:1:2:bbbb::9")))
        #expect(a == b)
        #expect(a.description == "2001:db8:1:2::/64")
        #expect(IPNetwork.blockKey(for: try #require(IPAddress("1.2.3.4"))).description == "1.2.3.4")
    }
}
