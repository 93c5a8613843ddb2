import Config
import Foundation
import XCTest
@testable import Agent

/// The seed's flags and troubleshooting messages, without a network.
final class SSHOptionsTests: XCTestCase {
    func testSeedFlagsWithSingleDash() throws {
        let options = try SSHRemoteOptions.parse([
            "-ssh-user", "deploy", "-ssh-host", "build1:2200", "-ssh-key", "/k/id", "-local-socket", "/tmp/p.sock",
            "-remote-socket", "/run/docker.sock", "-timeout", "3s", "--known-hosts", "/k/known_hosts",
        ])
        let remote = try XCTUnwrap(try options.remotes(named: ["x"]).first)
        XCTAssertEqual(remote.sshUser, "deploy")
        XCTAssertEqual(remote.sshKeyPath, "/k/id")
        XCTAssertEqual(remote.localSocket, "/tmp/p.sock")
        let target = remote
        XCTAssertEqual(target.sshHost.port, 2200)
        XCTAssertEqual(target.timeout.seconds, 3)
        XCTAssertEqual(target.display, "deploy@[build1]:2200")
        XCTAssertEqual(target.dialStdioCommand, "docker -H unix:///run/docker.sock system dial-stdio")
    }

    func testBadFlagsAreRefusedClearly() throws {
        let cases: [([String], String)] = [
            (["-ssh-user", "u"], "-ssh-host"),
            (["-ssh-user", "u", "-ssh-host", "h;rm", "-ssh-key", "/k"], "ssh_host"),
            (["-ssh-user", "u", "-ssh-host", "h", "-timeout", "forever"], "timeout"),
            (["-ssh-user", "u", "-ssh-host", "h", "-remote-socket", "/run/$(id).sock"], "remote_socket"),
            (["-ssh-user", "u", "-ssh-host", "h", "--config", "/nonexistent.yaml"], "either --config or"),
        ]
        for (arguments, expected) in cases {
            let options = try SSHRemoteOptions.parse(arguments)
            XCTAssertThrowsError(try options.remotes(), "\(arguments)") {
                XCTAssertTrue("\($0)".contains(expected), "\(arguments): \($0)")
            }
        }
    }

    func testKeyReadableByOthersIsRefusedWithTheFix() throws {
        let path = NSTemporaryDirectory() + "bulkhead-key-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: Data("not a key".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        chmod(path, 0o644)
        XCTAssertThrowsError(try KeyFileCheck.verify(path)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("0644") && text.contains("0600") && text.contains("chmod 600 \(path)"), text)
        }
        chmod(path, 0o600)
        XCTAssertNoThrow(try KeyFileCheck.verify(path))
        XCTAssertThrowsError(try KeyFileCheck.verify(path + ".missing")) { XCTAssertTrue("\($0)".contains("No such file"), "\($0)") }
    }

    /// The original proxy's troubleshooting list, as the errors users now see.
    func testTroubleshootingTexts() {
        XCTAssertTrue("\(SSHError.connectFailed(host: "h", detail: "Connection refused"))".contains("SSH connection to h failed: Connection refused"))
        XCTAssertTrue("\(SSHError.daemonUnreachable(socket: "/var/run/docker.sock", detail: "x"))".contains("Docker daemon unreachable at /var/run/docker.sock"))
        let unknown = "\(SSHError.hostKeyUnknown(host: "h", fingerprint: "SHA256:abc", knownHosts: "/k"))"
        XCTAssertTrue(unknown.contains("SHA256:abc") && unknown.contains("refusing"), unknown)
        XCTAssertTrue("\(SSHError.hostKeyChanged(host: "h", fingerprint: "SHA256:abc", knownHosts: "/k"))".contains("CHANGED"))
    }
}
