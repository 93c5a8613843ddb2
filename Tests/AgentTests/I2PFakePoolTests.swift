import Config
import Foundation
import IPC
import Synchronization
import XCTest
@testable import Agent

final class I2PFakePoolTests: XCTestCase {
    let subnet = IPv4Subnet("10.192.0.0/10")

    func testStableAcrossRestarts() throws {
        let path = NSTemporaryDirectory() + "names-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = FakePool(pool: subnet, path: path)
        let a = try first.address(for: "a.i2p"), b = try first.address(for: "b.i2p")
        XCTAssertEqual(a?.description, "10.192.0.1")
        XCTAssertEqual(b?.description, "10.192.0.2")
        let second = FakePool(pool: subnet, path: path)
        try second.load()
        XCTAssertEqual(try second.address(for: "b.i2p"), b)
        XCTAssertEqual(second.name(for: a!), "a.i2p")
        XCTAssertEqual(try second.address(for: "c.i2p")?.description, "10.192.0.3")
        XCTAssertNil(second.name(for: IPv4Address("10.192.0.9")!))
    }

    func testExhaustionAndReuseOnlyAfterLongIdle() throws {
        let clock = Mutex<Double>(1000)
        let pool = FakePool(pool: subnet, path: nil, limit: 2, reuseAfter: 3600, now: { clock.withLock { $0 } })
        let a = try pool.address(for: "a.i2p")
        clock.withLock { $0 += 10 }
        _ = try pool.address(for: "b.i2p")
        XCTAssertNil(try pool.address(for: "c.i2p"), "exhausted: nothing idle long enough")
        clock.withLock { $0 += 3600 }
        _ = pool.name(for: IPv4Address("10.192.0.2")!)  // b used again: a is the idle one
        XCTAssertEqual(try pool.address(for: "c.i2p"), a, "a's address reused after an hour idle")
        XCTAssertNil(try pool.address(for: "d.i2p"))
        XCTAssertEqual(pool.count, 2)
    }

    func testSmallPoolLimitSkipsNetworkAndBroadcast() throws {
        let pool = FakePool(pool: IPv4Subnet("10.192.0.0/30"), path: nil)
        XCTAssertEqual(pool.limit, 2)
        XCTAssertEqual(try pool.address(for: "a.i2p")?.description, "10.192.0.1")
        XCTAssertEqual(try pool.address(for: "b.i2p")?.description, "10.192.0.2")
        XCTAssertNil(try pool.address(for: "c.i2p"))
    }
}
