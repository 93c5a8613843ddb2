import ArgumentParser
import CProcess
import Config
#if canImport(Glibc)
import Glibc
#endif

/// Applies exactly the helper's drop and sandbox, then shows the result, so an
/// operator (or a test) can audit the boundary on this very kernel.
struct AuditSandbox: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-sandbox",
        abstract: "Drop privileges and install the seccomp filter exactly as the helper does, then report.",
        discussion: """
            Prints each thread's uid and capability sets after the drop and checks them \
            against the documented set. With --attempt-forbidden-syscall it then calls \
            unshare(CLONE_NEWUSER), which is not on the allow-list: the process must die \
            by SIGSYS (shell status 159). Must be run as root.
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "After installing the filter, make a forbidden syscall; success means death by SIGSYS.")
    var attemptForbiddenSyscall = false

    func run() throws {
        let config = try options.load()
        guard let account = Account.named(config.helper.user) else { throw ValidationError("no account \(config.helper.user)") }
        try PrivilegeDrop.toHelper(account)
        var ok = true
        print("tid\tuid\tCapEff\tCapPrm\tCapBnd")
        for t in ProcessStatus.threads() {
            print("\(t.tid)\t\(t.uids)\t\(String(t.capEff, radix: 16))\t\(String(t.capPrm, radix: 16))\t\(String(t.capBnd, radix: 16))")
            ok = ok && t.capEff == HelperCapabilities.mask && t.capPrm == HelperCapabilities.mask && t.capBnd == HelperCapabilities.mask
        }
        print("documented CapEff: \(String(HelperCapabilities.mask, radix: 16)) (\(HelperCapabilities.kept.map(\.1).joined(separator: " ")))")
        try Sandbox.install()
        print("seccomp filter installed (default action: kill process)")
        guard ok else { print("FAIL: a thread's CapEff, CapPrm or CapBnd differs from the documented set"); throw ExitCode(1) }
        if attemptForbiddenSyscall {
            print("calling unshare(CLONE_NEWUSER); expect death by SIGSYS")
            fflush(nil)
            let rc = bh_unshare_user_namespace()
            print("FAIL: unshare returned \(rc) instead of killing the process")
            throw ExitCode(1)
        }
        print("OK")
    }
}
