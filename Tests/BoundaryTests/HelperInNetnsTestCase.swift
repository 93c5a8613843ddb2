import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A helper inside a network namespace of its own (its links and rules vanish with
/// the namespace, and no table of the host is touched), with its config, sockets and
/// state under a private root-only directory. Both are named after the test class.
class HelperInNetnsTestCase: XCTestCase {
    var netns = ""
    var dir = ""
    var helper: HelperUnderTest!

    var configPath: String { "\(dir)/bulkhead.yaml" }
    /// The helper's config; it may name paths under `dir`.
    var configYAML: String { fatalError("\(Self.self) names the helper's config") }
    /// Whether set-up starts the helper (otherwise each test does).
    var startsHelper: Bool { true }
    /// Whether the helper, once started, is greeted with a successful `hello`.
    var greetsOnStart: Bool { true }

    override func setUpWithError() throws {
        try HelperUnderTest.requireRoot()
        netns = "bh-\(Self.self)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Self.sh("/usr/sbin/ip", "netns", "add", netns)
        // Under /run: listener directories must be root-only all the way up (not /tmp).
        var template = Array("/run/bulkhead-\(Self.self)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw NSError(domain: "mkdtemp", code: Int(errno)) }
        dir = String(cString: made)
        chmod(dir, 0o755)
        try configYAML.write(toFile: configPath, atomically: true, encoding: .utf8)
        chmod(configPath, 0o644)
        guard startsHelper else { return }
        helper = try HelperUnderTest(configPath: configPath, netns: netns)
        if greetsOnStart { try helper.hello() }
    }

    override func tearDown() {
        helper = nil  // the helper stops and removes what it made
        if !netns.isEmpty { _ = try? Self.sh("/usr/sbin/ip", "netns", "del", netns) }
        if !dir.isEmpty { try? FileManager.default.removeItem(atPath: dir) }
    }

    @discardableResult
    func inNetns(_ args: String...) throws -> String { try Self.sh(["/usr/sbin/ip", "netns", "exec", netns] + args) }

    /// Link names in the namespace.
    func links() throws -> [String] {
        try inNetns("ip", "-o", "link", "show").split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 1 ? String(fields[1].prefix { $0 != "@" && $0 != ":" }) : nil
        }
    }

    /// Runs a command (an absolute path and its arguments): its output and error output, or
    /// an error with them when it fails.
    @discardableResult
    static func sh(_ args: String...) throws -> String { try sh(args) }

    static func sh(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw HelperTestError.unexpected("\(args.joined(separator: " ")): \(text)") }
        return text
    }
}
