#if canImport(Glibc)
import Glibc
#endif

/// A local account, resolved from the password/group databases before the helper
/// drops privileges (afterwards it can no longer read them).
struct Account: Equatable {
    var name: String
    var uid: uid_t
    var gid: gid_t
    var home: String

    static func named(_ name: String) -> Account? {
        if let uid = UInt32(name) { return byUID(uid) }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return Account(name: name, uid: entry.pw_uid, gid: entry.pw_gid, home: String(cString: entry.pw_dir))
    }

    static func byUID(_ uid: uid_t) -> Account? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return Account(name: String(cString: entry.pw_name), uid: uid, gid: entry.pw_gid, home: String(cString: entry.pw_dir))
    }

    static func groupID(_ name: String) -> gid_t? {
        if let gid = UInt32(name) { return gid }
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return entry.gr_gid
    }
}
