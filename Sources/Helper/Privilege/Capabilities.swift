import CCap
import CProcess
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

    /// Kept only when the helper was started with it: systemd's unit leaves it out of
    /// the bounding set unless a drop-in adds it (TCP listeners below port 1024).
    static let optional: Set<cap_value_t> = [cap_value_t(CAP_NET_BIND_SERVICE)]

    /// What the helper keeps here: `kept`, less an optional capability that is not in
    /// the bounding set it started with.
    static let held: [(cap_value_t, String, String)] = kept.filter {
        !optional.contains($0.0) || bh_prctl(Int32(BH_PR_CAPBSET_READ), UInt($0.0)) == 1
    }

    static var holdsBindService: Bool { held.contains { $0.0 == cap_value_t(CAP_NET_BIND_SERVICE) } }

    /// The CapEff bit mask the helper must show on every thread after dropping.
    static var mask: UInt64 { held.reduce(0) { $0 | (1 << UInt64($1.0)) } }

    /// The highest capability number this kernel knows: the last one PR_CAPBSET_READ
    /// accepts. Asked of the kernel rather than read from /proc/sys/kernel/cap_last_cap,
    /// so it also works where /proc shows processes only (systemd's ProcSubset=pid).
    static let lastCap: Int32 = {
        var cap: Int32 = 0
        while cap < 63, bh_prctl(Int32(BH_PR_CAPBSET_READ), UInt(cap + 1)) >= 0 { cap += 1 }
        return cap
    }()
}
