@testable import Agent
import Foundation
import NIOPosix
import XCTest

/// A test case whose I2PSessionManagers run on its own event loops and keep their keys
/// in a fresh temporary state directory; every manager a test made runs its sessions until
/// the test ends, then is detached and stopped before the event loops stop, and the
/// directory is removed.
class I2PSessionManagerTestCase: XCTestCase {
    /// The threads of `group`.
    class var eventLoopThreads: Int { 1 }

    private(set) lazy var group = MultiThreadedEventLoopGroup(numberOfThreads: Self.eventLoopThreads)
    private(set) var stateDir = ""
    /// Every manager a test made, with the task running its sessions: detached and
    /// stopped before the event loops stop.
    private var managers = [(manager: I2PSessionManager, run: Task<Void, Never>)]()

    /// Runs `manager`'s sessions until the test ends (a task: XCTest's set-up and tear-down are separate calls).
    func running(_ manager: I2PSessionManager) -> I2PSessionManager {
        managers.append((manager, Task { await manager.run() }))
        return manager
    }

    override func setUpWithError() throws {
        var template = Array("/tmp/bh-\(Self.self)-XXXXXX".utf8CString)
        stateDir = String(cString: try XCTUnwrap(mkdtemp(&template)))
    }

    override func tearDown() async throws {
        for (manager, run) in managers {
            for container in manager.snapshot() { manager.detach(container: container.container) }
            run.cancel()
            await run.value
        }
        try await group.shutdownGracefully()
        _ = try? FileManager.default.removeItem(atPath: stateDir)
    }
}
