@testable import Agent
import Foundation
import NIOPosix
import XCTest

/// A test case whose I2PSessionManagers run on its own event loops and keep their keys
/// in a fresh temporary state directory; every manager a test made is detached before
/// the event loops stop, and the directory is removed.
class I2PSessionManagerTestCase: XCTestCase {
    /// The threads of `group`.
    class var eventLoopThreads: Int { 1 }

    private(set) lazy var group = MultiThreadedEventLoopGroup(numberOfThreads: Self.eventLoopThreads)
    private(set) var stateDir = ""
    /// Every manager a test made: detached before the event loops stop.
    var managers = [I2PSessionManager]()

    override func setUpWithError() throws {
        var template = Array("/tmp/bh-\(Self.self)-XXXXXX".utf8CString)
        stateDir = String(cString: try XCTUnwrap(mkdtemp(&template)))
    }

    override func tearDown() async throws {
        for manager in managers {
            for container in manager.snapshot() { manager.detach(container: container.container) }
        }
        try await Task.sleep(for: .milliseconds(300))
        try await group.shutdownGracefully()
        _ = try? FileManager.default.removeItem(atPath: stateDir)
    }
}
