import ClassyStorePostgres
import Testing

@Suite("PostgreSQL URLs")
struct PostgresStoreConfigurationTests {
    @Test func parsesEveryPart() throws {
        let configuration = try PostgresStoreConfiguration(
            url: "postgresql://app%20user:p%40ss%3Aword@db.example:6543/classy_prod?sslmode=prefer")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "app user")
        #expect(configuration.password == "p@ss:word")
        #expect(configuration.database == "classy_prod")
        #expect(configuration.tls == .prefer)
        #expect(configuration.redactedURL == "postgres://app user:***@db.example:6543/classy_prod")
    }

    @Test func defaults() throws {
        let configuration = try PostgresStoreConfiguration(url: "postgres://classy@127.0.0.1/classy")
        #expect(configuration.port == 5432)
        #expect(configuration.password == nil)
        #expect(configuration.tls == .disable)
        #expect(configuration.poolSize == 10)
        #expect(configuration.queryTimeout == .seconds(10))
    }

    @Test(arguments: [
        ("mysql://u@h/db", "not a postgres:// URL"),
        ("postgres://h/db", "missing user name"),
        ("postgres://u@h", "missing database name"),
        ("postgres://u@h/a/b", "missing database name"),
        ("postgres://u@/db", "missing host"),
        ("postgres://u@h/db?sslmode=on", "sslmode must be"),
        ("postgres://u@h/db?timeout=3", "unknown URL parameter 'timeout'"),
    ])
    func rejects(url: String, reason: String) {
        #expect {
            try PostgresStoreConfiguration(url: url)
        } throws: { error in
            "\(error)".contains(reason) && !"\(error)".contains("\n")
        }
    }
}
