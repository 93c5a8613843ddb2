/// A routing table the config may name: 1...252 or 256...2^31, never unspec (0),
/// default (253), main (254) or local (255).
public struct RoutingTable: ConfigLiteral {
    public let value: UInt32

    public init(parsing text: String) throws(ConfigTextProblem) {
        guard let value = UInt32(text), (1...252).contains(value) || (256...0x7fff_ffff).contains(value) else {
            throw ConfigTextProblem("\(text.debugDescription) must be 1...252 or 256...2^31 (not main/local/default)")
        }
        self.value = value
    }

    public var text: String { String(value) }
}
