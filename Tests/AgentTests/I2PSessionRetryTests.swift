@testable import Agent
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import XCTest

/// A session whose control socket closes (i2pd restarted) comes back with the same key;
/// a bridge that refuses is retried and says why. Against a scripted SAM bridge on loopback.
final class I2PSessionRetryTests: I2PSessionManagerTestCase {
    func testALostSessionComesBackWithItsKey() async throws {
        let bridge = FakeBridge()
        let server = try await bridge.start(group: group)
        defer { server.close(promise: nil) }
        let manager = try makeManager(server)
        let b32 = try XCTUnwrap(I2PPrivateKey(I2PAddressTests.privateKey)).destination.b32

        manager.attach(container: "web", address: try XCTUnwrap(.init("10.231.0.2")), ports: [])
        try await until { manager.snapshot().first?.outbound.state == "up" }
        XCTAssertEqual(manager.snapshot().first?.outbound.address, b32)
        XCTAssertEqual(bridge.creates.last?.contains("DESTINATION=TRANSIENT "), true)
        XCTAssertEqual(try I2PKeyStore(stateDir: stateDir).load("web", .outbound)?.destination.b32, b32, "the new key is saved")

        bridge.closeAll()   // i2pd restarted
        try await until { manager.snapshot().first?.outbound.state == "retrying" }
        XCTAssertEqual(manager.snapshot().first?.outbound.detail, "the SAM bridge closed the session")
        await assertConnectFails(manager, "is not up (retrying")
        try await until { manager.snapshot().first?.outbound.state == "up" }
        XCTAssertEqual(bridge.creates.count, 2)
        XCTAssertEqual(bridge.creates.last?.contains("DESTINATION=\(I2PAddressTests.privateKey) "), true, "the saved key, not TRANSIENT")
        XCTAssertEqual(manager.snapshot().first?.outbound.address, b32)

        manager.detach(container: "web")
        XCTAssertEqual(manager.snapshot(), [])
        try await until { bridge.open == 0 }
    }

    func testARefusalIsRetriedAndShown() async throws {
        let bridge = FakeBridge(refuse: true)
        let server = try await bridge.start(group: group)
        defer { server.close(promise: nil) }
        let manager = try makeManager(server)
        manager.attach(container: "web", address: try XCTUnwrap(.init("10.231.0.2")), ports: [])
        try await until { bridge.creates.count >= 2 }
        let status = try XCTUnwrap(manager.snapshot().first?.outbound)
        XCTAssertEqual(status.state, "retrying")
        XCTAssertEqual(status.detail, "SAM answered I2P_ERROR (no tunnels)")
        XCTAssertNil(status.address, "no key was made")
        manager.detach(container: "web")
    }

    private func makeManager(_ server: any Channel) throws -> I2PSessionManager {
        var options = SAMSessionOptions(bridge: try XCTUnwrap(server.localAddress), inboundLength: 0, outboundLength: 0,
                                        inboundQuantity: 1, outboundQuantity: 1)
        options.firstRetry = .milliseconds(300)
        options.maxRetry = .milliseconds(600)
        options.sessionWait = .zero  // a connect while the session is down fails at once here
        let manager = I2PSessionManager(options: options, store: I2PKeyStore(stateDir: stateDir), group: group, logger: Logger(label: "retry-test"))
        snapshot = manager.snapshot
        return running(manager)
    }

    private var snapshot: () -> [I2PContainerStatus] = { [] }

    private func until(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw SAMError.timedOut("the condition (\(snapshot()))") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func assertConnectFails(_ manager: I2PSessionManager, _ text: String) async {
        do {
            _ = try await manager.connect(from: "web", to: I2PAddressTests.b32, on: group.next())
            XCTFail("connected")
        } catch {
            XCTAssertTrue("\(error)".contains(text), "\(error)")
        }
    }
}

/// Answers HELLO and SESSION CREATE like i2pd 2.45 (with the test vector's key for
/// TRANSIENT), or refuses every SESSION CREATE with I2P_ERROR and closes, as i2pd does.
private final class FakeBridge: Sendable {
    private let state = Mutex<(creates: [String], channels: [any Channel])>(([], []))
    private let refuse: Bool

    init(refuse: Bool = false) { self.refuse = refuse }

    var creates: [String] { state.withLock { $0.creates } }
    var open: Int { state.withLock { $0.channels.filter(\.isActive).count } }

    func start(group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .childChannelInitializer { child in
                self.state.withLock { $0.channels.append(child) }
                return child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(Lines(bridge: self)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func closeAll() { for c in state.withLock({ $0.channels }) { c.close(promise: nil) } }

    fileprivate func answer(_ line: String) -> (reply: String, close: Bool) {
        if line.hasPrefix("HELLO VERSION MIN=3.1 MAX=3.1") { return ("HELLO REPLY RESULT=OK VERSION=3.1", false) }
        guard line.hasPrefix("SESSION CREATE ") else { return ("", true) }
        state.withLock { $0.creates.append(line) }
        if refuse { return (#"SESSION STATUS RESULT=I2P_ERROR MESSAGE="no tunnels""#, true) }
        return ("SESSION STATUS RESULT=OK DESTINATION=\(I2PAddressTests.privateKey)", false)
    }

    private final class Lines: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private let bridge: FakeBridge
        private var buffer = ByteBuffer()

        init(bridge: FakeBridge) { self.bridge = bridge }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var incoming = unwrapInboundIn(data)
            buffer.writeBuffer(&incoming)
            while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer.readString(length: newline - buffer.readerIndex) ?? ""
                buffer.moveReaderIndex(forwardBy: 1)
                let (reply, close) = bridge.answer(line)
                if !reply.isEmpty { context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply + "\n")), promise: nil) }
                if close { context.close(promise: nil) }
            }
        }
    }
}
