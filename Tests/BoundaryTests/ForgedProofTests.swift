import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Review finding 1: a hostile agent that gets a socket bound to router.listen but
/// not listening can connect() it to any listener on the host (root's, or another
/// user's) and offer it as a "connection accepted on the router" from that
/// listener's owner. Every listener now leaves the helper listening, so such a
/// connect fails, and whatever the agent offers instead is refused. TCP listeners
/// never leave the helper at all: a listening TCP socket can be shut down and
/// reconnected from its privileged port.
final class ForgedProofTests: XCTestCase {
    var fixture: TestFixture!
    var helper: HelperUnderTest!
    var victims: [Process] = []

    override func setUpWithError() throws {
        try HelperUnderTest.requireRoot()
        fixture = try TestFixture(relayRoot: true)
        helper = try HelperUnderTest(configPath: fixture.configPath)
        try helper.hello()
    }

    override func tearDown() {
        for v in victims where v.isRunning { v.terminate() }
        helper = nil
        fixture?.remove()
    }

    private func routerSocket() throws -> Int32 {
        let (reply, fd) = try helper.call(.bindUnixListener(name: ListenerName("router")!))
        XCTAssertEqual(reply, .ok(payload: []))
        XCTAssertGreaterThanOrEqual(fd, 0)
        return fd
    }

