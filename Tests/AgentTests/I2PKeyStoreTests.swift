@testable import Agent
import Glibc
import XCTest

/// `<state_dir>/keys/<container>/{outbound,port-N}.priv`: modes, atomic replacement, names.
final class I2PKeyStoreTests: XCTestCase {
    private var stateDir = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/bh-keystore-XXXXXX".utf8CString)
        stateDir = String(cString: try XCTUnwrap(mkdtemp(&template)))
    }

    override func tearDown() {
        _ = try? FileManager.default.removeItem(atPath: stateDir)
    }

    private var key: I2PPrivateKey { I2PPrivateKey(I2PAddressTests.privateKey)! }

    func testSavedKeysComeBackWithPrivateModes() throws {
        let store = I2PKeyStore(stateDir: stateDir)
        XCTAssertNil(try store.load("web", .outbound), "no key yet")
        try store.save(key, "web", .outbound)
        try store.save(key, "web", .service(port: 80))
        XCTAssertEqual(try store.load("web", .outbound), key)
        XCTAssertEqual(try store.load("web", .service(port: 80)), key)
        XCTAssertEqual(mode(stateDir + "/keys"), 0o700)
        XCTAssertEqual(mode(stateDir + "/keys/web"), 0o700)
        XCTAssertEqual(mode(stateDir + "/keys/web/outbound.priv"), 0o600)
        XCTAssertEqual(mode(stateDir + "/keys/web/port-80.priv"), 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: stateDir + "/keys/web").sorted(),
                       ["outbound.priv", "port-80.priv"], "no temporary file stays after a save")
    }

    func testACrashBeforeTheRenameLeavesTheOldKeyWhole() throws {
        var store = I2PKeyStore(stateDir: stateDir)
        try store.save(key, "web", .outbound)
        let other = try XCTUnwrap(I2PPrivateKey(I2PBase64.encode([UInt8](repeating: 7, count: 385) + [0, 0, 9])))
        store.beforeRename = { (path: String) throws(I2PKeyStore.Failure) in throw .system("simulated crash before rename", path: path, errno: EIO) }
        XCTAssertThrowsError(try store.save(other, "web", .outbound))
        XCTAssertEqual(try store.load("web", .outbound), key, "the old key, not a mix")
        XCTAssertThrowsError(try store.save(other, "web", .service(port: 443)))
        XCTAssertNil(try store.load("web", .service(port: 443)), "a key that was never renamed into place does not exist")
        store.beforeRename = { _ in }
        try store.save(other, "web", .outbound)
        XCTAssertEqual(try store.load("web", .outbound), other, "the crash's leftover does not stop the next save")
    }

    func testACorruptKeyIsAnErrorNotANewAddress() throws {
        let store = I2PKeyStore(stateDir: stateDir)
        try store.save(key, "web", .outbound)
        let path = stateDir + "/keys/web/outbound.priv"
        try String(I2PAddressTests.privateKey.prefix(300)).write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try store.load("web", .outbound)) { XCTAssertEqual($0 as? I2PKeyStore.Failure, .notAKey(path: path)) }
    }

    func testOnlyDockerNamesAreStored() {
        let store = I2PKeyStore(stateDir: stateDir)
        for name in ["web", "Web_1.a-b", "0"] { XCTAssertTrue(I2PKeyStore.isContainerName(name), name) }
        for name in ["", ".", "..", "../etc", "a/b", "-x", "_x", ".hidden", "a b", "a\nb", "é", String(repeating: "a", count: 129)] {
            XCTAssertFalse(I2PKeyStore.isContainerName(name), name.debugDescription)
            XCTAssertThrowsError(try store.save(key, name, .outbound)) { XCTAssertEqual($0 as? I2PKeyStore.Failure, .badName(name)) }
            XCTAssertThrowsError(try store.load(name, .outbound))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateDir + "/keys"), "nothing was written for a refused name")
    }

    private func mode(_ path: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0, path)
        return st.st_mode & 0o7777
    }
}
