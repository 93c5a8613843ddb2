import CProcess
import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// One seccomp allow-list being built, for the helper, its proof inspector and the
/// agent alike: default action kill-process, TSYNC so that every thread that exists
/// gets it (and every later one inherits it), no_new_privs first. Add rules, then `load()`.
public final class SeccompFilter {
    private let ctx: scmp_filter_ctx

    public init() throws(SeccompError) {
        guard bh_prctl(Int32(BH_PR_SET_NO_NEW_PRIVS), 1) == 0 else { throw .failed("PR_SET_NO_NEW_PRIVS", errno) }
        guard let ctx = seccomp_init(UInt32(SCMP_ACT_KILL_PROCESS)) else { throw .failed("seccomp_init", ENOMEM) }
        self.ctx = ctx
        try Self.check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1), "TSYNC")
    }

    deinit { seccomp_release(ctx) }

    /// Allows each syscall with any arguments. A name that is not a syscall on this
    /// architecture (e.g. lstat on arm64) is skipped.
    public func allow(_ names: [String]) throws(SeccompError) {
        for name in names {
            let nr = seccomp_syscall_resolve_name(name)
            if nr == __NR_SCMP_ERROR { continue }
            try Self.check(seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), nr, 0, nil), "allow \(name)")
        }
    }

    /// Allows `syscall` only when every comparison holds; `what` names the case in errors.
    public func allow(_ syscall: String, when comparisons: [scmp_arg_cmp], _ what: String) throws(SeccompError) {
        var comparisons = comparisons
        let rc = seccomp_rule_add_array(
            ctx, UInt32(SCMP_ACT_ALLOW), seccomp_syscall_resolve_name(syscall), UInt32(comparisons.count), &comparisons)
        try Self.check(rc, "allow \(syscall)(\(what))")
    }

    /// `syscall` fails with `errno` instead of killing the process.
    public func fail(_ syscall: String, errno e: Int32) throws(SeccompError) {
        // SCMP_ACT_ERRNO(e), a C macro Swift does not import.
        let action = 0x0005_0000 | (UInt32(e) & 0xffff)
        try Self.check(seccomp_rule_add_array(ctx, action, seccomp_syscall_resolve_name(syscall), 0, nil), "\(syscall) fails")
    }

    public func load() throws(SeccompError) {
        try Self.check(seccomp_load(ctx), "seccomp_load")
    }

    /// Argument `index` equals `value`.
    public static func equal(_ index: UInt32, _ value: UInt64) -> scmp_arg_cmp {
        scmp_arg_cmp(arg: index, op: SCMP_CMP_EQ, datum_a: value, datum_b: 0)
    }

    /// Argument `index` masked with `mask` equals `value`.
    public static func masked(_ index: UInt32, _ mask: UInt64, equals value: UInt64) -> scmp_arg_cmp {
        scmp_arg_cmp(arg: index, op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: value)
    }

    private static func check(_ rc: Int32, _ step: String) throws(SeccompError) {
        if rc < 0 { throw .failed(step, -rc) }
    }
}

public enum SeccompError: Error, CustomStringConvertible {
    case failed(String, Int32)
    public var description: String {
        switch self { case .failed(let step, let e): "seccomp \(step) failed: \(String(cString: strerror(e)))" }
    }
}
