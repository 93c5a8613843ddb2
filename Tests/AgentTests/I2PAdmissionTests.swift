import Foundation
import XCTest
@testable import Agent

/// Enforcement decisions from `docker inspect` JSON recorded on dockerd 20.10.
final class I2PAdmissionTests: XCTestCase {
    let network = PluginNetwork(id: "aa03915b08bd87077c2f9dcc4ce9485cf68d975ff4b5b1cb528711068dea1a83", pool: "10.231.8.0/24", gateway: "10.231.8.1")

    func inspect(_ json: String) throws -> RuntimeJSON.Inspect {
        try JSONDecoder().decode(RuntimeJSON.Inspect.self, from: Data(json.utf8))
    }

    func testAdmittedWithTheOperatorsIdentity() throws {
        let image = try JSONDecoder().decode(RuntimeJSON.Image.self, from: Data(I2PRecordedJSON.image.utf8))
        let verdict = I2PAdmissionPolicy.verdict(try inspect(I2PRecordedJSON.inspectAdmitted), imageLabels: image.config?.labels ?? [:], network: network)
        XCTAssertEqual(verdict, .admit(name: "i2prec-web", identity: "webid", note: nil))
    }

    func testImageLabelsAreNotTrusted() throws {
        let container = try inspect(I2PRecordedJSON.inspectAdmitted)
        guard case .admit("i2prec-web", "i2prec-web", let note?) = I2PAdmissionPolicy.verdict(
            container, imageLabels: ["bulkhead.i2p.identity": "webid"], network: network) else { return XCTFail("the name is the identity") }
        XCTAssertTrue(note.contains("only repeats the image's own label"))
        guard case .admit(_, "i2prec-web", let unknown?) = I2PAdmissionPolicy.verdict(container, imageLabels: nil, network: network) else {
            return XCTFail("an image that cannot be inspected: the label is not trusted")
        }
        XCTAssertTrue(unknown.contains("cannot be inspected"))
    }

    func testStoppedWhenOnAnotherNetworkOrWithoutTheGatewayAsDNS() throws {
        let two = I2PAdmissionPolicy.verdict(try inspect(I2PRecordedJSON.inspectTwoNetworks), imageLabels: [:], network: network)
        XCTAssertEqual(two, .stop(name: "i2prec-web", reason: "it is also attached to network(s) bridge, a way around I2P; "
            + "a container on a bulkhead-i2p network must be on that network only"))
        let noDNS = I2PAdmissionPolicy.verdict(try inspect(I2PRecordedJSON.inspectWithoutDNS), imageLabels: [:], network: network)
        guard case .stop("i2prec-nodns", let reason) = noDNS else { return XCTFail("\(noDNS)") }
        XCTAssertTrue(reason.contains("without --dns 10.231.8.1"), reason)
    }

    func testIdentityLabelMustBeAName() throws {
        let json = I2PRecordedJSON.inspectAdmitted.replacingOccurrences(of: #""bulkhead.i2p.identity": "webid""#, with: #""bulkhead.i2p.identity": "../../x""#)
        guard case .stop(_, let reason) = I2PAdmissionPolicy.verdict(try inspect(json), imageLabels: [:], network: network) else { return XCTFail() }
        XCTAssertTrue(reason.contains("is not a name"))
        XCTAssertFalse(I2PAdmissionPolicy.isSafeName(".hidden"))
        XCTAssertTrue(I2PAdmissionPolicy.isSafeName("web-1.prod_a"))
    }

    func testTheListFindsTheEndpointsContainer() throws {
        let list = try JSONDecoder().decode([RuntimeJSON.Summary].self, from: Data(I2PRecordedJSON.containerList.utf8))
        let endpoint = "35482b783651f31493e0dddc45e8b3ed9e6226e2572075132528e01df9697376"
        let found = list.filter { ($0.networkSettings?.networks ?? [:]).values.contains { $0.endpointID == endpoint } }
        XCTAssertEqual(found.count, 1)
    }
}
