import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// connectUserDockerSocket(uid): the proof must be a connection accepted on
/// router.listen whose kernel-reported peer is `uid`, and the daemon that
/// answers must run as `uid`. Uses the real accounts alice, bob and carol.
final class ConnectIntentTests: HelperSessionTestCase {
    var router: Int32 = -1
    var clients: [Process] = []

    override func setUpWithError() throws {
        guard TestFixture.uid(of: "carol") != nil, TestFixture.uid(of: "bob") != nil else {
            throw XCTSkip("test users missing: run `make test` (scripts/testenv.sh up creates them)")
        }
        try super.setUpWithError()
        router = try bindUnixListener("router")
        XCTAssertEqual(listen(router, 16), 0)
    }

    override func tearDown() {
        for c in clients where c.isRunning { c.terminate() }
        if router >= 0 { close(router) }
        super.tearDown()
    }

    /// A real connection to router.listen made by `user`; returns our accepted end.
    private func proof(from user: String) throws -> Int32 {
        clients.append(try TestFixture.connect(as: user, to: fixture.routerSocket))
        let fd = TestFixture.acceptOne(router)
        XCTAssertGreaterThanOrEqual(fd, 0, "no connection from \(user)")
        return fd
    }

    private func userDir(_ uid: UInt32) -> String { "\(fixture.userSockets)/\(uid)" }

    func testMissingProofIsRefused() throws {
        let frame = Frame(kind: .request, type: RequestType.connectUserDockerSocket.rawValue, id: 7,
                          payload: Request.connectUserDockerSocket(uid: 1001).encodePayload())
        assertRefused(try helper.callRaw(frame.encoded()), .malformed)
    }

    func testMalformedUIDPayloadIsRefused() throws {
        let fd = try proof(from: "carol")
        defer { close(fd) }
        let frame = Frame(kind: .request, type: RequestType.connectUserDockerSocket.rawValue, id: 7, payload: [0, 0, 3])
        assertRefused(try helper.callRaw(frame.encoded(), fd: fd), .malformed)
    }

    func testProofThatIsNotASocketIsRefused() throws {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        assertRefused(try helper.call(.connectUserDockerSocket(uid: 1001), fd: fds[0]), .proofRejected)
    }

    func testProofFromAnotherSocketIsRefused() throws {
        // A socketpair the agent made itself: its peer is the agent, and it was not accepted on router.listen.
        let (a, b) = try PacketChannel.pair()
        defer { a.close(); b.close() }
        assertRefused(try helper.call(.connectUserDockerSocket(uid: 0), fd: a.fd), .proofRejected)
    }

    func testForgedProofOfAnotherUIDIsRefused() throws {
        let carol = try XCTUnwrap(TestFixture.uid(of: "carol"))
        let bob = try XCTUnwrap(TestFixture.uid(of: "bob"))
        let fd = try proof(from: "bob")
        defer { close(fd) }
        // Bob's connection presented as proof for carol: refused, whatever carol's daemon state.
        mkdir(userDir(carol), 0o700)
        chown(userDir(carol), carol, carol)
        let message = assertRefused(try helper.call(.connectUserDockerSocket(uid: carol), fd: fd), .proofRejected)
        XCTAssertTrue(message.contains("uid \(bob)"), message)
    }

    func testUserWithoutDaemonGetsNotFound() throws {
        let carol = try XCTUnwrap(TestFixture.uid(of: "carol"))
        let fd = try proof(from: "carol")
        defer { close(fd) }
        let message = assertRefused(try helper.call(.connectUserDockerSocket(uid: carol), fd: fd), .notFound)
        XCTAssertTrue(message.contains("no rootless Docker daemon for uid \(carol)"), message)
    }

    func testRootIsRefusedByDefaultPolicy() throws {
        let connection = try TestFixture.connectAsSelf(to: fixture.routerSocket)
        defer { close(connection) }
        let fd = TestFixture.acceptOne(router)
        defer { close(fd) }
        assertRefused(try helper.call(.connectUserDockerSocket(uid: 0), fd: fd), .policyRefused)
    }

