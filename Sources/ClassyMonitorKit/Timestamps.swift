import Foundation
import SwiftProtobuf

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The fixed time formats of the monitor's output (always UTC).
public enum TimeFormat {
    /// RFC 3339 with milliseconds: `2026-11-25T23:50:01.123Z` (the JSON schema's format).
    public static func rfc3339(seconds: Int64, nanos: Int32) -> String {
        let (date, time) = parts(seconds)
        return "\(date)T\(time).\(pad(Int(nanos / 1_000_000), 3))Z"
    }

    /// `2026-11-25 23:50:01Z` (human-readable lines).
    public static func readable(seconds: Int64) -> String {
        let (date, time) = parts(seconds)
        return "\(date) \(time)Z"
    }

    /// `23:50:01` (dashboard tables).
    public static func clock(seconds: Int64) -> String {
        parts(seconds).time
    }

    private static func parts(_ seconds: Int64) -> (date: String, time: String) {
        var value = time_t(seconds)
        var tm = tm()
        gmtime_r(&value, &tm)
        let date = "\(pad(Int(tm.tm_year) + 1900, 4))-\(pad(Int(tm.tm_mon) + 1, 2))-\(pad(Int(tm.tm_mday), 2))"
        let time = "\(pad(Int(tm.tm_hour), 2)):\(pad(Int(tm.tm_min), 2)):\(pad(Int(tm.tm_sec), 2))"
        return (date, time)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

extension Google_Protobuf_Timestamp {
    /// The schema's RFC 3339 form.
    var rfc3339: String { TimeFormat.rfc3339(seconds: seconds, nanos: nanos) }
}
