import Foundation

/// Reads `/proc/self/task/*/status`: capabilities are per thread, so every
/// thread is checked, never just the main one.
enum ProcessStatus {
    struct ThreadState: Equatable {
        var tid: String
        var capEff: UInt64
        var capPrm: UInt64
        var capBnd: UInt64
        var uids: String
    }

    static func threadIDs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).sorted()
    }

    static func threads() -> [ThreadState] {
        threadIDs().compactMap { tid in
            guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8) else { return nil }
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            func hex(_ key: String) -> UInt64 { UInt64(fields[key] ?? "", radix: 16) ?? .max }
            return ThreadState(
                tid: tid, capEff: hex("CapEff"), capPrm: hex("CapPrm"), capBnd: hex("CapBnd"),
                uids: fields["Uid"] ?? "?")
        }
    }
}
