import Foundation
@testable import Helper
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The netfilter executor's vocabulary (`NetfilterExecutor.Command`, `Result`) and the
/// framing of its stream channel: every command round-trips, and every kind of bad
/// message is refused before anything could run.
final class ExecutorVocabularyTests: XCTestCase {
    typealias Command = NetfilterExecutor.Command
    typealias Result = NetfilterExecutor.Result

    static let everyCommand: [Command] = [
        .restore(input: "*filter\n:BULKHEAD - [0:0]\nCOMMIT\n"),
        .save,
        .ip(["-4", "rule", "add", "fwmark", "0x10", "table", "100"]),
        .sysctl(path: "/proc/sys/net/ipv4/conf/bh-i2p0/rp_filter", value: "2"),
        .restore6(input: "*filter\nCOMMIT\n"),
        .save6,
    ]

    func testEveryCommandRoundTrips() throws {
        XCTAssertEqual(Set(Self.everyCommand.map(\.tag)), Set(Command.Tag.allCases))
        for command in Self.everyCommand {
            XCTAssertEqual(try Command.decode(command.encoded()), command)
        }
        // Empty input, one argument, arguments with spaces or that look like options stay whole.
        for command: Command in [.restore(input: ""), .ip(["help"]), .ip(["link", "set", "a b", "--", "-x"])] {
            XCTAssertEqual(try Command.decode(command.encoded()), command)
        }
    }

    func testWireForm() {
        XCTAssertEqual(Command.save.encoded(), [2])
        XCTAssertEqual(Command.save6.encoded(), [6])
        XCTAssertEqual(Command.restore(input: "ab").encoded(), [1, 0, 0, 0, 2, 0x61, 0x62])
        XCTAssertEqual(Command.ip(["a", "bc"]).encoded(), [3, 0, 2, 0, 1, 0x61, 0, 2, 0x62, 0x63])
        XCTAssertEqual(Command.sysctl(path: "/proc/sys/net/x", value: "1").encoded(),
                       [4, 0, 15] + Array("/proc/sys/net/x".utf8) + [0, 1, 0x31])
        XCTAssertEqual(Result(status: -1, bytes: [0x6f]).encoded(), [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x6f])
    }

    func testUnknownTagsAreRefused() {
        for tag: UInt8 in [0, 7, 0x80, 0xff] {
            assertRefused([tag], .unknownType(UInt16(tag)))
        }
        assertRefused([], nil)
    }

    func testTruncatedCommandsAreRefused() {
        for command in Self.everyCommand where command != .save && command != .save6 {
            let bytes = command.encoded()
            for length in 1..<bytes.count { assertRefused(Array(bytes[0..<length]), nil, "\(command) cut at \(length)") }
        }
    }

    func testTrailingBytesAreRefused() {
        for command in Self.everyCommand {
            assertRefused(command.encoded() + [0], nil, "\(command) + 1 byte")
        }
    }

    func testOversizeFieldsAreRefused() {
        // restore / restore6: a blob length over maxInput is refused before it is read.
        for tag: UInt8 in [1, 5] {
            var w = WireWriter(); w.u8(tag); w.u32(UInt32(Command.maxInput + 1))
            assertRefused(w.bytes + [0x61], nil, "restore tag \(tag)")
        }
        // ip: an argument over maxArgument, too many arguments, none.
        var long = WireWriter(); long.u8(3); long.u16(1); long.string(String(repeating: "a", count: Command.maxArgument + 1))
        assertRefused(long.bytes, nil, "long ip argument")
        var many = WireWriter(); many.u8(3); many.u16(UInt16(Command.maxArguments + 1))
        for _ in 0...Command.maxArguments { many.string("a") }
        assertRefused(many.bytes, nil, "too many ip arguments")
        assertRefused([3, 0, 0], nil, "no ip arguments")
        // sysctl: path over maxPath, value over maxValue.
        let longPath = "/proc/sys/net/" + String(repeating: "a", count: Command.maxPath)
        assertRefused(sysctl(longPath, "1"), nil, "long sysctl path")
        assertRefused(sysctl("/proc/sys/net/ipv4/ip_forward", String(repeating: "1", count: Command.maxValue + 1)), nil, "long sysctl value")
    }

    func testRestoreInputMustBeUTF8() {
        assertRefused([1, 0, 0, 0, 2, 0xc3, 0x28], nil)
        assertRefused([5, 0, 0, 0, 1, 0xff], nil)
    }

    /// The attacker's view: nothing decoded may add an argument or leave /proc/sys/net/.
    func testNoArgumentOrPathCanBeSmuggled() {
        var nul = WireWriter(); nul.u8(3); nul.u16(2); nul.string("link"); nul.string("del\0--force")
        assertRefused(nul.bytes, nil, "NUL inside an ip argument")
        for path in [
            "/proc/sys/kernel/core_pattern", "/proc/sys/net", "/proc/sys/net/", "/proc/sys/net/../kernel/modprobe",
            "/proc/sys/net/ipv4/../../kernel/x", "/proc/sys/net/ipv4/conf/a..b/rp_filter", "/proc/sys/net//ipv4/ip_forward",
            "/proc/sys/net/./ipv4/ip_forward", "/proc/sys/net/ipv4/", "/proc/sys/net/ipv4/ip_forward\0/x",
            "proc/sys/net/ipv4/ip_forward", "/proc/sys/netfilter/x", "//proc/sys/net/ipv4/ip_forward", "/etc/passwd",
        ] {
            assertRefused(sysctl(path, "1"), nil, path.debugDescription)
            XCTAssertFalse(Command.isNetSysctlPath(path), path.debugDescription)
        }
        assertRefused(sysctl("/proc/sys/net/ipv4/ip_forward", "1\0"), nil, "NUL in a sysctl value")
        XCTAssertTrue(Command.isNetSysctlPath("/proc/sys/net/ipv4/conf/bh-i2p0/rp_filter"))
        XCTAssertTrue(Command.isNetSysctlPath("/proc/sys/net/ipv6/conf/veth.1/disable_ipv6"))
    }

