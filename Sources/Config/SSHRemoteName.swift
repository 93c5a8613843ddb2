import IPC

/// A remote's short name; the helper's listener for its local socket is `ssh-NAME`.
public struct SSHRemoteName: ConfigLiteral {
    public let text: String
    /// `ssh-NAME`.
    public let listener: ListenerName

    public init(parsing text: String) throws(ConfigTextProblem) {
        guard text.count <= 28, ListenerName(text) != nil, let listener = ListenerName("ssh-" + text) else {
            throw ConfigTextProblem("\(text.debugDescription) must be [a-z][a-z0-9_-]{0,27}")
        }
        self.text = text
        self.listener = listener
    }
}
