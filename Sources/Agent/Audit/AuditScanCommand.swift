import ArgumentParser
import Foundation
import Runtime
import SecretScan
import Yams
#if canImport(Glibc)
import Glibc
#endif

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Offline tools of the audit service.", subcommands: [AuditScanCommand.self, AuditRulesCommand.self])
}

/// `bulkhead-agent audit scan`: the audit service's detection engine on a file or
/// stdin, so rules can be tried offline. Exit status: 0 no finding, 1 findings, 2 error.
struct AuditScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan a file (or stdin) for secrets with the audit engine; print redacted findings.",
        discussion: """
            Uses exactly the rules and streaming scanner of the audit proxy: the \
            built-in rules (AWS keys, generic API keys, private keys, e-mail addresses, \
            bearer tokens, passwords and common provider tokens) plus any --rules file. \
            Secrets are never printed, only their redacted form (AK***LE).

            Exit status: 0 no finding, 1 at least one finding, 2 error.

            Examples:
              bulkhead-agent audit scan app.log
              docker logs web 2>&1 | bulkhead-agent audit scan --format json
              bulkhead-agent audit scan --rules my-rules.yaml --list-rules
            """)

    @Argument(help: "File to scan; - or nothing for stdin.")
    var file: String = "-"

    @Option(help: "YAML/JSON file with extra rules (a list of {id, description, severity, pattern, keywords, entropy, value, caseless}).")
    var rules: String?

    @Option(help: "Output: text or json (one JSON object per finding).")
    var format: OutputFormat = .text

    @Flag(help: "Print the rule set (id, severity, description) and exit.")
    var listRules = false

    @Flag(help: "Use only the --rules file, not the built-in rules.")
    var noBuiltin = false

    @Flag(help: "Do not print the throughput summary on stderr.")
    var quiet = false

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func run() throws {
        var all = noBuiltin ? [] : BuiltInRules.all
        do {
            if let rules { all += try RuleFile.load(rules) }
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        let ruleSet: RuleSet
        do { ruleSet = try RuleSet(rules: all) } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        if listRules {
            for rule in ruleSet.rules { print("\(rule.id)\t\(rule.severity.rawValue)\t\(rule.description)") }
            return
        }
        let fd: Int32 = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { printError("cannot open \(file): \(String(cString: strerror(errno)))"); throw ExitCode(2) }
        defer { if fd != 0 { close(fd) } }
        try AgentSandbox.install()  // the input may be anything a container wrote

        let scanner = SecretStream(ruleSet: ruleSet)
        let lines = LineIndex()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0, count = 0
        let start = ContinuousClock.now
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; printError("read \(file): \(String(cString: strerror(errno)))"); throw ExitCode(2) }
            if n == 0 { break }
            let findings = buffer.withUnsafeBytes { chunk -> [Finding] in
                let slice = UnsafeRawBufferPointer(rebasing: chunk[0..<n])
                lines.add(slice)
                return scanner.scan(slice)
            }
            for f in findings { emit(f, line: lines.line(of: f.offset)) }
            count += findings.count
            total += n
        }
        let rest = scanner.finish()
        for f in rest { emit(f, line: lines.line(of: f.offset)) }
        count += rest.count
        if !quiet {
            let seconds = (ContinuousClock.now - start).seconds
            printError(String(format: "scanned %d bytes in %.3f s (%.1f MB/s), %d rules, %d findings",
                              total, seconds, Double(total) / max(seconds, 1e-9) / 1e6, ruleSet.rules.count, count))
        }
        if count > 0 { throw ExitCode(1) }
    }

    private func emit(_ f: Finding, line: Int) {
        switch format {
        case .text:
            print("\(file == "-" ? "stdin" : file):\(line)\t\(f.severity.rawValue)\t\(f.ruleID)\t\(f.redacted)")
        case .json:
            print("{\"source\":\(JSONText.quote(file == "-" ? "stdin" : file)),\"line\":\(line),\"offset\":\(f.offset),"
                + "\"pattern\":\(JSONText.quote(f.ruleID)),\"severity\":\"\(f.severity.rawValue)\",\"redacted_match\":\(JSONText.quote(f.redacted))}")
        }
    }

    private func printError(_ text: String) { FileHandle.standardError.write(Data(("bulkhead-agent audit scan: " + text + "\n").utf8)) }
}

/// Line numbers for stream offsets: the offsets of newlines seen, kept in full
/// only for the recent window a finding can start in.
final class LineIndex {
    private var newlinesBefore = 0       // newlines before the first of `recent`
    private var recent: [UInt64] = []    // newline offsets in the recent window
    private var seen: UInt64 = 0

    func add(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i < bytes.count {
            if let p = memchr(bytes.baseAddress! + i, 0x0a, bytes.count - i) {
                let at = bytes.baseAddress!.distance(to: UnsafeRawPointer(p))
                recent.append(seen + UInt64(at))
                i = at + 1
            } else { break }
        }
        seen += UInt64(bytes.count)
        // Findings start at most a tail plus one chunk back: keep 4 MiB of history.
        let keepFrom = seen > (4 << 20) ? seen - (4 << 20) : 0
        if let cut = recent.firstIndex(where: { $0 >= keepFrom }), cut > 0 {
            newlinesBefore += cut
            recent.removeFirst(cut)
        }
    }

    /// 1-based line of `offset`.
    func line(of offset: UInt64) -> Int {
        var lo = 0, hi = recent.count
        while lo < hi { let mid = (lo + hi) / 2; if recent[mid] < offset { lo = mid + 1 } else { hi = mid } }
        return newlinesBefore + lo + 1
    }
}

/// `bulkhead-agent audit rules`: the built-in rules as YAML, a starting point for a --rules file.
struct AuditRulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Print the built-in detection rules as YAML (the --rules file format).")

    func run() throws {
        print(try YAMLEncoder().encode(BuiltInRules.all), terminator: "")
    }
}
