#ifndef BULKHEAD_CFDPASS_H
#define BULKHEAD_CFDPASS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Flags reported by bh_recv_with_fd about the message just read. */
enum {
    BH_RECV_TRUNCATED = 1,       /* payload did not fit the buffer (MSG_TRUNC) */
    BH_RECV_CTRUNCATED = 2,      /* control data was cut (MSG_CTRUNC); any fd closed */
    BH_RECV_EXTRA_FDS = 4,       /* more than one fd arrived; all of them closed */
};

/* Sends one message (one SOCK_SEQPACKET record) with at most one fd (-1 for none);
   with nonblocking set, fails with EAGAIN instead of waiting for a slow reader.
   Returns bytes sent, or -1 with errno set. Never raises SIGPIPE. */
ssize_t bh_send_with_fd(int sock, const void *buf, size_t len, int fd, int nonblocking);

/* Receives one message. *fd_out is the single fd that came with it, or -1.
   Received fds are close-on-exec. Returns bytes read (0 on EOF) or -1 with errno. */
ssize_t bh_recv_with_fd(int sock, void *buf, size_t len, int *fd_out, int *flags_out);

/* SO_PEERCRED of a connected AF_UNIX socket. Returns 0, or -1 with errno. */
int bh_peer_cred(int fd, uint32_t *uid, uint32_t *gid, int32_t *pid);

/* Socket domain and type of fd (SO_DOMAIN, SO_TYPE). Returns 0, or -1 with errno. */
int bh_socket_kind(int fd, int *domain, int *type);

/* A NETLINK_SOCK_DIAG socket (close-on-exec) for bh_unix_socket_vfs. Returns the fd or -1. */
int bh_open_sock_diag(void);

/* An AF_UNIX datagram socket (close-on-exec, non-blocking) connected to the service
   manager's notify socket: a path, or an abstract name when `address` starts with '@'.
   Returns the fd, -2 for an address that does not fit, or -1 with errno. */
int bh_connect_notify(const char *address);

/* Which socket file a Unix socket is bound to, as the kernel records it: for an
   accepted connection, the file its listener was bound to. Asks sock_diag
   (UDIAG_SHOW_VFS) over diag_fd. Returns 0 and sets *ino, *dev_major, *dev_minor
   (comparable with lstat's st_ino, major(st_dev), minor(st_dev)); 1 when the
   socket is not bound to a file; -1 with errno on failure. */
int bh_unix_socket_vfs(int diag_fd, int fd, uint32_t *ino, uint32_t *dev_major, uint32_t *dev_minor);

/* SIOCUNIXFILE: an O_PATH fd (close-on-exec) of the file a Unix socket is bound to
   (for an accepted connection: its listener's file), whatever network namespace the
   socket lives in. Needs CAP_NET_ADMIN over that namespace. Returns the fd or -1. */
int bh_unix_socket_file(int fd);
/* The ioctl number above, for a seccomp filter that allows only it. */
unsigned long bh_siocunixfile(void);

/* Binds an AF_UNIX stream socket to path (the caller listens). Returns the fd or -1 with errno. */
int bh_bind_unix(const char *path);

/* Connects an AF_UNIX stream socket to path, non-blocking. Returns the fd or -1 with errno. */
int bh_connect_unix(const char *path);

/* Binds a TCP socket (SO_REUSEADDR) to a numeric IPv4/IPv6 address (the caller listens).
   Returns the fd, -1 with errno, or -2 when the address does not parse. */
int bh_bind_tcp(const char *address, uint16_t port);

#endif
