import CCap
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The capabilities the helper keeps, and why. `security/capabilities.md` mirrors this.
enum HelperCapabilities {
    /// (number, name, reason)
    static let kept: [(cap_value_t, String, String)] = [
        (cap_value_t(CAP_CHOWN), "CAP_CHOWN", "give a bound Unix socket the owner/group its config names"),
        (cap_value_t(CAP_DAC_OVERRIDE), "CAP_DAC_OVERRIDE",
         "create sockets in root-owned directories (/run) and connect to users' 0700 runtime dirs"),
        (cap_value_t(CAP_NET_BIND_SERVICE), "CAP_NET_BIND_SERVICE", "bind TCP listeners below port 1024"),
    ]

    /// The CapEff bit mask the helper must show on every thread after dropping.
    static var mask: UInt64 { kept.reduce(0) { $0 | (1 << UInt64($1.0)) } }

    static var lastCap: Int32 {
        let fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 40 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 16)
        let n = read(fd, &buf, buf.count)
        return Int32(String(decoding: buf.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 40
    }
}
