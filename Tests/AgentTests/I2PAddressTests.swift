@testable import Agent
import XCTest

/// I2P base64, destinations and .b32.i2p names. The vector is a TRANSIENT session made
/// on the private test network (i2pd 2.45.1, SIGNATURE_TYPE=7): `NAMING LOOKUP NAME=ME`
/// gave PUBLIC, and a lookup of B32 from a session on another router gave PUBLIC again.
final class I2PAddressTests: XCTestCase {
    static let privateKey =
        "zky7ET07EDvHI6N~BCzPyZ8e~7bZJ-PNK2w47trhwkHOTLsRPTsQO8cjo38ELM~Jnx7~ttkn480rbDju2uHCQc5MuxE9OxA7xyOj"
        + "fwQsz8mfHv-22SfjzStsOO7a4cJBzky7ET07EDvHI6N~BCzPyZ8e~7bZJ-PNK2w47trhwkHOTLsRPTsQO8cjo38ELM~Jnx7~ttkn"
        + "480rbDju2uHCQc5MuxE9OxA7xyOjfwQsz8mfHv-22SfjzStsOO7a4cJBzky7ET07EDvHI6N~BCzPyZ8e~7bZJ-PNK2w47trhwkHO"
        + "TLsRPTsQO8cjo38ELM~Jnx7~ttkn480rbDju2uHCQc5MuxE9OxA7xyOjfwQsz8mfHv-22SfjzStsOO7a4cJBzky7ET07EDvHI6N~"
        + "BCzPyZ8e~7bZJ-PNK2w47trhwkHOTLsRPTsQO8cjo38ELM~Jnx7~ttkn480rbDju2uHCQe~KHpF5h76G8avJQuKFUFcbycDHNQzv"
        + "vUikiznXS5ROBQAEAAcAALrRSSeJv~YVq4M22Fpw4DA9jil1eJzGlxuzF37bY2AE85cudfwSGx9bXEK4snbhPY-8aR3Nynig-qRB"
        + "dMreqx2FC9ymaQVBOkmyUbhYKkBFYsmKWHSdqfGUHwoOKV7iPmgze5yajCP-U7NIAOUQH4aCbYvCesRB68FVjRLx7-QSJlYmliDM"
        + "I7ECU~UF-k7qi45xuROdgKB--XGLU0j4eHBjRvzyyxgXgQ6hBxMfbivU4gQo0tq4bP8-amoLK-DpxMsfHXwzWJrmGsmicXn6ledl"
        + "aKb0TiUWjJXMlBRmDDLMO8YcSFXzlHoF-C48fZQyXmWp9EcMydogChl4vjtNQtZ2YZpY1zS~nOVuSH9B~JU3L~~AdUhAFfWC218w"
        + "c9T~Hg=="
    static let publicDestination =
        "zky7ET07EDvHI6N~BCzPyZ8e~7bZJ-PNK2w47trhwkHOTLsRPTsQO8cjo38ELM~Jnx7~ttkn480rbDju2uHCQc5MuxE9OxA7xyOj"
        + "fwQsz8mfHv-22SfjzStsOO7a4cJBzky7ET07EDvHI6N~BCzPyZ8e~7bZJ-PNK2w47trhwkHOTLsRPTsQO8cjo38ELM~Jnx7~ttkn"
        + "480rbDju2uHCQc5MuxE9OxA7xyOjfwQsz8mfHv-22SfjzStsOO7a4cJBzky7ET07EDvHI6N~BCzPyZ8e~7bZJ-PNK2w47trhwkHO"
        + "TLsRPTsQO8cjo38ELM~Jnx7~ttkn480rbDju2uHCQc5MuxE9OxA7xyOjfwQsz8mfHv-22SfjzStsOO7a4cJBzky7ET07EDvHI6N~"
        + "BCzPyZ8e~7bZJ-PNK2w47trhwkHOTLsRPTsQO8cjo38ELM~Jnx7~ttkn480rbDju2uHCQe~KHpF5h76G8avJQuKFUFcbycDHNQzv"
        + "vUikiznXS5ROBQAEAAcAAA=="
    static let b32 = "4x26gjyez6kbv2e4on3ikjd2yvlvrtrf3alposgj4n5lunm6pwxq.b32.i2p"

    func testB32OfARealDestination() throws {
        let destination = try XCTUnwrap(I2PDestination(base64: Self.publicDestination))
        XCTAssertEqual(destination.bytes.count, 391, "Ed25519 with a key certificate")
        XCTAssertEqual(destination.b32, Self.b32)
        XCTAssertEqual(destination.base64, Self.publicDestination, "encoding gives back i2pd's text")
    }

    func testThePrivateKeyStartsWithItsDestination() throws {
        let key = try XCTUnwrap(I2PPrivateKey(Self.privateKey))
        XCTAssertEqual(key.destination.b32, Self.b32)
        XCTAssertNil(I2PPrivateKey(Self.publicDestination), "a public destination alone is not a key")
        XCTAssertNil(I2PDestination(base64: Self.privateKey), "a destination is exactly its certificate's length")
    }

    func testBase64UsesI2PsAlphabet() {
        let bytes: [UInt8] = [0xfb, 0xff, 0xfe, 0x00, 0x10]
        XCTAssertEqual(I2PBase64.encode(bytes), "-~~-ABA=")
        XCTAssertEqual(I2PBase64.decode("-~~-ABA="), bytes)
        XCTAssertEqual(I2PBase64.decode("-~~-ABA"), bytes, "padding may be left out")
        for n in 0..<8 {
            let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            XCTAssertEqual(I2PBase64.decode(I2PBase64.encode(data)), data)
        }
    }

    func testBase64RefusesWhatI2PWouldNotWrite() {
        XCTAssertNil(I2PBase64.decode("+/+/"), "the RFC 4648 characters are not I2P's")
        XCTAssertNil(I2PBase64.decode("AB=A"), "padding in the middle")
        XCTAssertNil(I2PBase64.decode("A"), "a lone character is no byte")
        XCTAssertNil(I2PBase64.decode("AB==="), "too much padding")
        XCTAssertNil(I2PBase64.decode("AB\nCD"), "a newline")
        XCTAssertNil(I2PBase64.decode("AR=="), "bits past the last byte must be zero")
    }

    func testShortOrTruncatedDestinations() {
        XCTAssertNil(I2PDestination(prefixOf: [UInt8](repeating: 0, count: 386)))
        var raw = [UInt8](repeating: 0, count: 387)
        raw[386] = 4
        XCTAssertNil(I2PDestination(prefixOf: raw), "the certificate says 4 more bytes")
        raw += [5, 0, 0, 0]
        XCTAssertEqual(I2PDestination(prefixOf: raw)?.bytes.count, 391)
    }

    func testHostNames() {
        XCTAssertEqual(I2PHostName(Self.b32.uppercased()), .b32(Self.b32))
        XCTAssertEqual(I2PHostName(Self.b32 + "."), .b32(Self.b32))
        XCTAssertEqual(I2PHostName("Stats.I2P"), .name("stats.i2p"))
        XCTAssertEqual(I2PHostName("a.b.c.i2p"), .name("a.b.c.i2p"))
        XCTAssertNil(I2PHostName("example.com"))
        XCTAssertNil(I2PHostName("i2p"))
        XCTAssertNil(I2PHostName("short.b32.i2p"), "a b32 name has at least 52 characters")
        XCTAssertNil(I2PHostName("x y.i2p"), "a space would split the SAM command")
        XCTAssertNil(I2PHostName("x=DESTINATION.i2p"))
        XCTAssertNil(I2PHostName("a..i2p"))
    }
}
