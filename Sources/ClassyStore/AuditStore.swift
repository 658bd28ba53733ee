/// Reads the audit log; entries are written only as ``StoreEffects`` of the changes they describe.
public protocol AuditStore: Sendable {
    /// Lists audit entries matching `query`, newest first.
    func listAuditLogs(_ query: AuditQuery) async throws -> [AuditEntryRecord]
}
