import GRDB

/// The versioned SQLite schema; each migration runs once, in order, recorded by GRDB's `DatabaseMigrator`.
///
/// Times are stored as `REAL` seconds since the Foundation reference date (2001-01-01 UTC), which
/// round-trips `Date` exactly and keeps range and bucket arithmetic in SQL simple.
enum SQLiteSchema {
    /// The migration identifiers, in the order they apply.
    static let migrationIdentifiers = [
        "v1-users-sessions",
        "v2-security",
        "v3-audit-events-notifications",
        "v4-idempotency-service-accounts-signing-keys",
        "v5-drop-unused-session-index",
        "v6-login-failures-without-rowid",
    ]

    /// Builds the migrator with every migration registered.
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(migrationIdentifiers[0], migrate: createUsersAndSessions)
        migrator.registerMigration(migrationIdentifiers[1], migrate: createSecurity)
        migrator.registerMigration(migrationIdentifiers[2], migrate: createAuditEventsAndNotifications)
        migrator.registerMigration(migrationIdentifiers[3], migrate: createIdempotencyServiceAccountsAndSigningKeys)
        migrator.registerMigration(migrationIdentifiers[4]) { db in
            // No query looks sessions up by their previous refresh hash (refresh_tokens maps every hash ever issued
            // to its session), yet every sign-in and every refresh kept this index up to date.
            try db.execute(sql: "DROP INDEX IF EXISTS sessions_previous_refresh_hash")
        }
        migrator.registerMigration(migrationIdentifiers[5], migrate: loginFailuresWithoutRowID)
        return migrator
    }

    private static func createUsersAndSessions(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE store_counters (
                    name TEXT PRIMARY KEY NOT NULL,
                    value INTEGER NOT NULL
                );
                INSERT INTO store_counters (name, value) VALUES ('user_change', 0);

                CREATE TABLE users (
                    id TEXT PRIMARY KEY NOT NULL,
                    email TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    first_name TEXT NOT NULL,
                    last_name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    is_primary_admin INTEGER NOT NULL DEFAULT 0,
                    is_active INTEGER NOT NULL DEFAULT 1,
                    create_time REAL NOT NULL,
                    update_time REAL NOT NULL,
                    last_login_time REAL,
                    etag TEXT NOT NULL,
                    deleted INTEGER NOT NULL DEFAULT 0,
                    delete_time REAL,
                    change_sequence INTEGER NOT NULL UNIQUE
                );
                CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted = 0;
                CREATE UNIQUE INDEX users_primary_admin ON users (is_primary_admin) WHERE is_primary_admin = 1;
                CREATE INDEX users_create_time ON users (create_time, id);
                CREATE INDEX users_email_order ON users (email, id);
                CREATE INDEX users_role ON users (role);

                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    ip_address TEXT NOT NULL,
                    user_agent TEXT NOT NULL,
                    device_name TEXT NOT NULL,
                    platform TEXT NOT NULL,
                    app_version TEXT NOT NULL,
                    create_time REAL NOT NULL,
                    last_used_time REAL NOT NULL,
                    expire_time REAL NOT NULL,
                    revoked_time REAL,
                    revoke_reason TEXT,
                    current_refresh_hash TEXT NOT NULL UNIQUE,
                    previous_refresh_hash TEXT,
                    previous_grace_until REAL,
                    generation INTEGER NOT NULL DEFAULT 0,
                    current_access_token_id TEXT,
                    last_issued_payload BLOB
                );
                CREATE INDEX sessions_previous_refresh_hash ON sessions (previous_refresh_hash);
                CREATE INDEX sessions_user_active ON sessions (user_id, create_time, id) WHERE revoked_time IS NULL;
                CREATE INDEX sessions_active_expire_time ON sessions (expire_time) WHERE revoked_time IS NULL;
                CREATE INDEX sessions_expire_time ON sessions (expire_time);

                CREATE TABLE refresh_tokens (
                    hash TEXT PRIMARY KEY NOT NULL,
                    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                    generation INTEGER NOT NULL
                );
                CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
                """
        )
    }

    private static func createSecurity(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE login_attempts (
                    id TEXT PRIMARY KEY NOT NULL,
                    email TEXT NOT NULL,
                    ip_address TEXT NOT NULL,
                    success INTEGER NOT NULL,
                    failure_reason TEXT,
                    user_id TEXT,
                    session_id TEXT,
                    user_agent TEXT NOT NULL,
                    device_name TEXT NOT NULL,
                    time REAL NOT NULL
                );
                CREATE INDEX login_attempts_time ON login_attempts (time, success, ip_address);
                CREATE INDEX login_attempts_email_time ON login_attempts (email, time);
                CREATE INDEX login_attempts_ip_time ON login_attempts (ip_address, time);

                CREATE TABLE login_failures (
                    scope_key TEXT NOT NULL,
                    time REAL NOT NULL
                );
                CREATE INDEX login_failures_key_time ON login_failures (scope_key, time);
                CREATE INDEX login_failures_time ON login_failures (time);

                CREATE TABLE account_locks (
                    email TEXT PRIMARY KEY NOT NULL,
                    locked_until REAL,
                    lock_count INTEGER NOT NULL,
                    last_lock_time REAL NOT NULL,
                    unlock_time REAL
                );
                CREATE INDEX account_locks_locked_until ON account_locks (locked_until);

                CREATE TABLE blocked_ips (
                    id TEXT PRIMARY KEY NOT NULL,
                    ip_address TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    blocked_until REAL,
                    permanent INTEGER NOT NULL,
                    create_time REAL NOT NULL,
                    created_by TEXT,
                    unblocked_time REAL,
                    unblock_reason TEXT
                );
                CREATE INDEX blocked_ips_ip_create_time ON blocked_ips (ip_address, create_time);
                CREATE INDEX blocked_ips_create_time ON blocked_ips (create_time, id);
                CREATE INDEX blocked_ips_open ON blocked_ips (permanent, blocked_until) WHERE unblocked_time IS NULL;
                """
        )
    }

    private static func createAuditEventsAndNotifications(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE audit_logs (
                    id TEXT PRIMARY KEY NOT NULL,
                    action TEXT NOT NULL,
                    actor_user_id TEXT,
                    resource_type TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    details TEXT NOT NULL,
                    ip_address TEXT NOT NULL,
                    time REAL NOT NULL
                );
                CREATE INDEX audit_logs_time ON audit_logs (time, id);
                CREATE INDEX audit_logs_actor_time ON audit_logs (actor_user_id, time);
                CREATE INDEX audit_logs_action_time ON audit_logs (action, time);
                CREATE INDEX audit_logs_resource_type_time ON audit_logs (resource_type, time);

                CREATE TABLE events (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    time REAL NOT NULL,
                    payload BLOB NOT NULL
                );
                CREATE INDEX events_kind_sequence ON events (kind, sequence);

                CREATE TABLE notifications (
                    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    title TEXT NOT NULL,
                    body TEXT NOT NULL,
                    data TEXT NOT NULL,
                    create_time REAL NOT NULL,
                    read INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX notifications_user_cursor ON notifications (user_id, cursor);
                CREATE INDEX notifications_user_unread ON notifications (user_id, cursor) WHERE read = 0;
                """
        )
    }

    /// The counted failures keyed by `(scope_key, time)` in the table's own B-tree, with a count per key and time.
    ///
    /// Before, a rowid table with two indexes: every failure counted (two per sign-in, before the hash) and every
    /// success's reset wrote three B-trees. Now the primary key is the lookup index, so they write two; the time
    /// index stays for pruning by age.
    private static func loginFailuresWithoutRowID(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE login_failures_v6 (
                    scope_key TEXT NOT NULL,
                    time REAL NOT NULL,
                    count INTEGER NOT NULL,
                    PRIMARY KEY (scope_key, time)
                ) WITHOUT ROWID;
                INSERT INTO login_failures_v6 (scope_key, time, count)
                    SELECT scope_key, time, COUNT(*) FROM login_failures GROUP BY scope_key, time;
                DROP TABLE login_failures;
                ALTER TABLE login_failures_v6 RENAME TO login_failures;
                CREATE INDEX login_failures_time ON login_failures (time);
                """
        )
    }

    private static func createIdempotencyServiceAccountsAndSigningKeys(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE idempotency_keys (
                    caller_key TEXT NOT NULL,
                    key TEXT NOT NULL,
                    method TEXT NOT NULL,
                    response BLOB NOT NULL,
                    create_time REAL NOT NULL,
                    PRIMARY KEY (caller_key, key)
                );
                CREATE INDEX idempotency_keys_create_time ON idempotency_keys (create_time);

                CREATE TABLE service_accounts (
                    id TEXT PRIMARY KEY NOT NULL,
                    client_id TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    description TEXT NOT NULL,
                    secret_hash TEXT NOT NULL,
                    create_time REAL NOT NULL,
                    deleted INTEGER NOT NULL DEFAULT 0,
                    delete_time REAL
                );
                CREATE INDEX service_accounts_live ON service_accounts (create_time, id) WHERE deleted = 0;

                CREATE TABLE signing_keys (
                    id TEXT PRIMARY KEY NOT NULL,
                    algorithm TEXT NOT NULL,
                    private_key BLOB NOT NULL,
                    public_key BLOB NOT NULL,
                    create_time REAL NOT NULL,
                    retire_time REAL,
                    expire_time REAL
                );
                """
        )
    }
}
