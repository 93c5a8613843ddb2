import Config
import Foundation
import IPC
import Logging
import Synchronization
import XCTest
@testable import Agent

/// The remote driver API against bodies recorded from dockerd 20.10, with the helper
/// replaced by a recorder of link intents.
final class I2PPluginDriverTests: XCTestCase {
    /// FAKE helper: records the link intents instead of making links.
    final class RecordingLinks: I2PLinkControl {
        let calls = Mutex<[String]>([])
        let failUp = Mutex(false)
        func linkUp(_ endpoint: I2PEndpoint) throws {
            calls.withLock { $0.append("up \(endpoint)") }
            if failUp.withLock({ $0 }) { throw Refusal(.policyRefused, "address outside i2p.subnets") }
        }
        func linkDown(_ key: EndpointKey) throws { calls.withLock { $0.append("down \(key)") } }
        func converge(_ endpoints: [I2PEndpoint], keepBase: Bool) throws {
            calls.withLock { $0.append("converge \(endpoints.map(\.key.rawValue)) \(keepBase)") }
        }
        var list: [String] { calls.withLock { $0 } }
    }

    var directory = ""
    let links = RecordingLinks()
    let endpointID = "35482b783651f31493e0dddc45e8b3ed9e6226e2572075132528e01df9697376"
    let networkID = "aa03915b08bd87077c2f9dcc4ce9485cf68d975ff4b5b1cb528711068dea1a83"

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "i2p-driver-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func makeDriver(events: PluginDriver.Events = .init()) throws -> PluginDriver {
        let store = PluginStore(directory: directory)
        XCTAssertEqual(try store.load(), [])
        return PluginDriver(subnets: [IPv4Subnet("10.231.0.0/16")], store: store, links: links, events: events, logger: Logger(label: "test"))
    }

    func call(_ driver: PluginDriver, _ path: String, _ body: String) throws -> [String: Any] {
        let answer = driver.handle(path, body: Array(body.utf8))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any], String(decoding: answer, as: UTF8.self))
    }

    func err(_ answer: [String: Any]) -> String { answer["Err"] as? String ?? "" }

    func testActivateAndCapabilities() throws {
        let driver = try makeDriver()
        XCTAssertEqual(try call(driver, "/Plugin.Activate", "")["Implements"] as? [String], ["NetworkDriver"])
        let caps = try call(driver, "/NetworkDriver.GetCapabilities", "{}")
        XCTAssertEqual(caps["Scope"] as? String, "local")
        XCTAssertEqual(caps["ConnectivityScope"] as? String, "local")
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.AllocateNetwork", "{}")).contains("not supported"))
    }

    func testCreateNetworkRecordedAndIdempotent() throws {
        let driver = try makeDriver()
        for _ in 0..<2 { XCTAssertEqual(try call(driver, "/NetworkDriver.CreateNetwork", I2PRecordedJSON.createNetwork).count, 0) }
        XCTAssertEqual(driver.store.network(networkID), PluginNetwork(id: networkID, pool: "10.231.8.0/24", gateway: "10.231.8.1"))
        let path = "\(directory)/networks/\(networkID).json"
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
    }

    func testCreateNetworkRefusals() throws {
        let driver = try makeDriver()
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateNetwork", I2PRecordedJSON.createNetworkWithOption)).contains("no -o options; remove foo"))
        let outside = I2PRecordedJSON.createNetwork.replacingOccurrences(of: "10.231.8.", with: "172.30.8.")
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateNetwork", outside)).contains("not inside i2p.subnets (10.231.0.0/16)"))
        let ipv6 = I2PRecordedJSON.createNetwork.replacingOccurrences(
            of: #""IPv6Data":[]"#, with: #""IPv6Data":[{"AddressSpace":"LocalDefault","Gateway":"fd00::1/64","Pool":"fd00::/64"}]"#)
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateNetwork", ipv6)).contains("IPv6 is not served"))
        let noGateway = I2PRecordedJSON.createNetwork.replacingOccurrences(of: #""Gateway":"10.231.8.1/24","#, with: "")
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateNetwork", noGateway)).contains("needs a gateway"))
        let badID = I2PRecordedJSON.createNetwork.replacingOccurrences(of: networkID, with: "../../etc")
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateNetwork", badID)).contains("64 hex digits"))
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateNetwork", "[1,2")).contains("not a JSON object"))
        XCTAssertEqual(driver.store.networks, [])
    }

    func testEndpointLifecycleAnswersNeverEchoInterface() throws {
        let joined = Mutex<[PluginEndpoint]>([]), left = Mutex<[PluginEndpoint]>([])
        let driver = try makeDriver(events: .init(joined: { e in joined.withLock { $0.append(e) } }, left: { e in left.withLock { $0.append(e) } }))
        _ = try call(driver, "/NetworkDriver.CreateNetwork", I2PRecordedJSON.createNetwork)
        for _ in 0..<2 {
            XCTAssertEqual(try call(driver, "/NetworkDriver.CreateEndpoint", I2PRecordedJSON.createEndpoint).count, 0, "{}: Interface set by dockerd is never echoed")
        }
        XCTAssertEqual(links.list, ["converge [] true"] + Array(repeating: "up 35482b783651 10.231.8.2/24 gw 10.231.8.1", count: 2),
                       "the drop chains at CreateNetwork, then the link asked for (idempotent) before the answer")
        XCTAssertEqual(try call(driver, "/NetworkDriver.EndpointOperInfo", I2PRecordedJSON.endpointOperInfo).count, 0)

        let answer = try call(driver, "/NetworkDriver.Join", I2PRecordedJSON.join)
        XCTAssertEqual(answer["InterfaceName"] as? [String: String], ["SrcName": "bhc35482b783651", "DstPrefix": "eth"])
        XCTAssertEqual(answer["Gateway"] as? String, "10.231.8.1")
        XCTAssertEqual(answer["DisableGatewayService"] as? Bool, true)
        XCTAssertEqual(driver.store.endpoint(endpointID)?.ports, [80], "TCP ports only (53/udp is not served)")
        XCTAssertEqual(joined.withLock { $0.map(\.id) }, [endpointID])

        try driver.store.update(endpointID) { $0.identity = "webid" }
        for _ in 0..<2 { XCTAssertEqual(try call(driver, "/NetworkDriver.Leave", I2PRecordedJSON.leave).count, 0) }
        XCTAssertEqual(left.withLock { $0.map(\.identity) }, ["webid"], "a second Leave changes nothing")
        for _ in 0..<2 { XCTAssertEqual(try call(driver, "/NetworkDriver.DeleteEndpoint", I2PRecordedJSON.deleteEndpoint).count, 0) }
        XCTAssertEqual(links.list.suffix(2), ["down 35482b783651", "down 35482b783651"])
        XCTAssertNil(driver.store.endpoint(endpointID))
        for _ in 0..<2 { XCTAssertEqual(try call(driver, "/NetworkDriver.DeleteNetwork", I2PRecordedJSON.deleteNetwork).count, 0) }
        XCTAssertEqual(driver.store.networks, [])
        XCTAssertEqual(AtomicFile.list(directory + "/endpoints", suffix: ".json") + AtomicFile.list(directory + "/networks", suffix: ".json"), [])
    }

    func testUnknownIDsOnLeaveAndDeleteAnswerEmpty() throws {
        let driver = try makeDriver()
        XCTAssertEqual(try call(driver, "/NetworkDriver.Leave", I2PRecordedJSON.leave).count, 0)
        XCTAssertEqual(try call(driver, "/NetworkDriver.DeleteEndpoint", I2PRecordedJSON.deleteEndpoint).count, 0)
        XCTAssertEqual(try call(driver, "/NetworkDriver.DeleteNetwork", I2PRecordedJSON.deleteNetwork).count, 0)
        XCTAssertEqual(links.list, ["down 35482b783651"], "a stray link of that name goes anyway")
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.Join", I2PRecordedJSON.join)).contains("unknown to the plugin"))
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateEndpoint", I2PRecordedJSON.createEndpoint)).contains("unknown to the plugin"))
    }

    func testStateSurvivesARestart() throws {
        let first = try makeDriver()
        _ = try call(first, "/NetworkDriver.CreateNetwork", I2PRecordedJSON.createNetwork)
        _ = try call(first, "/NetworkDriver.CreateEndpoint", I2PRecordedJSON.createEndpoint)
        _ = try call(first, "/NetworkDriver.Join", I2PRecordedJSON.join)

        let second = try makeDriver()  // a new agent: everything from disk
        XCTAssertEqual(second.store.endpoint(endpointID)?.joined, true)
        XCTAssertEqual(second.store.endpoint(endpointID)?.ports, [80])
        let expectation = expectation(description: "converge")
        Task { await second.converge(); expectation.fulfill() }
        wait(for: [expectation], timeout: 5)
        XCTAssertEqual(links.list.last, #"converge ["35482b783651"] true"#)
        XCTAssertEqual(try call(second, "/NetworkDriver.Join", I2PRecordedJSON.join)["Gateway"] as? String, "10.231.8.1")
        XCTAssertEqual(try call(second, "/NetworkDriver.DeleteEndpoint", I2PRecordedJSON.deleteEndpoint).count, 0)
        XCTAssertEqual(links.list.last, "down 35482b783651")
    }

    func testRefusedLinkForgetsTheEndpoint() throws {
        let driver = try makeDriver()
        _ = try call(driver, "/NetworkDriver.CreateNetwork", I2PRecordedJSON.createNetwork)
        links.failUp.withLock { $0 = true }
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateEndpoint", I2PRecordedJSON.createEndpoint)).contains("address outside i2p.subnets"))
        XCTAssertNil(driver.store.endpoint(endpointID))
        let ipv6 = I2PRecordedJSON.createEndpoint.replacingOccurrences(of: #""AddressIPv6":"""#, with: #""AddressIPv6":"fd00::2/64""#)
        XCTAssertTrue(err(try call(driver, "/NetworkDriver.CreateEndpoint", ipv6)).contains("IPv6 is not served"))
    }
}