    /// The helper holds its own commands to the same rules before sending one.
    func testCheckMatchesDecode() {
        let bad: [Command] = [
            .ip([]), .ip(["a\0b"]), .ip(Array(repeating: "a", count: Command.maxArguments + 1)),
            .ip([String(repeating: "a", count: Command.maxArgument + 1)]),
            .sysctl(path: "/proc/sys/kernel/x", value: "1"), .sysctl(path: "/proc/sys/net/x", value: "\0"),
            .restore(input: String(repeating: "a", count: Command.maxInput + 1)),
        ]
        for command in bad { XCTAssertThrowsError(try command.check(), "\(command)".prefix(80).description) }
        for command in Self.everyCommand { XCTAssertNoThrow(try command.check()) }
    }

    func testResultRoundTripsAndRefusesBadReplies() throws {
        for result in [Result(status: 0, bytes: []), Result(status: 1, bytes: Array("iptables: error\n".utf8)),
                       Result(status: -1, bytes: [0xff, 0xfe]), Result(status: 137, bytes: Array(repeating: 0x61, count: 70_000)),
                       Result.refused(.unknownType(9))] {
            XCTAssertEqual(try Result.decode(result.encoded()), result)
        }
        XCTAssertEqual(Result.refused(.unknownType(9)).status, Result.refusedStatus)
        XCTAssertEqual(Result(status: 0, bytes: [0xff]).output, "\u{FFFD}")
        let good = Result(status: 3, bytes: [1, 2, 3]).encoded()
        for length in 0..<good.count { XCTAssertThrowsError(try Result.decode(Array(good[0..<length]))) }
        XCTAssertThrowsError(try Result.decode(good + [0]))
        var oversize = WireWriter(); oversize.u32(0); oversize.u32(UInt32(Result.maxOutput + 1))
        XCTAssertThrowsError(try Result.decode(oversize.bytes))
    }

    // MARK: framing on the stream

    func testChannelCarriesMessagesWhole() throws {
        let (a, b) = try streamPair()
        defer { a.close(); b.close() }
        let big = [UInt8](repeating: 7, count: 300_000)  // more than the socket buffer: sent while read
        let sender = Thread { try? a.send([]); try? a.send([1, 2, 3]); try? a.send(big) }
        sender.start()
        XCTAssertEqual(try b.receive(max: 10), [])
        XCTAssertEqual(try b.receive(max: 10), [1, 2, 3])
        XCTAssertEqual(try b.receive(max: big.count), big)
        a.close()
        XCTAssertNil(try b.receive(max: 10), "end of stream between messages")
    }

    func testChannelRefusesAnOversizeLengthAndACutMessage() throws {
        let (a, b) = try streamPair()
        defer { b.close() }
        try a.send([1, 2, 3, 4])
        XCTAssertThrowsError(try b.receive(max: 3)) { XCTAssertEqual(($0 as? SystemCallError)?.errno, EMSGSIZE) }
        let (c, d) = try streamPair()
        defer { d.close() }
        _ = write(c.fd, [0, 0, 0, 5, 1, 2] as [UInt8], 6)  // a length of 5, then 2 bytes and the end
        c.close()
        XCTAssertThrowsError(try d.receive(max: 10)) { XCTAssertEqual(($0 as? SystemCallError)?.errno, EPIPE) }
        let (e, f) = try streamPair()
        defer { f.close() }
        _ = write(e.fd, [0, 0] as [UInt8], 2)  // half a length
        e.close()
        XCTAssertThrowsError(try f.receive(max: 10)) { XCTAssertEqual(($0 as? SystemCallError)?.errno, EPIPE) }
        a.close()
    }

    // MARK: helpers

    private func sysctl(_ path: String, _ value: String) -> [UInt8] {
        var w = WireWriter(); w.u8(4); w.string(path); w.string(value)
        return w.bytes
    }

    private func assertRefused(_ bytes: [UInt8], _ expected: IPCError?, _ what: String = "", line: UInt = #line) {
        do {
            let command = try Command.decode(bytes)
            XCTFail("decoded \(command) \(what)", line: line)
        } catch {
            if let expected { XCTAssertEqual(error, expected, what, line: line) }
            // What the executor answers then: refused, nothing run.
            XCTAssertEqual(Result.refused(error).status, Result.refusedStatus, line: line)
        }
    }

    private func streamPair() throws -> (ExecutorChannel, ExecutorChannel) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SystemCallError(call: "socketpair", errno: errno)
        }
        return (ExecutorChannel(fd: fds[0]), ExecutorChannel(fd: fds[1]))
    }
}
