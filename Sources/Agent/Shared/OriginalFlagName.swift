import ArgumentParser

extension NameSpecification {
    /// `--NAME`, and `-NAME` as the original Go tools spelled their flags, so that their
    /// command lines keep working.
    static func original(_ name: String) -> NameSpecification {
        [.customLong(name), .customLong(name, withSingleDash: true)]
    }
}
