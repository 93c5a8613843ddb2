@testable import Agent
import NIOCore
import NIOEmbedded
import XCTest

/// SAM reply lines as i2pd 2.45 writes them, and what a hostile or broken bridge could send.
final class SAMReplyTests: XCTestCase {
    func testRepliesI2pdSends() throws {
        let hello = try SAMReply("HELLO REPLY RESULT=OK VERSION=3.1").expect("HELLO", "REPLY")
        XCTAssertEqual(hello.fields["VERSION"], "3.1")
        let created = try SAMReply("SESSION STATUS RESULT=OK DESTINATION=abc~-=").expect("SESSION", "STATUS")
        XCTAssertEqual(created.fields["DESTINATION"], "abc~-=", "only the first = splits key and value")
        XCTAssertThrowsError(try SAMReply("STREAM STATUS RESULT=CANT_REACH_PEER").expect("STREAM", "STATUS")) { error in
            XCTAssertEqual(error as? SAMError, .refused(result: "CANT_REACH_PEER", message: nil))
        }
        XCTAssertThrowsError(try SAMReply("NAMING REPLY RESULT=INVALID_KEY NAME=nosuch.i2p").expect("NAMING", "REPLY"))
        XCTAssertThrowsError(try SAMReply("SESSION STATUS RESULT=I2P_ERROR MESSAGE=\"no tunnels\"").expect("SESSION", "STATUS")) { error in
            XCTAssertEqual(error as? SAMError, .refused(result: "I2P_ERROR", message: "no tunnels"))
        }
        XCTAssertThrowsError(try SAMReply("STREAM STATUS RESULT=OK").expect("SESSION", "STATUS"), "the wrong reply is no answer")
        XCTAssertThrowsError(try SAMReply("STREAM STATUS").expect("STREAM", "STATUS"), "no RESULT")
    }

    func testQuotedValues() throws {
        let reply = try SAMReply(#"SESSION STATUS RESULT=I2P_ERROR MESSAGE="a \"quoted\" word""#)
        XCTAssertEqual(reply.fields["MESSAGE"], #"a "quoted" word"#)
    }

    func testMalformedRepliesAreRefused() {
        for line in [
            "", "HELLO", "RESULT=OK REPLY", "HELLO REPLY RESULT=OK RESULT=OK",
            "HELLO REPLY =OK", "HELLO REPLY RESULT=\"OK", "HELLO REPLY RESULT=\"OK\"x",
            "HELLO REPLY RESULT=O\"K", "HELLO REPLY RESULT=OK\tX=1", "HELLO REPLY RESULT=OK \u{7f}",
            "HELLO REPLY RESULT=ÖK", "HELLO REPLY BARE",
        ] {
            XCTAssertThrowsError(try SAMReply(line), line.debugDescription)
        }
    }

    func testLinesAreCutAndBounded() throws {
        let channel = EmbeddedChannel(handler: SAMLineHandler(maxLine: 32))
        let handler = try channel.pipeline.syncOperations.handler(type: SAMLineHandler.self)
        try channel.writeInbound(ByteBuffer(string: "HELLO REPLY RESULT=OK\r\nSTREAM "))
        XCTAssertEqual(try line(handler, channel), "HELLO REPLY RESULT=OK", "\\r\\n ends a line too")
        let next = channel.eventLoop.makePromise(of: String.self)
        handler.nextLine(next)
        try channel.writeInbound(ByteBuffer(string: "STATUS RESULT=OK\nGET / HTTP/1.1\r\n"))
        XCTAssertEqual(try next.futureResult.wait(), "STREAM STATUS RESULT=OK", "a line in two reads")
        XCTAssertEqual(handler.leftover().map { String(buffer: $0) }, "GET / HTTP/1.1\r\n", "stream bytes stay for the hand-off")
    }

    func testAnOversizedLineClosesTheSocket() throws {
        let channel = EmbeddedChannel(handler: SAMLineHandler(maxLine: 32))
        let handler = try channel.pipeline.syncOperations.handler(type: SAMLineHandler.self)
        let promise = channel.eventLoop.makePromise(of: String.self)
        handler.nextLine(promise)
        try channel.writeInbound(ByteBuffer(string: String(repeating: "A", count: 33)))
        XCTAssertThrowsError(try promise.futureResult.wait()) { XCTAssertEqual($0 as? SAMError, .malformed("a line over 32 bytes")) }
        XCTAssertFalse(channel.isActive)
    }

    func testUnaskedFloodClosesTheSocket() throws {
        let channel = EmbeddedChannel(handler: SAMLineHandler(maxLine: 32))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "HELLO\n", count: 6)))
        XCTAssertFalse(channel.isActive, "36 bytes nobody asked for")
    }

    func testACloseFailsTheWaiter() throws {
        let channel = EmbeddedChannel(handler: SAMLineHandler(maxLine: 32))
        let handler = try channel.pipeline.syncOperations.handler(type: SAMLineHandler.self)
        let promise = channel.eventLoop.makePromise(of: String.self)
        handler.nextLine(promise)
        try channel.writeInbound(ByteBuffer(string: "HALF A LI"))
        _ = try? channel.finish()
        XCTAssertThrowsError(try promise.futureResult.wait()) { XCTAssertEqual($0 as? SAMError, .closed) }
    }

    func testSessionCreateCommand() throws {
        let options = SAMSessionOptions(bridge: try SocketAddress(ipAddress: "127.0.0.1", port: 7656),
                                        inboundLength: 0, outboundLength: 1, inboundQuantity: 2, outboundQuantity: 3)
        XCTAssertEqual(options.createCommand(id: "bh-web-outbound-1", key: nil),
                       "SESSION CREATE STYLE=STREAM ID=bh-web-outbound-1 DESTINATION=TRANSIENT SIGNATURE_TYPE=7 i2cp.leaseSetEncType=4,0"
                       + " inbound.length=0 outbound.length=1 inbound.quantity=2 outbound.quantity=3")
        let key = try XCTUnwrap(I2PPrivateKey(I2PAddressTests.privateKey))
        XCTAssertTrue(options.createCommand(id: "x", key: key).contains(" DESTINATION=\(key.text) "))
    }

    private func line(_ handler: SAMLineHandler, _ channel: EmbeddedChannel) throws -> String {
        let promise = channel.eventLoop.makePromise(of: String.self)
        handler.nextLine(promise)
        return try promise.futureResult.wait()
    }
}
