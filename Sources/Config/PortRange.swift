import IPC

/// One entry of `netwatch.dnat_allowed_ports`: "8080", "5353/udp" or "9000-9100/tcp"
/// (tcp when no protocol is given, as in the DNAT ports label).
public struct PortRange: ConfigLiteral {
    public let ports: ClosedRange<UInt16>
    public let proto: NetProtocol

    public init(ports: ClosedRange<UInt16>, proto: NetProtocol) { self.ports = ports; self.proto = proto }

    public func contains(_ port: UInt16, _ proto: NetProtocol) -> Bool { proto == self.proto && ports.contains(port) }

    public var text: String {
        ports.count == 1 ? "\(ports.lowerBound)/\(proto)" : "\(ports.lowerBound)-\(ports.upperBound)/\(proto)"
    }

    public init(parsing text: String) throws(ConfigTextProblem) {
        func refuse(_ why: String) -> ConfigTextProblem {
            ConfigTextProblem("\(text.debugDescription): \(why) (e.g. \"8080/tcp\", \"5353/udp\", \"9000-9100/tcp\")")
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { throw refuse("not PORT[/PROTOCOL] or LOW-HIGH[/PROTOCOL]") }
        var proto = NetProtocol.tcp
        if parts.count == 2 {
            guard let p = NetProtocol(name: String(parts[1])) else { throw refuse("protocol \(String(parts[1]).debugDescription) is not tcp or udp") }
            proto = p
        }
        let bounds = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(bounds.count) else { throw refuse("not PORT[/PROTOCOL] or LOW-HIGH[/PROTOCOL]") }
        var values: [UInt16] = []
        for bound in bounds {
            guard bound.allSatisfy(\.isASCII), let v = Int(bound), (1...65535).contains(v) else {
                throw refuse("port \(String(bound).debugDescription) is not 1...65535")
            }
            values.append(UInt16(v))
        }
        guard values[0] <= values[values.count - 1] else { throw refuse("range \(String(parts[0]).debugDescription) ends before it starts") }
        self.init(ports: values[0]...values[values.count - 1], proto: proto)
    }
}

extension [PortRange] {
    /// Whether an allow-list lets DNAT take `port`.
    public func allows(_ port: UInt16, _ proto: NetProtocol) -> Bool { contains { $0.contains(port, proto) } }
}
