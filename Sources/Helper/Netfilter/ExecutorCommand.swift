import IPC

extension NetfilterExecutor {
    /// The executor's whole request vocabulary: one case per fixed program (or the one
    /// sysctl write), never a program name, shell words or a free path. Encoded with
    /// `WireWriter` as one message on `ExecutorChannel`:
    ///
    ///     u8 tag | fields
    ///     1 restore    blob input (UTF-8, ≤ maxInput)
    ///     2 save       -
    ///     3 ip         u16 count (1…maxArguments), count × string (≤ maxArgument, no NUL)
    ///     4 sysctl     string path (≤ maxPath, under /proc/sys/net/), string value (≤ maxValue, no NUL)
    ///     5 restore6   blob input
    ///     6 save6      -
    ///
    /// `decode` refuses an unknown tag, a field over its bound, a short payload,
    /// trailing bytes, and anything `check` refuses; the executor runs nothing it refuses.
    enum Command: Equatable, Sendable {
        /// `iptables-restore --noflush -w 5` with `input` on stdin.
        case restore(input: String)
        /// `iptables-save` (every table: iptables-nft reads the whole ruleset anyway).
        case save
        /// `ip` with these arguments (rendered by the helper), each one argv entry.
        case ip([String])
        /// Writes `value` to a file under /proc/sys/net/.
        case sysctl(path: String, value: String)
        /// `ip6tables-restore --noflush -w 5` with `input` on stdin (the i2p plugin's IPv6 drops).
        case restore6(input: String)
        /// `ip6tables-save` (every table).
        case save6

        enum Tag: UInt8, CaseIterable {
            case restore = 1, save = 2, ip = 3, sysctl = 4, restore6 = 5, save6 = 6
        }

        static let maxInput = 32 << 20
        static let maxArguments = 64
        static let maxArgument = 1024
        static let maxPath = 256
        static let maxValue = 256
        static let sysctlRoot = "/proc/sys/net/"
        /// The largest encoded command: a restore with the largest input.
        static let maxEncodedSize = 1 + 4 + maxInput

        var tag: Tag {
            switch self {
            case .restore: .restore
            case .save: .save
            case .ip: .ip
            case .sysctl: .sysctl
            case .restore6: .restore6
            case .save6: .save6
            }
        }

        /// Only for a command `check` accepts (its strings then fit the wire's u16 lengths).
        func encoded() -> [UInt8] {
            var w = WireWriter()
            w.u8(tag.rawValue)
            switch self {
            case .restore(let input), .restore6(let input): w.blob(Array(input.utf8))
            case .save, .save6: break
            case .ip(let arguments):
                w.u16(UInt16(arguments.count))
                for argument in arguments { w.string(argument) }
            case .sysctl(let path, let value): w.string(path); w.string(value)
            }
            return w.bytes
        }

        static func decode(_ body: [UInt8]) throws(IPCError) -> Command {
            var r = WireReader(body[...])
            let raw = try r.u8()
            guard let tag = Tag(rawValue: raw) else { throw .unknownType(UInt16(raw)) }
            let command: Command
            switch tag {
            case .restore: command = .restore(input: try text(&r))
            case .save: command = .save
            case .ip:
                let count = Int(try r.u16())
                guard (1...maxArguments).contains(count) else { throw .malformed("ip needs 1 to \(maxArguments) arguments, not \(count)") }
                var arguments: [String] = []
                for _ in 0..<count { arguments.append(try r.string(max: maxArgument)) }
                command = .ip(arguments)
            case .sysctl: command = .sysctl(path: try r.string(max: maxPath), value: try r.string(max: maxValue))
            case .restore6: command = .restore6(input: try text(&r))
            case .save6: command = .save6
            }
            try r.finish()
            try command.check()
            return command
        }

        /// The rules the executor holds every command to, whoever built it: bounds, no
        /// NUL where C would cut a string (an argument or a path must arrive whole), and
        /// a sysctl path under /proc/sys/net/ with no way out of it.
        func check() throws(IPCError) {
            switch self {
            case .restore(let input), .restore6(let input):
                guard input.utf8.count <= Self.maxInput else { throw .malformed("restore input of \(input.utf8.count) bytes exceeds \(Self.maxInput)") }
            case .save, .save6: break
            case .ip(let arguments):
                guard (1...Self.maxArguments).contains(arguments.count) else {
                    throw .malformed("ip needs 1 to \(Self.maxArguments) arguments, not \(arguments.count)")
                }
                for argument in arguments {
                    guard argument.utf8.count <= Self.maxArgument else { throw .malformed("ip argument of \(argument.utf8.count) bytes exceeds \(Self.maxArgument)") }
                    guard !argument.utf8.contains(0) else { throw .malformed("ip argument contains NUL") }
                }
            case .sysctl(let path, let value):
                guard path.utf8.count <= Self.maxPath, Self.isNetSysctlPath(path) else {
                    throw .malformed("sysctl path \(path.debugDescription) is not a file under \(Self.sysctlRoot)")
                }
                guard value.utf8.count <= Self.maxValue else { throw .malformed("sysctl value of \(value.utf8.count) bytes exceeds \(Self.maxValue)") }
                guard !value.utf8.contains(0) else { throw .malformed("sysctl value contains NUL") }
            }
        }

        /// Under /proc/sys/net/, no ".." anywhere, no NUL, every component after the root
        /// non-empty and not ".". Checked on the bytes open(2) will see.
        static func isNetSysctlPath(_ path: String) -> Bool {
            let bytes = Array(path.utf8), root = Array(sysctlRoot.utf8), dot = UInt8(ascii: ".")
            guard bytes.starts(with: root), !bytes.contains(0),
                  !zip(bytes, bytes.dropFirst()).contains(where: { $0 == dot && $1 == dot }) else { return false }
            let components = bytes[root.count...].split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            return components.allSatisfy { !$0.isEmpty && !$0.elementsEqual([dot]) }
        }

        /// A restore input: a bounded blob that must be UTF-8 (the helper renders text).
        private static func text(_ r: inout WireReader) throws(IPCError) -> String {
            let bytes = try r.blob(max: maxInput)
            guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformed("restore input is not valid UTF-8") }
            return text
        }
    }
}
