@testable import Agent
import Foundation
import IPC
import Logging
import NIOCore
import NIOPosix
import XCTest

/// The SAM side against real i2pd routers: the private network of scripts/i2p-testnet.sh
/// (skipped when /run/bulkhead-test/i2p/testnet.env is absent or its routers do not answer).
/// A service on router 2 relays to a TCP echo server on the host end of the test network;
/// a client container's outbound session on router 3 reaches it by its .b32.i2p name
/// (two destinations on one router never exchange bytes). Takes about a minute: run it
/// with `flock /tmp/bulkhead-it.lock swift test --filter I2PTestnetTests`.
final class I2PTestnetTests: I2PSessionManagerTestCase {
    override class var eventLoopThreads: Int { 2 }

    func testServiceAndOutboundThroughARealNetwork() async throws {
        let env = try testnet()
        for sam in ["BH_I2P_SAM1", "BH_I2P_SAM2", "BH_I2P_SAM3"] {
            do {
                try await SAMConnection.open(try bridge(env[sam]), on: group.next(), timeout: .seconds(3)).close()
            } catch {
                throw XCTSkip("the I2P test network's \(sam) does not answer (\(error)): scripts/i2p-testnet.sh up")
            }
        }
        let host = try XCTUnwrap(env["BH_I2P_HOST_ADDR"])
        let hostAddress = try XCTUnwrap(IPv4Address(host))
        let echo = try await EchoServer.start(host: host, group: group)
        defer { echo.close(promise: nil) }
        let echoPort = try XCTUnwrap(echo.localAddress?.port)

        var logger = Logger(label: "i2p-sam-test")
        logger.logLevel = .debug
        let serviceSide = try manager(env["BH_I2P_SAM2"], logger: logger)
        let clientSide = try manager(env["BH_I2P_SAM3"], logger: logger)

        // Sessions come up in the background; a connect waits at most sessionWait meanwhile.
        let started = ContinuousClock.now
        serviceSide.attach(container: "web", address: hostAddress, ports: [UInt16(echoPort)])
        clientSide.attach(container: "client", address: hostAddress, ports: [])
        await assertFails(try await clientSide.connect(from: "client", to: "x.i2p", on: group.next()), containing: "is not up")
        await assertFails(try await clientSide.connect(from: "nobody", to: "x.i2p", on: group.next()), containing: "not attached")
        let web = try await waitUp(serviceSide, "web", port: UInt16(echoPort))
        _ = try await waitUp(clientSide, "client", port: nil)
        print("i2p-testnet: sessions up after \((ContinuousClock.now - started).milliseconds) ms, web at \(web)")
        XCTAssertEqual(try I2PKeyStore(stateDir: stateDir + "/2").load("web", .service(port: UInt16(echoPort)))?.destination.b32, web)

        // Outbound to the service by its b32 name; the inbound relay answers (echo, half-close).
        try await assertEchoes(clientSide, to: web, label: "first")

        // Errors are prompt and say why.
        let t0 = ContinuousClock.now
        await assertFails(try await clientSide.connect(from: "client", to: String(repeating: "a", count: 52) + ".b32.i2p", on: group.next()),
                          containing: "CANT_REACH_PEER")
        await assertFails(try await clientSide.connect(from: "client", to: "nosuch.i2p", on: group.next()), containing: "INVALID_KEY")
        print("i2p-testnet: an unknown b32 and an unknown name failed in \((ContinuousClock.now - t0).milliseconds) ms")
        XCTAssertEqual(clientSide.snapshot().first?.outbound.state, "up", "a failed stream does not end the session")

        // Detach and attach again: the saved key gives the same address, after the cool-down.
        serviceSide.detach(container: "web")
        XCTAssertEqual(serviceSide.snapshot(), [])
        let again = ContinuousClock.now
        serviceSide.attach(container: "web", address: hostAddress, ports: [UInt16(echoPort)])
        let webAgain = try await waitUp(serviceSide, "web", port: UInt16(echoPort))
        print("i2p-testnet: re-created with the saved key after \((ContinuousClock.now - again).milliseconds) ms")
        XCTAssertEqual(webAgain, web, "the address survives a re-create")
        // A new visitor, on router 1: router 3 still holds the old LeaseSet (its tunnels are
        // gone) and i2pd 2.45 keeps sending to it for minutes.
        let visitor = try manager(env["BH_I2P_SAM1"], logger: logger)
        visitor.attach(container: "client", address: hostAddress, ports: [])
        _ = try await waitUp(visitor, "client", port: nil)
        try await assertEchoes(visitor, to: web, label: "after re-create, from router 1")

        for (m, name) in [(serviceSide, "web"), (clientSide, "client"), (visitor, "client")] { m.detach(container: name) }
    }

    // MARK: - helpers

