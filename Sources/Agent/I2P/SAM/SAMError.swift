/// Why a SAM exchange failed, in words fit for the log and for `i2p status`.
enum SAMError: Error, Equatable, CustomStringConvertible {
    /// The bridge answered, but not OK (`CANT_REACH_PEER`, `INVALID_KEY`, `I2P_ERROR`...).
    case refused(result: String, message: String?)
    /// The bridge sent something that is not a SAM reply (too long, not ASCII, bad fields).
    case malformed(String)
    /// The socket closed before the reply.
    case closed
    /// No reply within the time allowed.
    case timedOut(String)
    /// Nothing was sent: the request itself cannot be made (unknown container, session down...).
    case unavailable(String)

    var description: String {
        switch self {
        case .refused(let result, let message?): "SAM answered \(result) (\(message))"
        case .refused(let result, nil): "SAM answered \(result)"
        case .malformed(let what): "SAM sent \(what)"
        case .closed: "the SAM bridge closed the connection"
        case .timedOut(let what): "no answer from the SAM bridge to \(what) in time"
        case .unavailable(let why): why
        }
    }
}
