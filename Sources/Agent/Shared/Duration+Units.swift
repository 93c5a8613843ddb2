extension Duration {
    /// Whole milliseconds, for logs.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
    /// Whole microseconds, for set-up times.
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
    /// Fractional seconds, for rates.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