    private func testnet() throws -> [String: String] {
        let path = "/run/bulkhead-test/i2p/testnet.env"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw XCTSkip("no \(path): the I2P test network is not up") }
        var env = [String: String]()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { env[String(parts[0])] = String(parts[1]) }
        }
        return env
    }

    private func bridge(_ sam: String?) throws -> SocketAddress {
        let parts = try XCTUnwrap(sam).split(separator: ":")
        return try SocketAddress(ipAddress: String(parts[0]), port: Int(parts[1]) ?? 0)
    }

    /// A manager on router N's SAM bridge, with its own state directory `<tmp>/N`.
    private func manager(_ sam: String?, logger: Logger) throws -> I2PSessionManager {
        let bridge = try bridge(sam)
        var options = SAMSessionOptions(bridge: bridge, inboundLength: 0, outboundLength: 0, inboundQuantity: 1, outboundQuantity: 1)
        options.maxRetry = .seconds(10)
        options.sessionWait = .seconds(1)  // the first connects below must fail within it
        let dir = stateDir + "/" + (bridge.ipAddress ?? "").split(separator: ".").last!
        mkdir(dir, 0o700)
        let manager = I2PSessionManager(options: options, store: I2PKeyStore(stateDir: dir), group: group, logger: logger)
        return running(manager)
    }

    /// The session's b32 once it is up (the outbound one for `port: nil`).
    private func waitUp(_ manager: I2PSessionManager, _ name: String, port: UInt16?) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let c = manager.snapshot().first(where: { $0.container == name }) {
                let s = port == nil ? c.outbound : c.services.first { $0.port == port }
                if s?.state == "up", let address = s?.address { return address }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw SAMError.timedOut("\(name) coming up: \(manager.snapshot())")
    }

    /// Connects (retrying while the service's LeaseSet is not published yet), sends a
    /// message, and expects the whole message back and then the end that the container's
    /// half-close became. (The client does not half-close: i2pd 2.45 ends the whole stream
    /// when a SAM client shuts down its output, and the echo in flight is lost.)
    private func assertEchoes(_ manager: I2PSessionManager, to b32: String, label: String) async throws {
        let started = ContinuousClock.now
        var attempts = 0
        while true {
            attempts += 1
            do {
                let (channel, leftover) = try await manager.connect(from: "client", to: b32, on: group.next())
                XCTAssertNil(leftover)
                let connected = ContinuousClock.now
                let message = ByteBuffer(bytes: (0..<EchoServer.size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
                let received = channel.eventLoop.makePromise(of: ByteBuffer.self)
                try await channel.eventLoop.submit {
                    try channel.pipeline.syncOperations.addHandler(Collector(received))
                    try channel.syncOptions?.setOption(.autoRead, value: true)
                }.get()
                try await channel.writeAndFlush(message).get()
                channel.eventLoop.scheduleTask(in: .seconds(60)) { received.fail(SAMError.timedOut("the echo")) }
                let echoed = try await received.futureResult.get()
                XCTAssertEqual(echoed, message, label)
                print("i2p-testnet: \(label): \(attempts) attempt(s), reachable after \((connected - started).milliseconds) ms,"
                      + " 20000 bytes echoed in \((ContinuousClock.now - connected).milliseconds) ms")
                return
            } catch let failure as I2PConnectFailure where failure.reason.contains("CANT_REACH_PEER") && attempts < 20 {
                try await Task.sleep(for: .seconds(2))
            }
        }
    }

    private func assertFails(_ body: @autoclosure () async throws -> (channel: any Channel, leftover: ByteBuffer?), containing text: String,
                             file: StaticString = #filePath, line: UInt = #line) async {
        do {
            let (channel, _) = try await body()
            try? await channel.close()
            XCTFail("connected; expected an error with \(text)", file: file, line: line)
        } catch {
            XCTAssertTrue("\(error)".contains(text), "\(error)", file: file, line: line)
        }
    }
}

/// Everything a channel receives until its input ends.
private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let done: EventLoopPromise<ByteBuffer>
    private var all = ByteBuffer()

    init(_ done: EventLoopPromise<ByteBuffer>) { self.done = done }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        all.writeBuffer(&b)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { finish(context) }
    }

    func channelInactive(context: ChannelHandlerContext) { finish(context) }

    private func finish(_ context: ChannelHandlerContext) {
        done.succeed(all)
        context.close(promise: nil)
    }
}

/// A TCP echo server that ends its side (shutdown of its output, as an HTTP/1.0 server
/// ends a response) once it has echoed `EchoServer.size` bytes.
private final class EchoServer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    static let size = 20000
    private var echoed = 0

    static func start(host: String, group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(EchoServer()) } }
            .bind(host: host, port: 0).get()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        echoed += unwrapInboundIn(data).readableBytes
        context.writeAndFlush(data, promise: nil)
        if echoed >= Self.size { context.close(mode: .output, promise: nil) }
    }
}
