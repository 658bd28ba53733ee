import ClassyCore
import GRPCCore
import Testing

/// Runs `body`, which must fail with an RPC error of `code` (and, if given, the Classy `reason`);
/// returns the Classy error details for further checks.
@discardableResult
public func expectRPCError(
    _ code: RPCError.Code,
    _ reason: ClassyError.Code? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> ClassyError? {
    do {
        try await body()
        Issue.record("expected \(code) \(reason?.reason ?? ""), but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        let details = ClassyError(error)
        if let reason {
            #expect(details?.code.reason == reason.reason, "\(error)", sourceLocation: sourceLocation)
        }
        return details
    } catch {
        Issue.record("expected an RPCError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
