import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The ssh service's local sockets reach the helper as listener names `ssh-NAME`:
/// only remotes in the helper's own config, never a path from the agent.
final class SSHListenerIntentTests: HelperSessionTestCase {
    func testConfiguredRemoteSocketIsBoundWithItsMode() throws {
        let fd = try bindUnixListener("ssh-lab")
        defer { close(fd) }
        XCTAssertEqual(socketFile(at: fixture.sshSocket).st_mode & 0o777, 0o640)
    }

    func testUnconfiguredRemoteIsRefusedWithNoEffect() throws {
        let message = assertRefused(try helper.call(.bindUnixListener(name: ListenerName("ssh-prod")!)), .unknownName)
        XCTAssertTrue(message.contains("ssh-prod"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(fixture.dir)/ssh-prod.sock"))
    }

    func testRemoteSocketIsNotATCPListener() throws {
        assertRefused(try helper.call(.bindTCPListener(name: ListenerName("ssh-lab")!)), .unknownName)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.sshSocket))
    }
}
