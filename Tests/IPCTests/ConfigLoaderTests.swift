import Config
import XCTest

final class ConfigLoaderTests: XCTestCase {
    func testDefaults() throws {
        let config = try ConfigLoader.load(yaml: "router: {}")
        XCTAssertEqual(config.router?.listen, "/var/run/docker.sock")
        XCTAssertEqual(config.router?.mode, "0666")
        XCTAssertEqual(config.router?.userSocket, "/run/user/%d/docker.sock")
        XCTAssertEqual(config.router?.rootPolicy, .refuse)
        XCTAssertEqual(config.helper.user, "bulkhead-helper")
        XCTAssertEqual(config.agent.user, "bulkhead")
        XCTAssertNil(try ConfigLoader.load(yaml: "").enabledRouter, "a service runs only when its section is present")
    }

    func testPrecedenceFlagOverEnvironmentOverFile() throws {
        let yaml = "router:\n  listen: /run/file.sock\n  max_connections_per_user: 5\n"
        let env = ["BULKHEAD_ROUTER__LISTEN": "/run/env.sock", "BULKHEAD_ROUTER__MAX_CONNECTIONS_PER_USER": "7", "HOME": "/root"]
        let fromEnv = try ConfigLoader.load(yaml: yaml, environment: env)
        XCTAssertEqual(fromEnv.router?.listen, "/run/env.sock")
        XCTAssertEqual(fromEnv.router?.maxConnectionsPerUser, 7)
        let fromFlag = try ConfigLoader.load(yaml: yaml, environment: env, overrides: ["router.listen=/run/flag.sock"])
        XCTAssertEqual(fromFlag.router?.listen, "/run/flag.sock")
        XCTAssertEqual(try ConfigLoader.load(yaml: "", overrides: ["log_format=json"]).logFormat, .json)
        XCTAssertNoThrow(try ConfigLoader.load(yaml: "", environment: ["BULKHEAD_BIN_DIR": "/x"]), "not a config section: not ours")
        XCTAssertThrowsError(try ConfigLoader.load(yaml: "", environment: ["BULKHEAD_ROUTER__LISEN": "/x"])) {
            XCTAssertTrue("\($0)".contains("router.lisen"))
        }
    }

    func testUnknownKeysAreErrorsNamingTheKey() {
        XCTAssertThrowsError(try ConfigLoader.load(yaml: "router:\n  lisen: /x\n")) {
            XCTAssertTrue("\($0)".contains("router.lisen"), "\($0)")
        }
        XCTAssertThrowsError(try ConfigLoader.load(yaml: "routr: {}\n")) { XCTAssertTrue("\($0)".contains("routr")) }
    }

    func testBadValuesNameTheKey() {
        assertConfigRefused([
            ("router: {listen: relative.sock}", "router.listen"),
            ("router: {mode: \"999\"}", "router.mode"),
            ("router: {user_socket: /run/user/docker.sock}", "router.user_socket"),
            ("router: {root_policy: socket}", "router.root_socket"),
            ("router: {root_policy: maybe}", "root_policy"),
            ("router: {max_connections_per_user: 0}", "router.max_connections_per_user"),
            ("router: {listen: /run/../etc/x.sock}", "router.listen"),
            ("listeners: {Bad: {tcp: \"127.0.0.1:1\"}}", "listeners.Bad"),
            ("listeners: {web: {tcp: \"localhost\"}}", "listeners.web.tcp"),
            ("listeners: {web: {tcp: \"localhost:443\"}}", "NUMERIC-ADDRESS"),
            ("listeners: {web: {unix: /run/a.sock, tcp: \"127.0.0.1:1\"}}", "listeners.web"),
            ("listeners: {router: {unix: /run/a.sock}}", "reserved"),
            ("helper: {user: bulkhead}", "must be different"),
        ])
    }

    func testTCPAddressParsing() {
        XCTAssertEqual(TCPAddress("127.0.0.1:443"), TCPAddress("127.0.0.1:443"))
        XCTAssertEqual(TCPAddress("[::1]:8443")?.host, "::1")
        XCTAssertNil(TCPAddress("127.0.0.1:0"))
        XCTAssertNil(TCPAddress(":80"))
        XCTAssertNil(TCPAddress("[::1]"))
    }
}
