/// Where the observability listener is: a Unix socket path, or ADDRESS:PORT.
public enum MetricsAddress: ConfigLiteral {
    case unix(path: String)
    case tcp(TCPAddress)

    public init(parsing text: String) throws(ConfigTextProblem) {
        if text.hasPrefix("/") { self = .unix(path: text); return }
        do { self = .tcp(try TCPAddress(parsing: text)) } catch {
            throw ConfigTextProblem("\(text.debugDescription) is not NUMERIC-ADDRESS:PORT (e.g. 127.0.0.1:9741, [::1]:9741) or an absolute socket path")
        }
    }

    public var text: String {
        switch self {
        case .unix(let path): path
        case .tcp(let address): address.text
        }
    }
}
