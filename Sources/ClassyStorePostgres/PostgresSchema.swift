import ClassyStore
import Logging
import PostgresNIO

/// The versioned PostgreSQL schema; each migration runs once, in order, recorded in `schema_migrations`.
///
/// Times are `DOUBLE PRECISION` seconds since the Foundation reference date (2001-01-01 UTC), as in SQLite: it
/// round-trips `Date` exactly. Migrations run in one transaction under an advisory lock, so replicas starting
/// together apply each migration once.
enum PostgresSchema {
    /// An arbitrary constant identifying the migration lock among advisory locks.
    static let migrationLockKey: Int64 = 0x636C_6173_7379_0001

    /// The migrations, in the order they apply; each is a list of single statements.
    static let migrations: [(id: String, statements: [String])] = [
        ("v1-users-sessions", usersAndSessions),
        ("v2-security", security),
        ("v3-audit-events-notifications", auditEventsAndNotifications),
        ("v4-idempotency-service-accounts-signing-keys", idempotencyServiceAccountsAndSigningKeys),
        // No query looks sessions up by their previous refresh hash (refresh_tokens maps every hash ever issued to
        // its session), yet every sign-in and every refresh kept this index up to date.
        ("v5-drop-unused-session-index", ["DROP INDEX IF EXISTS sessions_previous_refresh_hash"]),
    ]

    /// Applies pending migrations; returns the identifiers it applied.
    static func migrate(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        var applied: Set<String> = []
        for try await id in try await connection.query("SELECT id FROM schema_migrations", logger: logger)
            .decode(String.self)
        {
            applied.insert(id)
        }
        var newlyApplied: [String] = []
        for migration in migrations where !applied.contains(migration.id) {
            for statement in migration.statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query("INSERT INTO schema_migrations (id) VALUES (\(migration.id))", logger: logger)
            newlyApplied.append(migration.id)
        }
        return newlyApplied
    }

