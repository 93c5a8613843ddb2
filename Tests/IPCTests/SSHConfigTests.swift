import Config
import XCTest

final class SSHConfigTests: XCTestCase {
    let minimal = """
        ssh:
          remotes:
            - name: prod
              local_socket: /run/bulkhead/prod.sock
              ssh_user: deploy
              ssh_host: build1.example:2222
              ssh_key_path: /etc/bulkhead/keys/prod
        """

    func testSeedKeysAndDefaults() throws {
        let remote = try XCTUnwrap(try ConfigLoader.load(yaml: minimal).enabledSSHRemotes.first)
        XCTAssertEqual(remote.name, "prod")
        XCTAssertEqual(remote.localSocket, "/run/bulkhead/prod.sock")
        XCTAssertEqual(remote.sshUser, "deploy")
        XCTAssertEqual(remote.remoteSocket, "/var/run/docker.sock")
        XCTAssertEqual(remote.timeout, "10s")
        XCTAssertEqual(remote.transport, .auto)
        XCTAssertEqual(remote.knownHosts, "/etc/bulkhead/ssh_known_hosts")
        XCTAssertEqual(remote.listenerName.rawValue, "ssh-prod")
        XCTAssertEqual(remote.sshHost, SSHHostAddress("build1.example:2222"))
    }

    func testDisabledSectionServesNothing() throws {
        XCTAssertEqual(try ConfigLoader.load(yaml: minimal.replacingOccurrences(of: "ssh:\n", with: "ssh:\n  enabled: false\n")).enabledSSHRemotes, [])
    }

    func testUnknownRemoteKeyNamesItsPlace() {
        XCTAssertThrowsError(try ConfigLoader.load(yaml: minimal + "\n      ssh_hots: x")) {
            XCTAssertTrue("\($0)".contains("ssh.remotes[0].ssh_hots"), "\($0)")
        }
        XCTAssertThrowsError(try ConfigLoader.load(yaml: "ssh:\n  remotes: {a: 1}")) {
            XCTAssertTrue("\($0)".contains("ssh.remotes must be a list"), "\($0)")
        }
    }

    func testBadValuesAreRefusedWithTheKeyToFix() {
        let cases: [(String, String, String)] = [
            ("name: prod", "name: Prod/../x", "ssh.remotes[0].name"),
            ("ssh_host: build1.example:2222", "ssh_host: \"-oProxyCommand=sh\"", "ssh.remotes[0].ssh_host"),
            ("ssh_host: build1.example:2222", "ssh_host: \"host:99999\"", "ssh.remotes[0].ssh_host"),
            ("ssh_user: deploy", "ssh_user: \"a b\"", "ssh.remotes[0].ssh_user"),
            ("ssh_key_path: /etc/bulkhead/keys/prod", "ssh_key_path: keys/prod", "ssh.remotes[0].ssh_key_path"),
            ("local_socket: /run/bulkhead/prod.sock", "local_socket: run/prod.sock", "ssh.remotes[0].local_socket"),
        ]
        for (from, to, key) in cases {
            XCTAssertThrowsError(try ConfigLoader.load(yaml: minimal.replacingOccurrences(of: from, with: to)), to) {
                XCTAssertTrue("\($0)".contains(key), "\(to): \($0)")
            }
        }
        let extra: [(String, String)] = [
            ("remote_socket: \"/run/docker.sock; rm -rf /\"", "remote_socket"),
            ("timeout: 10 years", "timeout"),
            ("timeout: 0s", "timeout"),
            ("keepalive: 0.1s", "keepalive"),
            ("host_key: \"MD5:aa:bb\"", "host_key"),
            ("transport: ssh", "wrong type"),
            ("mode: \"999\"", "mode"),
        ]
        for (line, key) in extra {
            XCTAssertThrowsError(try ConfigLoader.load(yaml: minimal + "\n      " + line), line) {
                XCTAssertTrue("\($0)".contains(key), "\(line): \($0)")
            }
        }
    }

    func testNamesAndSocketsAreUnique() {
        let twice = minimal + "\n" + minimal.components(separatedBy: "\n").dropFirst(2).joined(separator: "\n")
        XCTAssertThrowsError(try ConfigLoader.load(yaml: twice)) { XCTAssertTrue("\($0)".contains("used twice"), "\($0)") }
        let clash = minimal + "\naudit:\n  listen: /run/bulkhead/prod.sock\n"
        XCTAssertThrowsError(try ConfigLoader.load(yaml: clash)) { XCTAssertTrue("\($0)".contains("already used"), "\($0)") }
        XCTAssertThrowsError(try ConfigLoader.load(yaml: "listeners:\n  ssh-x: { unix: /run/x.sock }\n")) {
            XCTAssertTrue("\($0)".contains("reserved for ssh.remotes"), "\($0)")
        }
    }

    func testPinnedKeyReplacesKnownHosts() throws {
        let pinned = minimal + "\n      host_key: SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s\n      known_hosts: relative/file"
        XCTAssertEqual(try ConfigLoader.load(yaml: pinned).enabledSSHRemotes.first?.hostKey, "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")
        XCTAssertThrowsError(try ConfigLoader.load(yaml: minimal + "\n      known_hosts: relative/file")) {
            XCTAssertTrue("\($0)".contains("known_hosts"), "\($0)")
        }
    }

    func testHostAddressForms() {
        XCTAssertEqual(SSHHostAddress("h"), SSHHostAddress("h:22"))
        XCTAssertEqual(SSHHostAddress("[::1]:2200")?.host, "::1")
        XCTAssertEqual(SSHHostAddress("[::1]:2200")?.knownHostsName, "[::1]:2200")
        XCTAssertEqual(SSHHostAddress("10.0.0.1")?.knownHostsName, "10.0.0.1")
        for bad in ["", ":22", "h:0", "h:x", "[::1", "a b", "-oFoo", "h:22:33", "h;id"] { XCTAssertNil(SSHHostAddress(bad), bad) }
    }

    func testDurations() throws {
        XCTAssertEqual(try ConfigDuration(parsing: "10s").seconds, 10)
        XCTAssertEqual(try ConfigDuration(parsing: "500ms").seconds, 0.5)
        XCTAssertEqual(try ConfigDuration(parsing: "2m").seconds, 120)
        XCTAssertEqual(try ConfigDuration(parsing: "1.5").seconds, 1.5)
        for bad in ["", "s", "-1s", "ten", "1d", "infs"] { XCTAssertThrowsError(try ConfigDuration(parsing: bad), bad) }
    }
}
