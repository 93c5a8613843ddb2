import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

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

    /// Binds the configured Unix listener `name`, asserting that the helper agrees: the fd
    /// it hands over.
    func bindUnixListener(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int32 {
        let (reply, fd) = try helper.call(.bindUnixListener(name: ListenerName(name)!))
        XCTAssertEqual(reply, .ok(payload: []), file: file, line: line)
        return fd
    }

    /// The file at `path`, asserting that it is a socket.
    func socketFile(at path: String, file: StaticString = #filePath, line: UInt = #line) -> stat {
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0, file: file, line: line)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFSOCK, file: file, line: line)
        return st
    }
}
