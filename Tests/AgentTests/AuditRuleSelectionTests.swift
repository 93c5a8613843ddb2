import Config
import Foundation
import SecretScan
import XCTest
@testable import Agent

final class AuditRuleSelectionTests: XCTestCase {
    func testDisabledRulesDoNotRun() throws {
        let rules = try AuditRuleSelection.rules(rulesFile: nil, disabled: ["password", "email-address"], setting: "audit.disabled_rules")
        XCTAssertEqual(rules.count, BuiltInRules.all.count - 2)
        XCTAssertFalse(rules.contains { $0.id == "password" || $0.id == "email-address" })
    }

    func testAnUnknownIdIsAnErrorThatNamesIt() {
        XCTAssertThrowsError(try AuditRuleSelection.rules(rulesFile: nil, disabled: ["password", "nope"], setting: "audit.disabled_rules")) {
            XCTAssertEqual("\($0)", "audit.disabled_rules: no rule named nope (`bulkhead-agent audit scan --list-rules` lists them)")
        }
    }

    func testTheConfigKeyIsRead() throws {
        let yaml = "audit:\n  listen: /run/a.sock\n  disabled_rules: [password]\n"
        XCTAssertEqual(try ConfigLoader.load(yaml: yaml).audit?.disabledRules, ["password"])
        XCTAssertThrowsError(try ConfigLoader.load(yaml: "audit:\n  disabled_rules: password\n"), "a list, not a string")
    }
}
