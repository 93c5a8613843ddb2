@testable import Agent
import XCTest

/// router.max_connections_per_user and router.max_connections together.
final class ConnectionLimiterTests: XCTestCase {
    func testPerUserLimitComesBeforeTheGlobalOne() {
        let limiter = ConnectionLimiter(perUser: 2, total: 3)
        XCTAssertEqual(limiter.acquire(1000), .admitted)
        XCTAssertEqual(limiter.acquire(1000), .admitted)
        XCTAssertEqual(limiter.acquire(1000), .userFull)
        XCTAssertEqual(limiter.acquire(1001), .admitted)
        XCTAssertEqual(limiter.acquire(1002), .allFull, "three open in all")
        limiter.release(1000)
        XCTAssertEqual(limiter.acquire(1002), .admitted, "a released slot is free for anyone")
        XCTAssertEqual(limiter.open, 3)
    }

    func testOverflowAnswersAreAFixedPool() {
        let pool = OverflowAnswers(2)
        XCTAssertTrue(pool.take())
        XCTAssertTrue(pool.take())
        XCTAssertFalse(pool.take(), "past the pool a connection is closed at once")
        pool.giveBack()
        XCTAssertTrue(pool.take())
    }
}
