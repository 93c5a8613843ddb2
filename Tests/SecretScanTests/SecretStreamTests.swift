import SecretScan
import XCTest

final class SecretStreamTests: XCTestCase {
    lazy var rules = RuleSet.builtIn()

    func testEveryBuiltInRuleCompilesOnItsOwn() {
        for rule in BuiltInRules.all {
            XCTAssertNoThrow(try RuleSet(rules: [rule]), rule.id)
        }
    }

    func scanAll(_ text: String, cuts: [Int] = []) -> [Finding] {
        let bytes = Array(text.utf8)
        let stream = SecretStream(ruleSet: rules)
        var findings: [Finding] = []
        var start = 0
        for cut in (cuts + [bytes.count]).sorted() where cut >= start {
            bytes[start..<cut].withUnsafeBytes { findings += stream.scan($0) }
            start = cut
        }
        // Findings are complete in stream order of their start; emission time may differ.
        return (findings + stream.finish()).sorted { ($0.offset, $0.ruleID) < ($1.offset, $1.ruleID) }
    }

    func testEveryBuiltInClassIsFoundAndRedacted() {
        var generator = SyntheticSecrets(rng: SystemRandomNumberGenerator())
        for sample in generator.samples() {
            let findings = scanAll(sample.line + "\n")
            let mine = findings.filter { $0.ruleID == sample.rule }
            XCTAssertEqual(mine.count, 1, "\(sample.rule) in \(sample.line.prefix(12))…: \(findings.map(\.ruleID))")
            guard let f = mine.first else { continue }
            let v = Array(sample.value)
            let expected = v.count <= 6 ? "***" : String(v.prefix(2)) + "***" + String(v.suffix(2))
            XCTAssertEqual(f.redacted, expected, sample.rule)
            XCTAssertFalse(f.redacted.contains(sample.value), "a finding never holds the secret")
        }
    }

    func testRedactionRule() {
        let f = scanAll("key AKIAZ7QW2RTYUIOP3ASD done\n").first { $0.ruleID == "aws-access-key" }
        XCTAssertEqual(f?.redacted, "AK***SD")
        XCTAssertEqual(scanAll("password=abc123\n").first?.redacted, "***", "6 characters or fewer")
    }

    func testSecretSplitAcrossEveryPossibleBoundaryIsFoundOnce() {
        let line = "boot ok; GITHUB_TOKEN=ghp_" + String(repeating: "aB3dE5gH7j", count: 3) + "K9mN2p and more\n"
        let whole = scanAll(line)
        XCTAssertEqual(whole.map(\.ruleID), ["github-token"])
        for cut in 1..<line.utf8.count {
            XCTAssertEqual(scanAll(line, cuts: [cut]), whole, "cut at \(cut)")
        }
    }

    func testEmailSplitAcrossEveryPossibleBoundaryIsFoundOnce() {
        let line = "GET /health 200\nsending report to jane.doe123@corp-mail.acme-co.org. worker 3 done\n"
        let whole = scanAll(line)
        XCTAssertEqual(whole.map(\.ruleID), ["email-address"])
        XCTAssertEqual(whole.first?.redacted, "ja***rg")
        for cut in 1..<line.utf8.count {
            XCTAssertEqual(scanAll(line, cuts: [cut]), whole, "cut at \(cut)")
        }
    }

    /// The input on which vectorscan 5.4.9 lost an e-mail address at chunk boundaries
    /// 215 and 245 (streaming mode; upstream PR #402): it must be found however cut.
    func testVectorscanBoundaryCaseIsFound() {
        let text = "GET /health 200 4ms\n-----BEGIN RSA PRIVATE KEY----- -----BEGIN RSA PRIVATE KEY-----\naws_secret_access_key = EilSKEv0bS3sBXSl+hO905re4nlYAO176gGTcpJg\nGET /health 200 4ms\nsending report to jane.doe293@corp-mail.acme-co.org. //registry.npmjs.org/:_authToken=npm_0up7ytdLcMgV3Mowp71AS5QwUaXl9qWNp4UF GET "
        let whole = scanAll(text).filter { $0.ruleID == "email-address" }
        XCTAssertEqual(whole.map(\.redacted), ["ja***rg"])
        for cuts in [[215], [245], [215, 245], [200, 215, 221, 245]] {
            XCTAssertEqual(scanAll(text, cuts: cuts).filter { $0.ruleID == "email-address" }, whole, "cuts \(cuts)")
        }
    }

    func testFalsePositiveFilters() {
        let negatives = [
            "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",          // AWS's documented example key
            "api_key=${API_KEY_FROM_ENVIRONMENT}",               // variable reference
            "password: {{ .Values.db.password }}",              // template
            "password=$DB_PASSWORD",
            "api_key=xxxxxxxxxxxxxxxxxxxxxxxx",                  // repeated characters
            "password: ********",
            "password=<your-password-here>",
            "token ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",   // no entropy
            "password = true",
            "the api key is configured",                         // keyword only
            "Bearer token expired",
            "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        ]
        for line in negatives {
            XCTAssertEqual(scanAll(line + "\n"), [], line)
        }
    }

    func testRuleThatDoesNotCompileIsNamed() {
        var broken = BuiltInRules.all
        broken.append(SecretRule(id: "my-broken-rule", description: "", severity: .low, pattern: "(unclosed", keywords: []))
        XCTAssertThrowsError(try RuleSet(rules: broken)) { error in
            XCTAssertEqual((error as? RuleError)?.rule, "my-broken-rule", "\(error)")
        }
    }

    /// Random text with embedded secrets, fed in random pieces: the findings are
    /// exactly those of an unsplit scan. Bounded by BULKHEAD_FUZZ_SECONDS.
    func testRandomSplitsGiveTheSameFindings() {
        var rng = SystemRandomNumberGenerator()
        let seconds = Double(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SECONDS"] ?? "3") ?? 3
        let deadline = Date().addingTimeInterval(seconds)
        var rounds = 0
        var generator = SyntheticSecrets(rng: SystemRandomNumberGenerator())
        let filler = ["GET /health 200 4ms\n", "worker 3 picked job 991\n", "cache miss for user profile\n", "{\"level\":\"info\",\"msg\":\"ok\"}\n"]
        while Date() < deadline, rounds < 2000 {
            var text = ""
            for _ in 0..<Int.random(in: 5...40, using: &rng) {
                if Bool.random(using: &rng) {
                    text += generator.samples().randomElement(using: &rng)!.line + (Bool.random(using: &rng) ? "\n" : " ")
                } else {
                    text += filler.randomElement(using: &rng)!
                }
            }
            let count = text.utf8.count
            let cuts = (0..<Int.random(in: 0...12, using: &rng)).map { _ in Int.random(in: 0...count, using: &rng) }
            XCTAssertEqual(scanAll(text, cuts: cuts), scanAll(text), "round \(rounds): cuts \(cuts.sorted()) in \(text.debugDescription)")
            rounds += 1
        }
        XCTAssertGreaterThan(rounds, 10)
    }
}
