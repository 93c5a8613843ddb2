import IPC

extension NetfilterExecutor {
    /// The executor's one reply to one command, encoded with `WireWriter` as one
    /// message on `ExecutorChannel`:
    ///
    ///     u32 status (the i32's bits) | blob output (≤ maxOutput)
    ///
    /// `status` is the program's exit status (128 + n for signal n), 1 when it could not
    /// be run, `refusedStatus` for a command the executor refused without running anything.
    struct Result: Equatable, Sendable {
        var status: Int32
        /// Combined stdout and stderr, as the program wrote them (cut at `maxOutput`).
        var bytes: [UInt8]

        static let maxOutput = 32 << 20
        static let maxEncodedSize = 4 + 4 + maxOutput
        static let refusedStatus: Int32 = 2

        var succeeded: Bool { status == 0 }
        var output: String { String(decoding: bytes, as: UTF8.self) }

        /// What the executor answers to a command it will not run.
        static func refused(_ error: IPCError) -> Result {
            Result(status: refusedStatus, bytes: Array("the netfilter executor refused the command: \(error)".utf8))
        }

        /// Only for `bytes` within `maxOutput`.
        func encoded() -> [UInt8] {
            var w = WireWriter()
            w.u32(UInt32(bitPattern: status))
            w.blob(bytes)
            return w.bytes
        }

        static func decode(_ body: [UInt8]) throws(IPCError) -> Result {
            var r = WireReader(body[...])
            let status = Int32(bitPattern: try r.u32())
            let bytes = try r.blob(max: maxOutput)
            try r.finish()
            return Result(status: status, bytes: bytes)
        }
    }
}
