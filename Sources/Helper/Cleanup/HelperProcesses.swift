import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// bulkhead-helper processes in this network namespace (the helper, its spawner and
/// executor children share its name), by /proc/PID/comm. A helper in another
/// namespace (a container's) owns none of the chains and links cleanup sees here.
enum HelperProcesses {
    static func running() -> [pid_t] {
        let me = getpid()
        let fm = FileManager.default
        let ownNetwork = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        let entries = (try? fm.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard pid != me, let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .newlines) == "bulkhead-helper" else { return false }
            return (try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net")) == ownNetwork
        }.sorted()
    }
}