    private static let usersAndSessions = [
        """
        CREATE TABLE store_counters (
            name TEXT PRIMARY KEY,
            value BIGINT NOT NULL
        )
        """,
        "INSERT INTO store_counters (name, value) VALUES ('user_change', 0), ('event', 0), ('notification', 0)",
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            first_name TEXT NOT NULL,
            last_name TEXT NOT NULL,
            role TEXT NOT NULL,
            is_primary_admin BOOLEAN NOT NULL DEFAULT FALSE,
            is_active BOOLEAN NOT NULL DEFAULT TRUE,
            create_time DOUBLE PRECISION NOT NULL,
            update_time DOUBLE PRECISION NOT NULL,
            last_login_time DOUBLE PRECISION,
            etag TEXT NOT NULL,
            deleted BOOLEAN NOT NULL DEFAULT FALSE,
            delete_time DOUBLE PRECISION,
            change_sequence BIGINT NOT NULL UNIQUE
        )
        """,
        "CREATE UNIQUE INDEX users_email_live ON users (email) WHERE NOT deleted",
        "CREATE UNIQUE INDEX users_primary_admin ON users (is_primary_admin) WHERE is_primary_admin",
        "CREATE INDEX users_create_time ON users (create_time, id)",
        "CREATE INDEX users_email_order ON users (email, id)",
        "CREATE INDEX users_role ON users (role)",
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            ip_address TEXT NOT NULL,
            user_agent TEXT NOT NULL,
            device_name TEXT NOT NULL,
            platform TEXT NOT NULL,
            app_version TEXT NOT NULL,
            create_time DOUBLE PRECISION NOT NULL,
            last_used_time DOUBLE PRECISION NOT NULL,
            expire_time DOUBLE PRECISION NOT NULL,
            revoked_time DOUBLE PRECISION,
            revoke_reason TEXT,
            current_refresh_hash TEXT NOT NULL UNIQUE,
            previous_refresh_hash TEXT,
            previous_grace_until DOUBLE PRECISION,
            generation BIGINT NOT NULL DEFAULT 0,
            current_access_token_id TEXT,
            last_issued_payload BYTEA
        )
        """,
        "CREATE INDEX sessions_previous_refresh_hash ON sessions (previous_refresh_hash)",
        "CREATE INDEX sessions_user_active ON sessions (user_id, create_time, id) WHERE revoked_time IS NULL",
        "CREATE INDEX sessions_active_expire_time ON sessions (expire_time) WHERE revoked_time IS NULL",
        "CREATE INDEX sessions_expire_time ON sessions (expire_time)",
        """
        CREATE TABLE refresh_tokens (
            hash TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            generation BIGINT NOT NULL
        )
        """,
        "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)",
    ]

    private static let security = [
        """
        CREATE TABLE login_attempts (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            ip_address TEXT NOT NULL,
            success BOOLEAN NOT NULL,
            failure_reason TEXT,
            user_id TEXT,
            session_id TEXT,
            user_agent TEXT NOT NULL,
            device_name TEXT NOT NULL,
            time DOUBLE PRECISION NOT NULL
        )
        """,
        "CREATE INDEX login_attempts_time ON login_attempts (time, success, ip_address)",
        "CREATE INDEX login_attempts_email_time ON login_attempts (email, time)",
        "CREATE INDEX login_attempts_ip_time ON login_attempts (ip_address, time)",
        """
        CREATE TABLE login_failures (
            scope_key TEXT NOT NULL,
            time DOUBLE PRECISION NOT NULL
        )
        """,
        "CREATE INDEX login_failures_key_time ON login_failures (scope_key, time)",
        "CREATE INDEX login_failures_time ON login_failures (time)",
        """
        CREATE TABLE account_locks (
            email TEXT PRIMARY KEY,
            locked_until DOUBLE PRECISION,
            lock_count BIGINT NOT NULL,
            last_lock_time DOUBLE PRECISION NOT NULL,
            unlock_time DOUBLE PRECISION
        )
        """,
        "CREATE INDEX account_locks_locked_until ON account_locks (locked_until)",
        """
        CREATE TABLE blocked_ips (
            id TEXT PRIMARY KEY,
            ip_address TEXT NOT NULL,
            reason TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            blocked_until DOUBLE PRECISION,
            permanent BOOLEAN NOT NULL,
            create_time DOUBLE PRECISION NOT NULL,
            created_by TEXT,
            unblocked_time DOUBLE PRECISION,
            unblock_reason TEXT
        )
        """,
        "CREATE INDEX blocked_ips_ip_create_time ON blocked_ips (ip_address, create_time)",
        "CREATE INDEX blocked_ips_create_time ON blocked_ips (create_time, id)",
        "CREATE INDEX blocked_ips_open ON blocked_ips (permanent, blocked_until) WHERE unblocked_time IS NULL",
    ]

    private static let auditEventsAndNotifications = [
        """
        CREATE TABLE audit_logs (
            id TEXT PRIMARY KEY,
            action TEXT NOT NULL,
            actor_user_id TEXT,
            resource_type TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            details TEXT NOT NULL,
            ip_address TEXT NOT NULL,
            time DOUBLE PRECISION NOT NULL
        )
        """,
        "CREATE INDEX audit_logs_time ON audit_logs (time, id)",
        "CREATE INDEX audit_logs_actor_time ON audit_logs (actor_user_id, time)",
        "CREATE INDEX audit_logs_action_time ON audit_logs (action, time)",
        "CREATE INDEX audit_logs_resource_type_time ON audit_logs (resource_type, time)",
        """
        CREATE TABLE events (
            sequence BIGINT PRIMARY KEY,
            kind TEXT NOT NULL,
            time DOUBLE PRECISION NOT NULL,
            payload BYTEA NOT NULL
        )
        """,
        "CREATE INDEX events_kind_sequence ON events (kind, sequence)",
        """
        CREATE TABLE notifications (
            cursor BIGINT PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            data TEXT NOT NULL,
            create_time DOUBLE PRECISION NOT NULL,
            read BOOLEAN NOT NULL DEFAULT FALSE
        )
        """,
        "CREATE INDEX notifications_user_cursor ON notifications (user_id, cursor)",
        "CREATE INDEX notifications_user_unread ON notifications (user_id, cursor) WHERE NOT read",
    ]

    private static let idempotencyServiceAccountsAndSigningKeys = [
        """
        CREATE TABLE idempotency_keys (
            caller_key TEXT NOT NULL,
            key TEXT NOT NULL,
            method TEXT NOT NULL,
            response BYTEA NOT NULL,
            create_time DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (caller_key, key)
        )
        """,
        "CREATE INDEX idempotency_keys_create_time ON idempotency_keys (create_time)",
        """
        CREATE TABLE service_accounts (
            id TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            create_time DOUBLE PRECISION NOT NULL,
            deleted BOOLEAN NOT NULL DEFAULT FALSE,
            delete_time DOUBLE PRECISION
        )
        """,
        "CREATE UNIQUE INDEX service_accounts_client_id ON service_accounts (client_id)",
        "CREATE INDEX service_accounts_live ON service_accounts (create_time, id) WHERE NOT deleted",
        """
        CREATE TABLE signing_keys (
            id TEXT PRIMARY KEY,
            algorithm TEXT NOT NULL,
            private_key BYTEA NOT NULL,
            public_key BYTEA NOT NULL,
            create_time DOUBLE PRECISION NOT NULL,
            retire_time DOUBLE PRECISION,
            expire_time DOUBLE PRECISION
        )
        """,
    ]
}