    func testEveryUnixListenerIsHandedOutListening() throws {
        for name in ["router", "extra", "audit", "ssh-lab"] {
            let (reply, fd) = try helper.call(.bindUnixListener(name: ListenerName(name)!))
            XCTAssertEqual(reply, .ok(payload: []), name)
            defer { close(fd) }
            var listening: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            XCTAssertEqual(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size), 0)
            XCTAssertEqual(listening, 1, "\(name) must already be listening when the agent gets it")
        }
    }

    func testRouterSocketConnectedToRootsListenerIsNoProofForRoot() throws {
        // The prize: with root_policy: socket, a proof for uid 0 opens the rootful daemon.
        let rootDaemon = TestFixture.listeningSocket(at: fixture.rootDaemonSocket)
        defer { close(rootDaemon) }
        let victim = TestFixture.listeningSocket(at: "\(fixture.dir)/root-service.sock")
        defer { close(victim) }
        let router = try routerSocket()
        defer { close(router) }
        let rc = TestFixture.connectUnix(router, to: "\(fixture.dir)/root-service.sock")
        let connectErrno = errno
        XCTAssertEqual(rc, -1, "connect() of the handed-out router socket must fail")
        XCTAssertEqual(connectErrno, EINVAL, "a listening Unix socket cannot connect")
        let message = assertRefused(try helper.call(.connectUserDockerSocket(uid: 0), fd: router), .proofRejected)
        XCTAssertTrue(message.contains("listening socket"), message)
        var pfd = pollfd(fd: rootDaemon, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&pfd, 1, 200), 0, "the rootful daemon must not have been connected to")
    }

    func testRouterSocketConnectedToAnotherUsersListenerIsNoProofForThatUser() throws {
        let bob = try XCTUnwrap(TestFixture.uid(of: "bob"), "test user bob missing: run `make test`")
        // Bob's own service, in the abstract namespace (no directory to traverse).
        let name = "bh-victim-\(getpid())"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        p.arguments = ["-u", "bob", "--", "python3", "-c",
                       "import socket,time; s=socket.socket(socket.AF_UNIX); s.bind('\\0\(name)'); s.listen(); time.sleep(30)"]
        try p.run()
        victims.append(p)
        let router = try routerSocket()
        defer { close(router) }
        var rc: Int32 = -1, connectErrno: Int32 = 0
        for _ in 0..<100 {  // until bob's listener is up (bounded: 5 s)
            rc = TestFixture.connectUnix(router, to: name, abstract: true)
            connectErrno = errno
            if rc == 0 || connectErrno != ECONNREFUSED { break }
            usleep(50_000)
        }
        XCTAssertEqual(rc, -1, "connect() of the handed-out router socket must fail")
        XCTAssertEqual(connectErrno, EINVAL)
        assertRefused(try helper.call(.connectUserDockerSocket(uid: bob), fd: router), .proofRejected)
    }

    func testTCPListenerNeverLeavesTheHelper() throws {
        let (reply, channel) = try helper.call(.bindTCPListener(name: ListenerName("priv")!))
        XCTAssertEqual(reply, .ok(payload: []))
        defer { close(channel) }
        var domain: Int32 = 0, type: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(channel, SOL_SOCKET, SO_DOMAIN, &domain, &size)
        getsockopt(channel, SOL_SOCKET, SO_TYPE, &type, &size)
        XCTAssertEqual(domain, AF_UNIX, "the agent gets an accept channel, not the TCP socket")
        XCTAssertEqual(type, Int32(SOCK_SEQPACKET.rawValue))

        // The attack on a TCP socket bound to port 444: shut it down, then connect out from 444.
        let outside = try TCPTestPeer.listen()
        defer { close(outside.fd) }
        _ = shutdown(channel, Int32(SHUT_RD))
        XCTAssertNotEqual(TCPTestPeer.connect(channel, port: outside.port), 0, "the accept channel cannot connect anywhere over TCP")
    }

    func testTCPConnectionsArriveOverTheAcceptChannelAndCannotKeepThePort() throws {
        let (_, channel) = try helper.call(.bindTCPListener(name: ListenerName("priv")!))
        defer { close(channel) }
        let (client, accepted) = try TCPTestPeer.connectThroughHelper(channel: channel)
        defer { close(client); close(accepted) }
        XCTAssertEqual(TCPTestPeer.localPort(accepted), TestFixture.privilegedPort)
        XCTAssertEqual(write(accepted, "hi", 2), 2)
        var buffer = [UInt8](repeating: 0, count: 2)
        XCTAssertEqual(read(client, &buffer, 2), 2, "it is the live connection")

        // Disconnect the accepted socket and reconnect it: the port does not come along.
        var unspec = sockaddr()
        unspec.sa_family = sa_family_t(AF_UNSPEC)
        XCTAssertEqual(Glibc.connect(accepted, &unspec, socklen_t(MemoryLayout<sockaddr>.size)), 0)
        let outside = try TCPTestPeer.listen()
        defer { close(outside.fd) }
        XCTAssertEqual(TCPTestPeer.connect(accepted, port: outside.port), 0)
        XCTAssertNotEqual(TCPTestPeer.localPort(accepted), TestFixture.privilegedPort, "no privileged source port")
        XCTAssertGreaterThanOrEqual(TCPTestPeer.localPort(accepted), 1024)
    }

    func testANewAcceptChannelReplacesTheOldOne() throws {
        let (_, first) = try helper.call(.bindTCPListener(name: ListenerName("priv")!))
        defer { close(first) }
        let (_, second) = try helper.call(.bindTCPListener(name: ListenerName("priv")!))
        defer { close(second) }
        var buffer = [UInt8](repeating: 0, count: 4)
        XCTAssertEqual(read(first, &buffer, 4), 0, "the helper closed the first channel")
        let (client, accepted) = try TCPTestPeer.connectThroughHelper(channel: second)
        close(client); close(accepted)
    }
}

/// Loopback TCP for the tests above.
enum TCPTestPeer {
    static func listen() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, Glibc.listen(fd, 4) == 0 else { throw SystemCallError(call: "listen", errno: errno) }
        return (fd, localPort(fd))
    }

    static func connect(_ fd: Int32, port: UInt16) -> Int32 {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }

    /// Connects to the helper's privileged test port and returns (our client, the
    /// connection the helper forwarded over `channel`); throws if none arrives in 5 s.
    static func connectThroughHelper(channel: Int32) throws -> (client: Int32, accepted: Int32) {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard connect(client, port: TestFixture.privilegedPort) == 0 else { close(client); throw SystemCallError(call: "connect", errno: errno) }
        var pfd = pollfd(fd: channel, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 5000) == 1, let accepted = try AcceptChannel.receive(on: PacketChannel(fd: channel)) else {
            close(client)
            throw HelperTestError.unexpected("the helper forwarded no connection")
        }
        return (client, accepted)
    }

    static func localPort(_ fd: Int32) -> UInt16 {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: addr.sin_port)
    }
}
