import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// connectUpstream(name): only a service's configured upstream, never a symlink,
/// never through a directory others can write; the path is always the helper's.
final class UpstreamIntentTests: HelperSessionTestCase {
    func testUnknownServiceIsRefused() throws {
        assertRefused(try helper.call(.connectUpstream(name: ListenerName("router")!)), .unknownName)
        assertRefused(try helper.call(.connectUpstream(name: ListenerName("nosuch")!)), .unknownName)
    }

    func testPathLikeNameIsRefusedAsMalformed() throws {
        for raw in ["/var/run/docker.sock", "../audit", "Audit", ""] {
            var w = WireWriter()
            w.string(raw)
            let frame = Frame(kind: .request, type: RequestType.connectUpstream.rawValue, id: 3, payload: w.bytes)
            assertRefused(try helper.callRaw(frame.encoded()), .malformed)
        }
    }

    func testFDAttachedIsRefused() throws {
        let (a, b) = try PacketChannel.pair()
        defer { a.close(); b.close() }
        assertRefused(try helper.call(.connectUpstream(name: ListenerName("audit")!), fd: a.fd), .malformed)
    }

    func testMissingUpstreamIsNotFound() throws {
        let message = assertRefused(try helper.call(.connectUpstream(name: ListenerName("audit")!)), .notFound)
        XCTAssertTrue(message.contains("audit.upstream"), message)
    }

    func testSymlinkUpstreamIsRefused() throws {
        let target = TestFixture.listeningSocket(at: "\(fixture.dir)/elsewhere.sock")
        defer { close(target) }
        symlink("\(fixture.dir)/elsewhere.sock", fixture.upstreamSocket)
        assertRefused(try helper.call(.connectUpstream(name: ListenerName("audit")!)), .proofRejected)
        var pfd = pollfd(fd: target, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&pfd, 1, 100), 0, "the symlink's target must not have been connected to")
    }

    func testUpstreamInADirectoryOthersCanWriteIsRefused() throws {
        let upstream = TestFixture.listeningSocket(at: fixture.upstreamSocket)
        defer { close(upstream) }
        chmod(fixture.dir, 0o777)
        defer { chmod(fixture.dir, 0o755) }
        assertRefused(try helper.call(.connectUpstream(name: ListenerName("audit")!)), .conflict)
    }

    func testConfiguredUpstreamIsConnected() throws {
        let upstream = TestFixture.listeningSocket(at: fixture.upstreamSocket)
        defer { close(upstream) }
        let (reply, fd) = try helper.call(.connectUpstream(name: ListenerName("audit")!))
        XCTAssertEqual(reply, .ok(payload: []))
        defer { close(fd) }
        let accepted = TestFixture.acceptOne(upstream, timeoutMs: 2000)
        XCTAssertGreaterThanOrEqual(accepted, 0, "the fd handed over is connected to audit.upstream")
        if accepted >= 0 { close(accepted) }
    }
}
