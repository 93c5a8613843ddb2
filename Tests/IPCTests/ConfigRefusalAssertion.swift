import Config
import XCTest

/// Asserts that `ConfigLoader` refuses each case's YAML with an error that contains the
/// case's expected words. With `section` (its start, e.g. "netwatch:\n"), each case is
/// one line of that section.
func assertConfigRefused(_ cases: [(yaml: String, expected: String)], section: String? = nil,
                         file: StaticString = #filePath, line: UInt = #line) {
    for (text, expected) in cases {
        let yaml = section.map { $0 + "  \(text)\n" } ?? text
        XCTAssertThrowsError(try ConfigLoader.load(yaml: yaml), text, file: file, line: line) {
            XCTAssertTrue("\($0)".contains(expected), "\(text): \($0)", file: file, line: line)
        }
    }
}
