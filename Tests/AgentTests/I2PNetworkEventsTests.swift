import Foundation
import XCTest
@testable import Agent

/// Which `GET /events` objects make the i2p service check a container at once. The
/// stream was recorded from the rootful test dockerd 20.10.24 on 2026-11-30: a container
/// admitted on a bulkhead-i2p network, then `docker network connect bridge` (and its
/// `die` after the agent killed it).
final class I2PNetworkEventsTests: XCTestCase {
    static let container = "91fd6e28f0a04a33e419d7595c8423d44ac69c53291291455755449205028982"
    static let connect = #"{"Type":"network","Action":"connect","Actor":{"ID":"d0926ab01ae0eb1f11da209c518e63ac96f9aac66088cbc190733917bfd066b8","Attributes":{"container":"91fd6e28f0a04a33e419d7595c8423d44ac69c53291291455755449205028982","name":"bridge","type":"bridge"}},"scope":"local","time":1796077048,"timeNano":1796077048670339169}"#
    static let die = #"{"status":"die","id":"91fd6e28f0a04a33e419d7595c8423d44ac69c53291291455755449205028982","from":"bulkhead/busybox:latest","Type":"container","Action":"die","Actor":{"ID":"91fd6e28f0a04a33e419d7595c8423d44ac69c53291291455755449205028982","Attributes":{"exitCode":"137","image":"bulkhead/busybox:latest","name":"evt-web"}},"scope":"local","time":1796077048,"timeNano":1796077048756469911}"#

    func endpoint(id: Character, container: String?, joined: Bool = true) -> PluginEndpoint {
        PluginEndpoint(
            id: String(repeating: id, count: 64), network: String(repeating: "c", count: 64), address: "10.231.0.2", prefixLength: 24,
            gateway: "10.231.0.1", joined: joined, containerID: container)
    }

    /// The stream as dockerd sends it (one object a line), cut mid-object.
    func recordedEvents() throws -> [RuntimeEvent] {
        let bytes = Array((Self.connect + "\n" + Self.die + "\n").utf8)
        var splitter = JSONObjectSplitter(maxObjectSize: RuntimeAPI.eventLimit)
        let objects = try splitter.feed(bytes[..<100]) + splitter.feed(bytes[100...])
        return try objects.compactMap { try RuntimeAPI.event(from: $0) }
    }

    func testTheConnectOfAnAdmittedContainerSelectsItsEndpoint() throws {
        let events = try recordedEvents()
        XCTAssertEqual(events, [.containerChanged(id: Self.container, action: "connect"), .containerChanged(id: Self.container, action: "die")])
        let endpoints = [endpoint(id: "a", container: String(repeating: "9", count: 64)), endpoint(id: "b", container: Self.container)]
        XCTAssertEqual(I2PNetworkEvents.admittedEndpoint(for: events[0], in: endpoints)?.id, String(repeating: "b", count: 64))
        XCTAssertNil(I2PNetworkEvents.admittedEndpoint(for: events[1], in: endpoints), "only a connect calls for a check")
    }

    func testOtherContainersAndEndpointsNotJoinedAreIgnored() throws {
        let connect = try XCTUnwrap(recordedEvents().first)
        XCTAssertNil(I2PNetworkEvents.admittedEndpoint(for: connect, in: []))
        XCTAssertNil(I2PNetworkEvents.admittedEndpoint(for: connect, in: [endpoint(id: "a", container: String(repeating: "9", count: 64))]))
        XCTAssertNil(I2PNetworkEvents.admittedEndpoint(for: connect, in: [endpoint(id: "a", container: nil)]))
        XCTAssertNil(I2PNetworkEvents.admittedEndpoint(for: connect, in: [endpoint(id: "a", container: Self.container, joined: false)]))
    }

    /// The query dockerd 20.10 answered with `network connect` events only.
    func testTheSubscriptionsFilter() {
        XCTAssertEqual(
            RuntimeAPI.filters(["type": I2PNetworkEvents.types, "event": I2PNetworkEvents.actions]),
            "%7B%22event%22%3A%5B%22connect%22%5D%2C%22type%22%3A%5B%22network%22%5D%7D")
    }
}
