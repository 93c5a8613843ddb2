import ArgumentParser
import Foundation
import LogSetup
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
/// stdin, so rules can be tried offline. Exit status: 0 no finding, --exit-code (1) findings, 2 error.
struct AuditScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan a file (or stdin) for secrets with the audit engine; print redacted findings.",
        discussion: """
            Uses exactly the rules and streaming scanner of the audit proxy: the \
            built-in rules (AWS keys, generic API keys, private keys, e-mail addresses, \
            bearer tokens, passwords and common provider tokens) plus any --rules file. \
            Secrets are never printed, only their redacted form (AK***LE).

            Reports: --report-format json|sarif|csv writes every finding with its rule, \
            file, line and a fingerprint (bh1:...) to --report-path (stdout if absent). The \
            fingerprint is derived from the rule, file, line and redacted form only, never \
            from the secret. A report can serve as --baseline later: findings already in it \
            are not reported again, so only new secrets fail a CI job.

            Exit status: 0 no (new) finding, --exit-code (default 1) at least one, 2 error, \
            64 a wrong command line.

            Examples:
              bulkhead-agent audit scan app.log
              docker logs web 2>&1 | bulkhead-agent audit scan --format json
              bulkhead-agent audit scan --report-format sarif --report-path scan.sarif app.log
              bulkhead-agent audit scan --baseline scan.sarif --disable-rule email-address app.log
              bulkhead-agent audit scan --rules my-rules.yaml --list-rules
            """)

    @Argument(help: "File to scan; - or nothing for stdin.")
    var file: String = "-"

    @Option(help: "YAML/JSON file with extra rules (a list of {id, description, severity, pattern, keywords, entropy, value, caseless}).")
    var rules: String?

    @Option(help: "Output on stdout while scanning: text or json (one JSON object per finding).")
    var format: OutputFormat = .text

    @Option(help: "Write a report of all findings: json, sarif (2.1.0) or csv. Default: from --report-path's extension.")
    var reportFormat: ScanReportFormat?

    @Option(help: "Where the report goes (written to a temporary file, then renamed); - for stdout.")
    var reportPath: String?

    @Option(help: "A report written earlier (json, sarif or csv): its findings are not reported again.")
    var baseline: String?

    @Option(help: "Turn a rule off by its id (see --list-rules); repeat for more.")
    var disableRule: [String] = []

    @Option(help: "Exit status when there are findings (0 to never fail on findings).")
    var exitCode: Int32 = 1

    @Flag(help: "Print the rule set (id, severity, description) and exit.")
    var listRules = false

    @Flag(help: "Use only the --rules file, not the built-in rules.")
    var noBuiltin = false

    @Flag(help: "Do not print the throughput summary on stderr.")
    var quiet = false

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    /// A report holds every finding in memory until the end: a bound, so that an input
    /// made of secrets cannot grow it without limit.
    static let maxReportFindings = 1_000_000

    func validate() throws {
        guard (0...125).contains(exitCode) else { throw ValidationError("--exit-code must be 0...125 (126 and up mean other things to shells)") }
        if reportPath != nil, reportFormat == nil, reportPath != "-", ScanReportFormat(pathExtensionOf: reportPath!) == nil {
            throw ValidationError("give --report-format json|sarif|csv: --report-path \(reportPath!) has no known extension")
        }
        if reportPath == "-", reportFormat == nil { throw ValidationError("--report-path - needs --report-format") }
    }

    func run() throws {
        let ruleSet = try loadRules()
        if listRules {
            for rule in ruleSet.rules { print("\(rule.id)\t\(rule.severity.rawValue)\t\(rule.description)") }
            return
        }
        let known: ScanBaseline
        do { known = try baseline.map(ScanBaseline.init(path:)) ?? ScanBaseline(fingerprints: []) } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        let source = file == "-" ? "stdin" : file
        let fd: Int32 = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { printError("cannot open \(file): \(String(cString: strerror(errno)))"); throw ExitCode(2) }
        defer { if fd != 0 { close(fd) } }
        let format = reportFormat ?? reportPath.flatMap(ScanReportFormat.init(pathExtensionOf:))
        let report: ReportFile?
        do { report = try format.map { try ReportFile(path: reportPath ?? "-", format: $0) } } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        try AgentSandbox.install()  // the input may be anything a container wrote

        let descriptions = Dictionary(ruleSet.rules.map { ($0.id, $0.description) }, uniquingKeysWith: { a, _ in a })
        let scanner = SecretStream(ruleSet: ruleSet)
        let lines = LineIndex()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0, reported: [ScanFinding] = [], count = 0, ignored = 0
        let start = ContinuousClock.now
        func take(_ findings: [Finding]) throws {
            for f in findings {
                let finding = ScanFinding(f, description: descriptions[f.ruleID] ?? "", source: source, line: lines.line(of: f.offset))
                if known.contains(finding) { ignored += 1; continue }
                count += 1
                if report?.isStdout != true { emit(finding) }
                guard report != nil else { continue }
                guard reported.count < Self.maxReportFindings else {
                    report?.discard()
                    printError("more than \(Self.maxReportFindings) findings: too many for one report (is this the right input?)")
                    throw ExitCode(2)
                }
                reported.append(finding)
            }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                report?.discard()
                printError("read \(file): \(String(cString: strerror(errno)))")
                throw ExitCode(2)
            }
            if n == 0 { break }
            try take(buffer.withUnsafeBytes { chunk -> [Finding] in
                let slice = UnsafeRawBufferPointer(rebasing: chunk[0..<n])
                lines.add(slice)
                return scanner.scan(slice)
            })
            total += n
        }
        try take(scanner.finish())
        if let report {
            do {
                let summaries = ruleSet.rules.map { RuleSummary(id: $0.id, description: $0.description, severity: $0.severity.rawValue) }
                try report.commit(try report.format.render(reported, rules: summaries))
            } catch {
                report.discard()
                printError("cannot write the report: \(error)")
                throw ExitCode(2)
            }
        }
        if !quiet {
            let seconds = (ContinuousClock.now - start).seconds
            let baselined = baseline == nil ? "" : String(format: " (%d more in the baseline)", ignored)
            printError(String(format: "scanned %d bytes in %.3f s (%.1f MB/s), %d rules, %d findings%@",
                              total, seconds, Double(total) / max(seconds, 1e-9) / 1e6, ruleSet.rules.count, count, baselined))
        }
        if count > 0 && exitCode != 0 { throw ExitCode(exitCode) }
    }

    /// Built-in and --rules rules, less the disabled ones; every failure is exit status 2.
    private func loadRules() throws -> RuleSet {
        do {
            return try RuleSet(rules: AuditRuleSelection.rules(
                builtIn: !noBuiltin, rulesFile: rules, disabled: disableRule, setting: "--disable-rule"))
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
    }

    private func emit(_ f: ScanFinding) {
        switch format {
        case .text:
            print("\(f.source):\(f.line)\t\(f.severity.rawValue)\t\(f.ruleID)\t\(f.redacted)")
        case .json:
            print("{\"source\":\(JSONText.quote(f.source)),\"line\":\(f.line),\"offset\":\(f.offset),"
                + "\"pattern\":\(JSONText.quote(f.ruleID)),\"severity\":\"\(f.severity.rawValue)\",\"redacted_match\":\(JSONText.quote(f.redacted)),"
                + "\"fingerprint\":\"\(f.fingerprint)\"}")
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
