import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The agent's own seccomp filter, as the kernel applies it: every thread that
/// existed before it is in filter mode, and a forbidden syscall made on any of
/// them kills the whole agent with SIGSYS.
final class AgentSandboxTests: XCTestCase {
    func testEveryThreadIsFilteredAndAForbiddenSyscallOnAnyThreadKillsTheAgent() throws {
        for thread in ["event-loop", "dispatch", "main"] {
            let (p, text) = try runBinary("bulkhead-agent", ["audit-sandbox", "--attempt-forbidden-syscall", "--on", thread])
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "\(thread): \(text)")
            XCTAssertEqual(p.terminationStatus, SIGSYS, "\(thread): \(text)")
            XCTAssertTrue(text.contains("seccomp filter installed"), text)
            XCTAssertFalse(text.contains("FAIL"), text)
        }
    }

    func testTheFilterCoversThreadsStartedBeforeIt() throws {
        let (p, text) = try runBinary("bulkhead-agent", ["audit-sandbox"])
        XCTAssertEqual(p.terminationStatus, 0, text)
        let threads = text.split(separator: "\n").filter { $0.first?.isNumber == true }
        XCTAssertGreaterThanOrEqual(threads.count, 4, "main, two event loops and a Dispatch worker: \(text)")
        for line in threads { XCTAssertTrue(line.hasSuffix("\t2\t1"), "Seccomp 2, NoNewPrivs 1: \(line)") }
    }
}