    func testSymlinkPlantedByTheUserIsRefused() throws {
        let carol = try XCTUnwrap(TestFixture.uid(of: "carol"))
        // Carol points "her" socket at a root daemon's socket to borrow its power.
        let rootDaemon = TestFixture.listeningSocket(at: "\(fixture.dir)/root-daemon.sock")
        defer { close(rootDaemon) }
        mkdir(userDir(carol), 0o700)
        chown(userDir(carol), carol, carol)
        symlink("\(fixture.dir)/root-daemon.sock", "\(userDir(carol))/docker.sock")
        let fd = try proof(from: "carol")
        defer { close(fd) }
        assertRefused(try helper.call(.connectUserDockerSocket(uid: carol), fd: fd), .proofRejected)
        var pfd = pollfd(fd: rootDaemon, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&pfd, 1, 200), 0, "the root daemon must not have been connected to")
    }

    func testDaemonRunningAsAnotherUIDIsRefused() throws {
        let carol = try XCTUnwrap(TestFixture.uid(of: "carol"))
        mkdir(userDir(carol), 0o700)
        chown(userDir(carol), carol, carol)
        // A socket at the right path, but served by root: not carol's daemon.
        let impostor = TestFixture.listeningSocket(at: "\(userDir(carol))/docker.sock")
        defer { close(impostor) }
        let fd = try proof(from: "carol")
        defer { close(fd) }
        let message = assertRefused(try helper.call(.connectUserDockerSocket(uid: carol), fd: fd), .proofRejected)
        XCTAssertTrue(message.contains("does not run as uid"), message)
    }

    /// The attack found in review: bind a client socket to the same *path* as
    /// router.listen in a private mount namespace, connect it to a root listener,
    /// and present it as proof for uid 0. Its socket file is not the router's.
    func testProofBoundToTheRouterPathInAnotherMountNamespaceIsRefused() throws {
        let rootDaemonPath = "\(fixture.dir)-rootd.sock"
        let rootDaemon = TestFixture.listeningSocket(at: rootDaemonPath)
        defer { close(rootDaemon); unlink(rootDaemonPath) }
        var pair: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair), 0)
        defer { close(pair[0]) }
        let forger = Process()
        forger.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        forger.arguments = ["--mount", "--propagation", "private", "sh", "-c",
            "mount -t tmpfs tmpfs '\(fixture.dir)' && exec python3 -c \"import socket,array; "
            + "c=socket.socket(socket.AF_UNIX); c.bind('\(fixture.routerSocket)'); c.connect('\(rootDaemonPath)'); "
            + "socket.socket(fileno=0).sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [c.fileno()]))])\""]
        forger.standardInput = FileHandle(fileDescriptor: pair[1], closeOnDealloc: true)
        try forger.run()
        forger.waitUntilExit()
        XCTAssertEqual(forger.terminationStatus, 0, "the forger could not build its socket")
        let received = try PacketChannelProbe.receiveFD(on: pair[0])
        defer { close(received) }
        XCTAssertEqual(PeerCredentials.of(fd: received)?.uid, 0, "the forged proof's peer is root")
        let message = assertRefused(try helper.call(.connectUserDockerSocket(uid: 0), fd: received), .proofRejected)
        XCTAssertTrue(message.contains("not accepted on router.listen"), message)
        var pfd = pollfd(fd: rootDaemon, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&pfd, 1, 100), 1, "the forger did reach the root listener (the attack was real)")
    }

    func testListeningSocketAsProofIsRefused() throws {
        // The router's own listening socket: its "peer" is whoever called listen().
        let message = assertRefused(try helper.call(.connectUserDockerSocket(uid: 0), fd: router), .proofRejected)
        XCTAssertTrue(message.contains("listening socket"), message)
    }

    func testProofCanBeUsedOnlyOnce() throws {
        let carol = try XCTUnwrap(TestFixture.uid(of: "carol"))
        let fd = try proof(from: "carol")
        defer { close(fd) }
        assertRefused(try helper.call(.connectUserDockerSocket(uid: carol), fd: fd), .notFound)
        let message = assertRefused(try helper.call(.connectUserDockerSocket(uid: carol), fd: fd), .proofRejected)
        XCTAssertTrue(message.contains("already used"), message)
    }

    func testProofWhoseClientHungUpIsRefused() throws {
        let carol = try XCTUnwrap(TestFixture.uid(of: "carol"))
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        client.arguments = ["-u", "carol", "--", "python3", "-c",
                            "import socket; s=socket.socket(socket.AF_UNIX); s.connect('\(fixture.routerSocket)'); s.close()"]
        try client.run()
        client.waitUntilExit()
        let fd = TestFixture.acceptOne(router)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let message = assertRefused(try helper.call(.connectUserDockerSocket(uid: carol), fd: fd), .proofRejected)
        XCTAssertTrue(message.contains("hung up"), message)
    }

    func testGenuineProofReachesTheUsersOwnDaemon() throws {
        let carol = try XCTUnwrap(TestFixture.uid(of: "carol"))
        mkdir(userDir(carol), 0o700)
        chown(userDir(carol), carol, carol)
        // Carol's "daemon": a listener run as carol (python3 via runuser) in her 0700 directory.
        let daemonPath = "\(userDir(carol))/docker.sock"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        daemon.arguments = ["-u", "carol", "--", "python3", "-c",
                            "import socket,time; s=socket.socket(socket.AF_UNIX); s.bind('\(daemonPath)'); s.listen(4); c,_=s.accept(); c.sendall(b'carol-daemon'); time.sleep(5)"]
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        clients.append(daemon)
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: daemonPath) { usleep(50_000) }
        let fd = try proof(from: "carol")
        defer { close(fd) }
        let (reply, upstream) = try helper.call(.connectUserDockerSocket(uid: carol), fd: fd)
        XCTAssertEqual(reply, .ok(payload: []))
        XCTAssertGreaterThanOrEqual(upstream, 0)
        defer { close(upstream) }
        var pfd = pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&pfd, 1, 5000), 1)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(upstream, &buffer, buffer.count)
        XCTAssertEqual(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self), "carol-daemon")
    }
}

extension TestFixture {
    /// A connection from this (root) process.
    static func connectAsSelf(to path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard connectUnix(fd, to: path) == 0 else { throw SystemCallError(call: "connect", errno: errno) }
        return fd
    }

    /// connect() of an existing socket `fd` to a Unix address; `abstract` puts it in
    /// the abstract namespace. Returns connect's result (errno is left set).
    static func connectUnix(_ fd: Int32, to path: String, abstract: Bool = false) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = (abstract ? [0] : []) + Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = abstract ? socklen_t(MemoryLayout<sa_family_t>.size + bytes.count) : socklen_t(MemoryLayout<sockaddr_un>.size)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
    }
}

/// Receives one fd sent with SCM_RIGHTS on a stream socket (test side of a forger).
enum PacketChannelProbe {
    static func receiveFD(on fd: Int32) throws -> Int32 {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 10_000) == 1 else { throw HelperTestError.noReply }
        let received = try PacketChannel(fd: fd).receive(limit: 16)
        guard received.fd >= 0 else { throw HelperTestError.unexpected("no fd arrived") }
        return received.fd
    }
}
