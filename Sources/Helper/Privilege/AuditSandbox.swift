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
            by SIGSYS (shell status 159). With --attempt-removed it forks one child per \
            call that the allow-list no longer has (and per filtered argument: \
            setsockopt(SO_ATTACH_FILTER), socket(AF_INET) without a TCP listener); each \
            child drops, installs the filter and makes that call, and the table shows how \
            it ended. Must be run as root.
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "After installing the filter, make a forbidden syscall; success means death by SIGSYS.")
    var attemptForbiddenSyscall = false

    @Flag(help: "Try each removed or argument-filtered call in its own sandboxed child; exit 0 only if every one died by SIGSYS.")
    var attemptRemoved = false

    func run() throws {
        let config = try options.load()
        guard let account = Account.named(config.helper.user) else { throw ValidationError("no account \(config.helper.user)") }
        let tcp = try ListenerTable(config: config).hasTCP
        if attemptRemoved { try tryRemoved(account: account, tcp: tcp); return }
        try PrivilegeDrop.toHelper(account)
        var ok = true
        print("tid\tuid\tCapEff\tCapPrm\tCapBnd")
        for t in ProcessStatus.threads() {
            print("\(t.tid)\t\(t.uids)\t\(String(t.capEff, radix: 16))\t\(String(t.capPrm, radix: 16))\t\(String(t.capBnd, radix: 16))")
            ok = ok && t.capEff == HelperCapabilities.mask && t.capPrm == HelperCapabilities.mask && t.capBnd == HelperCapabilities.mask
        }
        print("documented CapEff: \(String(HelperCapabilities.mask, radix: 16)) (\(HelperCapabilities.held.map(\.1).joined(separator: " ")))")
        try Sandbox.install(tcp: tcp)
        print("seccomp filter installed (default action: kill process; AF_INET/AF_INET6: \(tcp ? "allowed, a TCP listener is configured" : "refused, no TCP listener"))")
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

    private func tryRemoved(account: Account, tcp: Bool) throws {
        var attempts = Sandbox.removed.map { ($0, ForbiddenCall.syscall($0)) }
        attempts.append(("setsockopt(SO_ATTACH_FILTER)", .attachFilter))
        if !tcp { attempts.append(("socket(AF_INET)", .inetSocket)) }
        var allKilled = true
        print("call\tresult")
        fflush(nil)
        for (label, call) in attempts {
            let child = fork()
            if child == 0 {
                do {
                    try PrivilegeDrop.toHelper(account)
                    try Sandbox.install(tcp: tcp)
                } catch { _exit(70) }
                call.attempt()
                _exit(0)  // the call returned: the filter let it through
            }
            var status: Int32 = 0
            waitpid(child, &status, 0)
            let killed = status & 0x7f == SIGSYS
            allKilled = allKilled && killed
            print("\(label)\t\(killed ? "killed by SIGSYS" : status & 0x7f == 0 ? "FAIL: returned (exit \((status >> 8) & 0xff))" : "FAIL: signal \(status & 0x7f)")")
            fflush(nil)
        }
        guard allKilled else { throw ExitCode(1) }
        print("OK: every removed call ends in SIGSYS")
    }
}
