import CSSH

/// Notices when libssh processes a packet for any channel. A channel call may read
/// the socket and process packets of *other* channels that were already stepped in
/// this pass; without this flag the link would then sleep on a socket that has
/// nothing new while data waits in libssh's buffers.
final class SSHChannelActivity {
    private let flag = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private let callbacks = UnsafeMutablePointer<ssh_channel_callbacks_struct>.allocate(capacity: 1)

    init() {
        flag.initialize(to: 0)
        var cb = ssh_channel_callbacks_struct()
        cb.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        cb.userdata = UnsafeMutableRawPointer(flag)
        // Returning 0 leaves the data in the channel's buffer (and the SSH window
        // closed) until the pump reads it.
        cb.channel_data_function = { _, _, _, _, _, userdata in
            userdata?.assumingMemoryBound(to: Int32.self).pointee = 1
            return 0
        }
        cb.channel_eof_function = { _, _, userdata in userdata?.assumingMemoryBound(to: Int32.self).pointee = 1 }
        cb.channel_close_function = { _, _, userdata in userdata?.assumingMemoryBound(to: Int32.self).pointee = 1 }
        cb.channel_write_wontblock_function = { _, _, _, userdata in
            userdata?.assumingMemoryBound(to: Int32.self).pointee = 1
            return 0
        }
        callbacks.initialize(to: cb)
    }

    deinit {
        callbacks.deallocate()
        flag.deallocate()
    }

    func watch(_ channel: ssh_channel) { ssh_set_channel_callbacks(channel, callbacks) }

    /// Whether anything happened since the last call.
    func take() -> Bool {
        defer { flag.pointee = 0 }
        return flag.pointee != 0
    }
}
