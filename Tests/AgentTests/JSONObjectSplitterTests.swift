import Foundation
import XCTest
@testable import Agent

/// The runtime event stream's framing: Docker's JSON lines and Podman's
/// back-to-back objects, cut at any byte, bounded per object.
final class JSONObjectSplitterTests: XCTestCase {
    /// Three objects: a nested one with braces, escaped quotes, an escaped
    /// backslash and multi-byte UTF-8 inside strings; then two back to back.
    let objects = [
        #"{"Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"{web}","note":"say \"}{\" \\","x":"é✓"}}}"#,
        #"{"a":[1,{"b":"}"}],"c":"\\\""}"#,
        #"{}"#,
    ]
    var stream: String { objects[0] + "\r\n  \t" + objects[1] + objects[2] + "\n" }

    func split(_ chunks: [some Sequence<UInt8>], limit: Int = 1 << 20) throws -> [String] {
        var splitter = JSONObjectSplitter(maxObjectSize: limit)
        var found: [String] = []
        for chunk in chunks {
            found += try splitter.feed(chunk).map { String(decoding: $0, as: UTF8.self) }
        }
        return found
    }

    func testObjectsAreValidJSON() throws {
        for object in objects {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(object.utf8)), object)
        }
    }

    func testWholeStreamInOneRead() throws {
        XCTAssertEqual(try split([Array(stream.utf8)]), objects)
    }

    func testSplitAtEveryBytePosition() throws {
        let bytes = Array(stream.utf8)
        for cut in 0...bytes.count {
            XCTAssertEqual(try split([bytes[..<cut], bytes[cut...]]), objects, "cut at byte \(cut)")
        }
    }

    func testSplitAtEveryPairOfPositions() throws {
        let bytes = Array(stream.utf8)
        for first in 0...bytes.count {
            for second in first...bytes.count {
                let chunks = [bytes[..<first], bytes[first..<second], bytes[second...]]
                XCTAssertEqual(try split(chunks), objects, "cuts at \(first), \(second)")
            }
        }
    }

    func testOneByteAtATime() throws {
        XCTAssertEqual(try split(stream.utf8.map { [$0] }), objects)
    }

    func testBackToBackWithoutNewline() throws {
        XCTAssertEqual(try split([Array(#"{"a":1}{"b":2}{"c":{"d":3}}"#.utf8)]), [#"{"a":1}"#, #"{"b":2}"#, #"{"c":{"d":3}}"#])
    }

    func testBracesAndQuotesInsideStringsDoNotCount() throws {
        let tricky = [
            #"{"s":"}"}"#,
            #"{"s":"{{{"}"#,
            #"{"s":"\"}"}"#,
            #"{"s":"\\"}"#,
            #"{"s":"\\\"}\\"}"#,
            #"{"\"}":"{"}"#,
        ]
        for object in tricky {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(object.utf8)), object)
        }
        XCTAssertEqual(try split([Array(tricky.joined().utf8)]), tricky)
    }

    func testIncompleteObjectIsHeldBack() throws {
        var splitter = JSONObjectSplitter(maxObjectSize: 1024)
        XCTAssertEqual(try splitter.feed(Array(#"{"a":"}"#.utf8)), [])
        XCTAssertEqual(try splitter.feed(Array(#"","b":{}"#.utf8)), [])
        XCTAssertEqual(try splitter.feed(Array("}".utf8)).map { String(decoding: $0, as: UTF8.self) }, [#"{"a":"}","b":{}}"#])
    }

    func testObjectAtTheLimitPassesOneByteMoreFails() throws {
        let object = #"{"k":"0123456789"}"#
        XCTAssertEqual(try split([Array(object.utf8)], limit: object.utf8.count), [object])
        XCTAssertThrowsError(try split([Array(object.utf8)], limit: object.utf8.count - 1)) { error in
            XCTAssertEqual(error as? JSONObjectSplitter.Failure, .objectTooLarge(limit: object.utf8.count - 1))
        }
    }

    /// An object that never ends fails once it passes the limit, however it arrives,
    /// and the splitter stays failed.
    func testOversizedObjectIsAnErrorAndFinal() throws {
        var splitter = JSONObjectSplitter(maxObjectSize: 4096)
        XCTAssertEqual(try splitter.feed(Array(#"{"x":""#.utf8)), [])
        var failure: JSONObjectSplitter.Failure?
        for _ in 0..<100 {
            do {
                _ = try splitter.feed([UInt8](repeating: UInt8(ascii: "a"), count: 100))
            } catch {
                failure = error
                break
            }
        }
        XCTAssertEqual(failure, .objectTooLarge(limit: 4096))
        XCTAssertThrowsError(try splitter.feed(Array(#""}{"ok":1}"#.utf8))) { error in
            XCTAssertEqual(error as? JSONObjectSplitter.Failure, .objectTooLarge(limit: 4096))
        }
    }

    func testGarbageBetweenObjectsIsAnError() throws {
        var splitter = JSONObjectSplitter(maxObjectSize: 1024)
        XCTAssertEqual(try splitter.feed(Array("{\"a\":1}\n".utf8)).count, 1)
        XCTAssertThrowsError(try splitter.feed(Array("x{\"b\":2}".utf8))) { error in
            XCTAssertEqual(error as? JSONObjectSplitter.Failure, .unexpectedByte(UInt8(ascii: "x"), offset: 8))
        }
    }

    func testNonObjectsAreGarbage() throws {
        for text in ["[1,2]", "\"text\"", "42", "null", "}", "\u{FEFF}{}", "HTTP/1.1 200 OK"] {
            XCTAssertThrowsError(try split([Array(text.utf8)]), text) { error in
                guard case .unexpectedByte(_, offset: 0)? = error as? JSONObjectSplitter.Failure else {
                    return XCTFail("\(text): \(error)")
                }
            }
        }
    }

    func testWhitespaceOnlyYieldsNothing() throws {
        XCTAssertEqual(try split([Array(" \r\n\t\n".utf8)]), [])
    }

    // MARK: the splitter feeding the event decoder

    func events(_ text: String) throws -> [RuntimeEvent] {
        var splitter = JSONObjectSplitter(maxObjectSize: 1 << 20)
        return try splitter.feed(Array(text.utf8)).compactMap { try RuntimeAPI.event(from: $0) }
    }

    func testDockerLinesAndPodmanBackToBackGiveTheSameEvents() throws {
        let id = String(repeating: "ab", count: 32)
        let docker = """
            {"status":"start","id":"\(id)","from":"bulkhead/busybox:latest","Type":"container","Action":"start","Actor":{"ID":"\(id)","Attributes":{"name":"web"}},"scope":"local","time":1,"timeNano":1}
            {"Type":"container","Action":"exec_start: sh","Actor":{"ID":"\(id)","Attributes":{}}}
            {"Type":"container","Action":"health_status: healthy","Actor":{"ID":"\(id)","Attributes":{}}}
            {"Type":"container","Action":"die","Actor":{"ID":"\(id)","Attributes":{"exitCode":"137"}}}

            """
        let podman = #"{"status":"start","id":"\#(id)","Type":"container","Action":"start","Actor":{"ID":"\#(id)","Attributes":{"podId":""}}}"#
            + #"{"status":"init","id":"\#(id)","Type":"container","Action":"init","Actor":{"ID":"\#(id)","Attributes":{}}}"#
            + #"{"status":"died","id":"\#(id)","Type":"container","Action":"died","Actor":{"ID":"\#(id)","Attributes":{}}}"#
        XCTAssertEqual(try events(docker), [.containerChanged(id: id, action: "start"), .containerChanged(id: id, action: "die")])
        XCTAssertEqual(try events(podman), [.containerChanged(id: id, action: "start"), .containerChanged(id: id, action: "died")])
    }

    /// Docker names the container in an attribute (the actor is the network);
    /// Podman makes the container the actor. Other network events are not about a container.
    func testNetworkConnectNamesTheContainer() throws {
        let text = #"{"Type":"network","Action":"connect","Actor":{"ID":"net1","Attributes":{"container":"c1","name":"bh-nw","type":"bridge"}}}"#
            + #"{"Type":"network","Action":"disconnect","Actor":{"ID":"c2","Attributes":{"name":"web"}}}"#
            + #"{"Type":"network","Action":"destroy","Actor":{"ID":"net2","Attributes":{"name":"other"}}}"#
            + #"{"Type":"image","Action":"remove","Actor":{"ID":"sha256:1","Attributes":{}}}"#
        XCTAssertEqual(try events(text), [.containerChanged(id: "c1", action: "connect"), .containerChanged(id: "c2", action: "disconnect")])
    }

    func testOldStyleEventWithoutActionOrActor() throws {
        XCTAssertEqual(try events(#"{"status":"stop","id":"c2","from":"img","time":1}"#), [.containerChanged(id: "c2", action: "stop")])
    }

    func testFramedButInvalidJSONIsAnError() throws {
        XCTAssertThrowsError(try events(#"{"Type":"container",,}"#)) { error in
            guard case .malformed? = error as? RuntimeAPIError else { return XCTFail("\(error)") }
        }
    }
}
