/// The stream a multiplexed frame belongs to: the first byte of Docker's 8-byte
/// frame header (`stdcopy` in the Docker sources).
public enum StreamKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case stdin = 0
    case stdout = 1
    case stderr = 2
    /// Written by the daemon itself (e.g. an exec that failed to start), not by the container.
    case systemError = 3

    public var description: String {
        switch self {
        case .stdin: "stdin"
        case .stdout: "stdout"
        case .stderr: "stderr"
        case .systemError: "system-error"
        }
    }
}
