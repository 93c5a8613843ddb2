import XCTest

/// A test case with its own fixture directory and a fresh helper session.
class HelperSessionTestCase: XCTestCase {
    var fixture: TestFixture!
    var helper: HelperUnderTest!

    /// Whether the session starts with a successful `hello`.
    var greetsOnStart: Bool { true }

    override func setUpWithError() throws {
        try HelperUnderTest.requireRoot()
        fixture = try TestFixture()
        helper = try HelperUnderTest(configPath: fixture.configPath)
        if greetsOnStart { try helper.hello() }
    }

    override func tearDown() {
        helper = nil
        fixture?.remove()
    }
}
