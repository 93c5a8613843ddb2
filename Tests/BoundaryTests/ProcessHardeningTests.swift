import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The helper process as the kernel sees it: uid, capabilities on every thread,
/// no_new_privs, seccomp filter mode, and death by SIGSYS on a forbidden call.
final class ProcessHardeningTests: XCTestCase {
    /// CAP_CHOWN | CAP_DAC_OVERRIDE | CAP_NET_BIND_SERVICE, as documented in security/capabilities.md.
    static let documentedHelperCapEff: UInt64 = 0x403

    func testEveryHelperThreadHasExactlyTheDocumentedCapabilities() throws {
        try HelperUnderTest.requireRoot()
        let fixture = try TestFixture()
        defer { fixture.remove() }
        let helper = try HelperUnderTest(configPath: fixture.configPath)
        try helper.hello()  // answered: the drop and the filter are in place
        let helperUID = try XCTUnwrap(TestFixture.uid(of: "bulkhead-helper"))
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(helper.pid)/task")
        XCTAssertFalse(tasks.isEmpty)
        for tid in tasks {
            let status = try String(contentsOfFile: "/proc/\(helper.pid)/task/\(tid)/status", encoding: .utf8)
            let fields = Dictionary(uniqueKeysWithValues: status.split(separator: "\n").compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            })
            XCTAssertEqual(UInt64(fields["CapEff"] ?? "", radix: 16), Self.documentedHelperCapEff, "thread \(tid)")
            XCTAssertEqual(UInt64(fields["CapPrm"] ?? "", radix: 16), Self.documentedHelperCapEff, "thread \(tid)")
            XCTAssertEqual(UInt64(fields["CapInh"] ?? "", radix: 16), 0, "thread \(tid)")
            XCTAssertEqual(UInt64(fields["CapAmb"] ?? "", radix: 16), 0, "thread \(tid)")
            XCTAssertEqual(UInt64(fields["CapBnd"] ?? "", radix: 16), Self.documentedHelperCapEff, "thread \(tid)")
            XCTAssertEqual(fields["NoNewPrivs"], "1", "thread \(tid)")
            XCTAssertEqual(fields["Seccomp"], "2", "thread \(tid): filter mode")
            XCTAssertEqual(fields["Uid"]?.split(separator: "\t").map(String.init), Array(repeating: String(helperUID), count: 4))
        }
    }

    func testInheritedFDsAreClosedBeforeTheSandbox() throws {
        try HelperUnderTest.requireRoot()
        let fixture = try TestFixture()
        defer { fixture.remove() }
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        let helper = try HelperUnderTest(configPath: fixture.configPath, strayFD: fds[1])
        try helper.hello()
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(helper.pid)/fd").compactMap(Int32.init)
        XCTAssertTrue(open.contains(3), "the IPC fd stays")
        XCTAssertFalse(open.contains(9), "a stray inherited fd must be closed: \(open.sorted())")
    }

    func testIPCFDThatIsNotASeqpacketSocketIsRefused() throws {
        try HelperUnderTest.requireRoot()
        let fixture = try TestFixture()
        defer { fixture.remove() }
        let (p, text) = try runBinary("bulkhead-helper", ["run", "--config", fixture.configPath, "--ipc-fd", "0"])  // stdin: a pipe
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(text.contains("is not an AF_UNIX SOCK_SEQPACKET socket"), text)
    }

    func testForbiddenSyscallKillsTheHelperWithSIGSYS() throws {
        try HelperUnderTest.requireRoot()
        let fixture = try TestFixture()
        defer { fixture.remove() }
        let (audit, text) = try runBinary("bulkhead-helper", ["audit-sandbox", "--config", fixture.configPath, "--attempt-forbidden-syscall"])
        XCTAssertEqual(audit.terminationReason, .uncaughtSignal, text)
        XCTAssertEqual(audit.terminationStatus, SIGSYS, text)
        XCTAssertTrue(text.contains("documented CapEff: 403"), text)
        XCTAssertFalse(text.contains("FAIL"), text)
    }

    /// Review finding 5: calls the helper never makes are off the allow-list, and so
    /// are socket options other than SO_REUSEADDR and, with no TCP listener, AF_INET.
    func testRemovedCallsEndInSIGSYS() throws {
        try HelperUnderTest.requireRoot()
        var template = Array("/run/bulkhead-sandbox-XXXXXX".utf8CString)
        let dir = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "router:\n  listen: \(dir)/router.sock\n".write(toFile: "\(dir)/c.yaml", atomically: true, encoding: .utf8)
        let (audit, text) = try runBinary("bulkhead-helper", ["audit-sandbox", "--config", "\(dir)/c.yaml", "--attempt-removed"])
        XCTAssertEqual(audit.terminationStatus, 0, text)
        for call in ["chmod", "fchmodat", "chown", "kill", "getsockname", "writev", "dup", "dup3", "setsockopt(SO_ATTACH_FILTER)", "socket(AF_INET)"] {
            XCTAssertTrue(text.contains("\(call)\tkilled by SIGSYS"), "\(call): \(text)")
        }
        XCTAssertFalse(text.contains("FAIL"), text)
    }

    func testHelperRefusesToStartWithoutRoot() throws {
        try HelperUnderTest.requireRoot()
        let fixture = try TestFixture()
        defer { fixture.remove() }
        let (p, text) = try runBinary("bulkhead-helper", ["audit-sandbox", "--config", fixture.configPath], asUser: "nobody")
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(text.contains("must start as root"), text)
    }
}
