import ArgumentParser
import CProcess
import Dispatch
import Foundation
import NIOCore
import NIOPosix

/// Installs exactly the agent's filter in a process shaped like the running agent
/// (SwiftNIO event loops and a Dispatch worker started first), then reports every
/// thread's seccomp mode, so an operator (or a test) can check it on this kernel.
struct AuditSandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-sandbox",
        abstract: "Install the agent's seccomp filter with threads running, then report each thread.",
        discussion: """
            With --attempt-forbidden-syscall, a thread that existed before the filter then \
            calls unshare(CLONE_NEWUSER), which is not on the allow-list: the whole process \
            must die by SIGSYS (shell status 159). --on chooses that thread.
            """)

    enum Thread: String, ExpressibleByArgument, CaseIterable { case eventLoop = "event-loop", dispatch, main }

    @Flag(help: "After installing the filter, make a forbidden syscall; success means death by SIGSYS.")
    var attemptForbiddenSyscall = false

    @Option(help: "The thread that makes it: event-loop, dispatch or main.")
    var on: Thread = .eventLoop

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        // Dispatch on purpose: it stands in for the threads of Swift concurrency's pool, which are Dispatch's on Linux.
        let worker = DispatchQueue(label: "audit-sandbox")
        let started = DispatchSemaphore(value: 0)
        worker.async { started.signal() }
        started.wait()
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").sorted()  // getdents64: not allowed after
        try AgentSandbox.install()
        print("seccomp filter installed (default action: kill process)")
        var ok = true
        print("tid\tSeccomp\tNoNewPrivs")
        for tid in threads {
            let status = try String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8)
            let field = { (name: String) in
                status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) } ?? "?"
            }
            print("\(tid)\t\(field("Seccomp"))\t\(field("NoNewPrivs"))")
            ok = ok && field("Seccomp") == "2" && field("NoNewPrivs") == "1"
        }
        guard ok else { print("FAIL: a thread is not in seccomp filter mode"); throw ExitCode(1) }
        guard attemptForbiddenSyscall else { print("OK"); return }
        print("calling unshare(CLONE_NEWUSER) on the \(on.rawValue) thread; expect death by SIGSYS")
        fflush(nil)
        let attempt: @Sendable () -> Void = {
            let rc = bh_unshare_user_namespace()
            print("FAIL: unshare returned \(rc) instead of killing the process")
            fflush(nil)
        }
        switch on {
        case .eventLoop: group.next().execute(attempt)
        case .dispatch: worker.async(execute: attempt)
        case .main: attempt()
        }
        sleep(5)
        print("FAIL: still alive 5 s after the forbidden syscall")
        throw ExitCode(1)
    }
}
