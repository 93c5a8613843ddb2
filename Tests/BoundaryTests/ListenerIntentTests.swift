import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// bindUnixListener / bindTCPListener: only names from the helper's config, with
/// the mode and owner from the config; never another daemon's live socket.
final class ListenerIntentTests: HelperSessionTestCase {
    func testUnixListenerGetsConfiguredModeAndOwner() throws {
        let fd = try bindUnixListener("extra")
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let st = socketFile(at: fixture.extraSocket)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(st.st_uid, TestFixture.uid(of: "nobody"))
        var listening: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        XCTAssertEqual(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size), 0)
        XCTAssertEqual(listening, 1, "the fd handed over is the bound socket, already listening")
    }

    func testUnknownUnixNameIsRefusedWithNoEffect() throws {
        let message = assertRefused(try helper.call(.bindUnixListener(name: ListenerName("nosuch")!)), .unknownName)
        XCTAssertTrue(message.contains("nosuch"))
    }

    func testPathLikeNameIsRefusedAsMalformed() throws {
        for raw in ["../etc/passwd", "/run/docker.sock", "Router", "", String(repeating: "a", count: 40), "a b"] {
            var w = WireWriter()
            w.string(raw)
            let frame = Frame(kind: .request, type: RequestType.bindUnixListener.rawValue, id: 5, payload: w.bytes)
            assertRefused(try helper.callRaw(frame.encoded()), .malformed)
            let tcp = Frame(kind: .request, type: RequestType.bindTCPListener.rawValue, id: 6, payload: w.bytes)
            assertRefused(try helper.callRaw(tcp.encoded()), .malformed)
        }
    }

    func testKindMismatchIsRefused() throws {
        assertRefused(try helper.call(.bindTCPListener(name: ListenerName("extra")!)), .unknownName)
        assertRefused(try helper.call(.bindUnixListener(name: ListenerName("priv")!)), .unknownName)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.extraSocket))
    }

    func testLiveSocketOfAnotherDaemonIsNeverStolen() throws {
        let other = TestFixture.listeningSocket(at: fixture.liveSocket)
        defer { close(other) }
        var before = stat()
        lstat(fixture.liveSocket, &before)
        let message = assertRefused(try helper.call(.bindUnixListener(name: ListenerName("live")!)), .conflict)
        XCTAssertTrue(message.contains("listeners.live.unix"), "the refusal names the config key: \(message)")
        var after = stat()
        XCTAssertEqual(lstat(fixture.liveSocket, &after), 0, "the other daemon's socket must still exist")
        XCTAssertEqual(before.st_ino, after.st_ino)
    }

    func testNonSocketFileIsNeverDeleted() throws {
        _ = FileManager.default.createFile(atPath: fixture.liveSocket, contents: Data("precious".utf8))
        assertRefused(try helper.call(.bindUnixListener(name: ListenerName("live")!)), .conflict)
        XCTAssertEqual(FileManager.default.contents(atPath: fixture.liveSocket), Data("precious".utf8))
    }

    func testListenerInADirectoryOthersCanWriteIsRefused() throws {
        for mode: mode_t in [0o775, 0o757, 0o1777] {
            chmod(fixture.dir, mode)
            let message = assertRefused(try helper.call(.bindUnixListener(name: ListenerName("extra")!)), .conflict)
            XCTAssertTrue(message.contains("writable by root only"), message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.extraSocket))
        }
        chmod(fixture.dir, 0o755)
        XCTAssertEqual(try helper.call(.bindUnixListener(name: ListenerName("extra")!)).0, .ok(payload: []))
    }

    func testStaleSocketIsReplaced() throws {
        let dead = TestFixture.listeningSocket(at: fixture.staleSocket)
        close(dead)  // the file stays, nobody listens: stale
        let fd = try bindUnixListener("stale")
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
    }

    func testPrivilegedTCPPortIsBoundOnTheConfiguredAddressOnly() throws {
        let (reply, channel) = try helper.call(.bindTCPListener(name: ListenerName("priv")!))
        XCTAssertEqual(reply, .ok(payload: []))
        defer { close(channel) }
        let (client, accepted) = try TCPTestPeer.connectThroughHelper(channel: channel)
        defer { close(client); close(accepted) }
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(accepted, $0, &len) } }
        XCTAssertEqual(rc, 0)
        XCTAssertEqual(UInt16(bigEndian: addr.sin_port), TestFixture.privilegedPort)
        XCTAssertEqual(addr.sin_addr.s_addr, inet_addr("127.0.0.1"))
    }

    func testUnknownTCPNameIsRefused() throws {
        assertRefused(try helper.call(.bindTCPListener(name: ListenerName("http")!)), .unknownName)
    }

    func testRepeatedBindReturnsTheSameSocket() throws {
        let (_, first) = try helper.call(.bindUnixListener(name: ListenerName("extra")!))
        let (_, second) = try helper.call(.bindUnixListener(name: ListenerName("extra")!))
        defer { close(first); close(second) }
        var a = stat(), b = stat()
        fstat(first, &a); fstat(second, &b)
        XCTAssertEqual(a.st_ino, b.st_ino, "an agent restart must get the same socket back")
    }
}
