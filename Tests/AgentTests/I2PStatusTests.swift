import Foundation
import XCTest
@testable import Agent

final class I2PStatusTests: XCTestCase {
    func testTextAndJSON() throws {
        let web = String(repeating: "w", count: 52) + ".b32.i2p", out = String(repeating: "o", count: 52) + ".b32.i2p"
        let endpoint = PluginEndpoint(id: String(repeating: "ab", count: 32), network: String(repeating: "cd", count: 32), address: "10.231.8.2",
                                      prefixLength: 24, gateway: "10.231.8.1", ports: [80], joined: true, containerID: "x", containerName: "web", identity: "web")
        let waiting = PluginEndpoint(id: String(repeating: "ef", count: 32), network: String(repeating: "cd", count: 32), address: "10.231.8.3",
                                     prefixLength: 24, gateway: "10.231.8.1")
        let status = I2PStatus(endpoints: [endpoint, waiting], containers: [I2PContainerStatus(
            container: "web", outbound: .init(port: nil, address: out, state: "up", detail: nil),
            services: [.init(port: 80, address: web, state: "retrying", detail: "i2pd closed the socket")])])
        XCTAssertEqual(status.text(), """
            web: 80/tcp -> \(web) (retrying: i2pd closed the socket); outbound \(out) (up)
            (container not known yet): 10.231.8.3 on network cdcdcdcdcdcd, no I2P session

            """)
        XCTAssertEqual(try JSONDecoder().decode(I2PStatus.self, from: Data(status.json())), status)
    }
}
