@testable import Agent
import Logging
import ServiceLifecycle
import Synchronization
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The helper link over a real socketpair, in a real ServiceGroup.
final class HelperLinkServiceTests: XCTestCase {
    /// Stands for a service that takes a while to drain once told to stop (the router's
    /// open connections), and runs `whileDraining` in that time.
    struct DrainingService: Service {
        let drain: Duration
        let whileDraining: @Sendable () -> Void

        func run() async throws {
            try? await gracefulShutdown()
            whileDraining()
            try await Task.sleep(for: drain)
        }
    }

    private func linkPair() throws -> (agentEnd: Int32, helperEnd: Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        return (fds[0], fds[1])
    }

    private func group(link fd: Int32, draining: DrainingService) -> (ServiceGroup, GroupShutdown) {
        let shutdown = GroupShutdown()
        let logger = Logger(label: "test")
        let group = ServiceGroup(configuration: .init(services: [
            .init(service: HelperLinkService(fd: fd, shutdown: shutdown, logger: logger)),
            .init(service: draining),
        ], logger: logger))
        shutdown.attach(group)
        return (group, shutdown)
    }

    func testAHangUpStopsTheWholeGroupGracefully() async throws {
        let (agentEnd, helperEnd) = try linkPair()
        defer { close(agentEnd) }
        let drained = SetOnceFlag()
        let (group, _) = group(link: agentEnd, draining: DrainingService(drain: .milliseconds(100)) { drained.set() })
        close(helperEnd)
        try await group.run()
        XCTAssertTrue(drained.isSet, "the other service was told to stop and drained before the group returned")
    }

    /// SIGTERM reaches the helper and the agent together: the helper closes the link
    /// while the agent is still draining. That must not fail the agent's shutdown
    /// (it did: "A service has finished unexpectedly … HelperLinkService").
    func testAHangUpDuringAShutdownDoesNotFailIt() async throws {
        let (agentEnd, helperEnd) = try linkPair()
        defer { close(agentEnd) }
        let (group, shutdown) = group(link: agentEnd, draining: DrainingService(drain: .milliseconds(300)) { close(helperEnd) })
        async let running: Void = group.run()
        try await Task.sleep(for: .milliseconds(50))
        await shutdown.request()
        try await running
    }

    func testAShutdownWithoutAHangUpEndsTheLinkService() async throws {
        let (agentEnd, helperEnd) = try linkPair()
        defer { close(agentEnd); close(helperEnd) }
        let (group, shutdown) = group(link: agentEnd, draining: DrainingService(drain: .zero) {})
        async let running: Void = group.run()
        try await Task.sleep(for: .milliseconds(50))
        await shutdown.request()
        try await running
    }
}

/// A flag one task sets and the test reads afterwards.
final class SetOnceFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
