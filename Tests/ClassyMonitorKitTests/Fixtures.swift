import ClassyAPI
import ClassyMonitorKit
import Foundation
import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

/// Events and errors shared by the tests.
enum Fixtures {
    /// 2026-11-25 23:50:01.250 UTC.
    static let time = Google_Protobuf_Timestamp(seconds: 1_795_650_601, nanos: 250_000_000)

    static func failedLogin(
        _ sequence: UInt64, email: String = "ada@example.com", ip: String = "203.0.113.7"
    ) -> SecurityEvent {
        .with {
            $0.sequence = sequence
            $0.time = time
            $0.loginAttempt = .with {
                $0.id = "a-\(sequence)"
                $0.email = email
                $0.ipAddress = ip
                $0.success = false
                $0.failureReason = .invalidCredentials
                $0.userAgent = "curl/8"
                $0.deviceName = "laptop"
                $0.time = time
            }
        }
    }

    static func successfulLogin(_ sequence: UInt64) -> SecurityEvent {
        .with {
            $0.sequence = sequence
            $0.time = time
            $0.loginAttempt = .with {
                $0.id = "a-\(sequence)"
                $0.email = "root@classy.test"
                $0.ipAddress = "127.0.0.1"
                $0.success = true
                $0.userID = "u-1"
                $0.sessionID = "s-1"
                $0.time = time
            }
        }
    }

    static let heartbeat = SecurityEvent.with {
        $0.time = time
        $0.heartbeat = .init()
    }

    /// An RPC error as the server sends it: status, message and a Classy ErrorInfo.
    static func rpcError(_ code: RPCError.Code, _ reason: String, retryAfter: Duration? = nil) -> RPCError {
        var details: [ErrorDetails] = [.errorInfo(reason: reason, domain: "classy", metadata: [:])]
        if let retryAfter { details.append(.retryInfo(delay: retryAfter)) }
        return RPCError(GoogleRPCStatus(code: code, message: "\(reason.lowercased())", details: details))
    }
}
