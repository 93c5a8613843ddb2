import CCap
import CProcess
#if canImport(Glibc)
import Glibc
#endif

enum PrivilegeDropError: Error, CustomStringConvertible {
    case notRoot
    case threaded(Int)
    case failed(String, Int32)
    case verification(String)

    var description: String {
        switch self {
        case .notRoot: "bulkhead-helper must start as root (it drops to helper.user itself)"
        case .threaded(let n): "refusing to drop privileges with \(n) threads alive: capabilities are per thread"
        case .failed(let step, let e): "\(step) failed: \(String(cString: strerror(e)))"
        case .verification(let why): "privilege drop did not take effect: \(why)"
        }
    }
}

/// Drops from root to `account`, keeping exactly `HelperCapabilities.held`. Runs
/// before any thread exists (checked), so the result holds for every thread the
/// process will ever have.
enum PrivilegeDrop {
    static func toHelper(_ account: Account) throws(PrivilegeDropError) {
        guard geteuid() == 0 else { throw .notRoot }
        let threads = ProcessStatus.threadIDs().count
        guard threads == 1 else { throw .threaded(threads) }

        // While still root: lock down the bounding and ambient sets and the securebits,
        // so nothing later (not even an exec) can regain a capability.
        let keep = Set(HelperCapabilities.held.map(\.0))
        for cap in 0...HelperCapabilities.lastCap where !keep.contains(cap_value_t(cap)) {
            try check(bh_prctl(Int32(BH_PR_CAPBSET_DROP), UInt(cap)), "PR_CAPBSET_DROP(\(cap))")
        }
        try check(bh_clear_ambient(), "PR_CAP_AMBIENT_CLEAR_ALL")
        // SECBIT_NOROOT(+locked): uid 0 gains nothing on exec; NO_CAP_AMBIENT_RAISE(+locked).
        let securebits: UInt = 0x01 | 0x02 | 0x40 | 0x80
        try check(bh_prctl(Int32(BH_PR_SET_SECUREBITS), securebits), "PR_SET_SECUREBITS")
        try check(bh_prctl(Int32(BH_PR_SET_KEEPCAPS), 1), "PR_SET_KEEPCAPS")

        try check(setgroups(0, nil), "setgroups")
        try check(bh_setresgid(account.gid), "setresgid")
        try check(bh_setresuid(account.uid), "setresuid")

        try setCapabilities(Array(keep))
        try check(bh_prctl(Int32(BH_PR_SET_KEEPCAPS), 0), "PR_SET_KEEPCAPS(0)")
        // Not dumpable: no core files with fds in them, no ptrace by the same uid.
        try check(bh_prctl(Int32(BH_PR_SET_DUMPABLE), 0), "PR_SET_DUMPABLE")

        for thread in ProcessStatus.threads() {
            guard thread.capEff == HelperCapabilities.mask, thread.capPrm == HelperCapabilities.mask else {
                throw .verification("thread \(thread.tid) has CapEff \(String(thread.capEff, radix: 16))")
            }
        }
        guard getuid() == account.uid, geteuid() == account.uid, bh_setresuid(0) != 0 else {
            throw .verification("uid is still changeable back to 0")
        }
    }

    /// For the unprivileged spawner: become `account` with no capabilities at all, non-dumpable.
    static func toUnprivileged(_ account: Account) throws(PrivilegeDropError) {
        for cap in 0...HelperCapabilities.lastCap {
            try check(bh_prctl(Int32(BH_PR_CAPBSET_DROP), UInt(cap)), "PR_CAPBSET_DROP(\(cap))")
        }
        try check(bh_clear_ambient(), "PR_CAP_AMBIENT_CLEAR_ALL")
        try check(setgroups(0, nil), "setgroups")
        try check(bh_setresgid(account.gid), "setresgid")
        // From root to a non-zero uid without KEEPCAPS: the kernel clears every set.
        try check(bh_setresuid(account.uid), "setresuid")
        try setCapabilities([])
        try check(bh_prctl(Int32(BH_PR_SET_NO_NEW_PRIVS), 1), "PR_SET_NO_NEW_PRIVS")
        // It runs as the agent's uid: not dumpable, so the agent cannot ptrace it or read its memory.
        try check(bh_prctl(Int32(BH_PR_SET_DUMPABLE), 0), "PR_SET_DUMPABLE")
    }

    /// For a child that needs one or two capabilities (the netfilter executor, the
    /// proof inspector): become `account` keeping only `caps`, non-dumpable, killed with the helper. With `passOn`, they are
    /// also inheritable and ambient, so that the programs it executes hold them too.
    static func toDedicatedChild(_ account: Account, keeping caps: [cap_value_t], passOn: Bool) throws(PrivilegeDropError) {
        for cap in 0...HelperCapabilities.lastCap where !caps.contains(cap_value_t(cap)) {
            try check(bh_prctl(Int32(BH_PR_CAPBSET_DROP), UInt(cap)), "PR_CAPBSET_DROP(\(cap))")
        }
        try check(bh_clear_ambient(), "PR_CAP_AMBIENT_CLEAR_ALL")
        try check(bh_prctl(Int32(BH_PR_SET_KEEPCAPS), 1), "PR_SET_KEEPCAPS")
        try check(setgroups(0, nil), "setgroups")
        try check(bh_setresgid(account.gid), "setresgid")
        try check(bh_setresuid(account.uid), "setresuid")
        try setCapabilities(caps, inheritable: passOn)
        try check(bh_prctl(Int32(BH_PR_SET_KEEPCAPS), 0), "PR_SET_KEEPCAPS(0)")
        if passOn { for cap in caps { try check(bh_raise_ambient(Int32(cap)), "PR_CAP_AMBIENT_RAISE(\(cap))") } }
        try check(bh_prctl(Int32(BH_PR_SET_NO_NEW_PRIVS), 1), "PR_SET_NO_NEW_PRIVS")
        guard getuid() == account.uid, geteuid() == account.uid, bh_setresuid(0) != 0 else {
            throw .verification("uid \(account.uid) is still changeable back to 0")
        }
        // After the last change of credentials, which resets both: not dumpable (no other
        // process of its uid can ptrace it or read its memory), and killed if the helper dies.
        try check(bh_prctl(Int32(BH_PR_SET_DUMPABLE), 0), "PR_SET_DUMPABLE")
        try check(bh_prctl(Int32(BH_PR_SET_PDEATHSIG), UInt(SIGKILL)), "PR_SET_PDEATHSIG")
    }

    static func setCapabilities(_ caps: [cap_value_t], inheritable: Bool = false) throws(PrivilegeDropError) {
        guard let state = cap_init() else { throw .failed("cap_init", errno) }
        defer { cap_free(UnsafeMutableRawPointer(state)) }
        if !caps.isEmpty {
            var list = caps
            try check(cap_set_flag(state, CAP_PERMITTED, Int32(list.count), &list, CAP_SET), "cap_set_flag(permitted)")
            try check(cap_set_flag(state, CAP_EFFECTIVE, Int32(list.count), &list, CAP_SET), "cap_set_flag(effective)")
            if inheritable { try check(cap_set_flag(state, CAP_INHERITABLE, Int32(list.count), &list, CAP_SET), "cap_set_flag(inheritable)") }
        }
        try check(cap_set_proc(state), "cap_set_proc")
    }

    private static func check(_ result: Int32, _ step: String) throws(PrivilegeDropError) {
        if result != 0 { throw .failed(step, errno) }
    }
}
