import IPC
#if canImport(Glibc)
import Glibc
#endif

/// Every directory above a socket the helper binds or connects to must be root's
/// and writable by root only: otherwise someone else could swap the socket file,
/// or a directory on its path, under the helper. (Sticky directories such as /tmp
/// are refused too: the helper could not remove its own socket from one later.)
enum RootOnlyDirectories {
    static func check(_ path: String, configKey: String) throws(Refusal) {
        var directories = ["/"]
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix += "/" + component
            directories.append(prefix)
        }
        for directory in directories {
            var st = stat()
            guard stat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
                throw Refusal(.systemError, "\(directory) (on the path of \(configKey)) is not a directory")
            }
            guard st.st_uid == 0, st.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
                throw Refusal(.conflict, "\(directory) must belong to root and be writable by root only (\(configKey)); pick a directory such as /run")
            }
        }
    }
}
