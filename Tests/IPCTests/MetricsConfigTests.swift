import Config
import XCTest

final class MetricsConfigTests: XCTestCase {
    func testAbsentMeansNoListener() throws {
        XCTAssertNil(try ConfigLoader.load(yaml: "").enabledMetrics)
    }

    func testDefaultsAreLoopback() throws {
        let metrics = try XCTUnwrap(try ConfigLoader.load(yaml: "metrics: {}").enabledMetrics)
        XCTAssertEqual(metrics.listen, "127.0.0.1:9741")
        XCTAssertFalse(metrics.isUnix)
        XCTAssertNil(try ConfigLoader.load(yaml: "metrics:\n  enabled: false\n").enabledMetrics)
    }

    func testUnixSocket() throws {
        let metrics = try XCTUnwrap(try ConfigLoader.load(yaml: "metrics:\n  listen: /run/bulkhead/metrics.sock\n  mode: \"0600\"\n").enabledMetrics)
        XCTAssertTrue(metrics.isUnix)
        XCTAssertEqual(metrics.mode, "0600")
    }

    func testErrorsNameTheKey() {
        assertConfigRefused([
            ("metrics:\n  listen: localhost:9741\n", "metrics.listen \"localhost:9741\" is not NUMERIC-ADDRESS:PORT"),
            ("metrics:\n  listen: /run/../etc/m.sock\n", "metrics.listen must be an absolute path"),
            ("metrics:\n  listen: /run/m.sock\n  mode: \"rw\"\n", "metrics.mode \"rw\" is not an octal mode"),
            ("metrics:\n  port: 9741\n", "unknown key metrics.port"),
            ("listeners:\n  metrics:\n    tcp: 127.0.0.1:1\n", "the name `metrics` is reserved for metrics.listen"),
        ])
    }
}
