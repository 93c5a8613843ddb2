#define _GNU_SOURCE
#include "CFDPass.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#ifndef SIOCUNIXFILE
#define SIOCUNIXFILE (SIOCPROTOPRIVATE + 0)  /* linux/un.h, which clashes with sys/un.h */
#endif

/* Room for a few fds so that a sender who attaches more than one is detected
   (and every extra fd closed) instead of silently truncated. */
#define BH_MAX_FDS_SEEN 8

ssize_t bh_send_with_fd(int sock, const void *buf, size_t len, int fd, int nonblocking) {
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
    if (fd >= 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0)); } while (n < 0 && errno == EINTR);
    return n;
}

ssize_t bh_recv_with_fd(int sock, void *buf, size_t len, int *fd_out, int *flags_out) {
    *fd_out = -1;
    *flags_out = 0;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * BH_MAX_FDS_SEEN)]; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    int kept = -1, extra = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (kept < 0 && !extra) { kept = fd; } else { close(fd); extra = 1; }
        }
    }
    if (extra && kept >= 0) { close(kept); kept = -1; }
    if (msg.msg_flags & MSG_TRUNC) *flags_out |= BH_RECV_TRUNCATED;
    if (msg.msg_flags & MSG_CTRUNC) {
        *flags_out |= BH_RECV_CTRUNCATED;
        if (kept >= 0) { close(kept); kept = -1; }
    }
    if (extra) *flags_out |= BH_RECV_EXTRA_FDS;
    *fd_out = kept;
    return n;
}

int bh_peer_cred(int fd, uint32_t *uid, uint32_t *gid, int32_t *pid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *uid = cred.uid; *gid = cred.gid; *pid = cred.pid;
    return 0;
}

int bh_socket_kind(int fd, int *domain, int *type) {
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, domain, &len) != 0) return -1;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &len) != 0) return -1;
    return 0;
}

int bh_unix_socket_file(int fd) { return ioctl(fd, SIOCUNIXFILE); }
unsigned long bh_siocunixfile(void) { return SIOCUNIXFILE; }

static int fill_unix_addr(struct sockaddr_un *addr, const char *path) {
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(addr->sun_path)) { errno = ENAMETOOLONG; return -1; }
    memcpy(addr->sun_path, path, n);
    return 0;
}

int bh_bind_unix(const char *path) {
    struct sockaddr_un addr;
    if (fill_unix_addr(&addr, path) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int saved = errno; close(fd); errno = saved; return -1;
    }
    return fd;
}

int bh_connect_unix(const char *path) {
    struct sockaddr_un addr;
    if (fill_unix_addr(&addr, path) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int saved = errno; close(fd); errno = saved; return -1;
    }
    return fd;
}

int bh_bind_tcp(const char *address, uint16_t port) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons(port); len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons(port); len = sizeof(*v6);
    } else {
        return -2;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int saved = errno; close(fd); errno = saved; return -1;
    }
    return fd;
}

int bh_open_sock_diag(void) {
    return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

int bh_unix_socket_vfs(int diag_fd, int fd, uint32_t *ino, uint32_t *dev_major, uint32_t *dev_minor) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } request;
    memset(&request, 0, sizeof(request));
    request.nlh.nlmsg_len = sizeof(request);
    request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.nlh.nlmsg_flags = NLM_F_REQUEST;
    request.nlh.nlmsg_seq = (uint32_t)st.st_ino;
    request.req.sdiag_family = AF_UNIX;
    request.req.udiag_states = ~0U;
    request.req.udiag_ino = (uint32_t)st.st_ino;  /* the sockfs inode of fd */
    request.req.udiag_show = UDIAG_SHOW_VFS;
    request.req.udiag_cookie[0] = request.req.udiag_cookie[1] = ~0U;  /* no cookie check */
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    struct iovec out = { .iov_base = &request, .iov_len = sizeof(request) };
    struct msghdr msg = { .msg_name = &kernel, .msg_namelen = sizeof(kernel), .msg_iov = &out, .msg_iovlen = 1 };
    if (sendmsg(diag_fd, &msg, 0) < 0) return -1;

    union { struct nlmsghdr align; char bytes[8192]; } reply;
    struct iovec in = { .iov_base = reply.bytes, .iov_len = sizeof(reply.bytes) };
    struct msghdr rmsg = { .msg_iov = &in, .msg_iovlen = 1 };
    ssize_t n;
    do { n = recvmsg(diag_fd, &rmsg, 0); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    for (struct nlmsghdr *h = &reply.align; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *err = NLMSG_DATA(h);
            errno = err->error ? -err->error : ENOENT;
            return -1;
        }
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_seq != (uint32_t)st.st_ino) continue;
        struct unix_diag_msg *m = NLMSG_DATA(h);
        if (m->udiag_ino != (uint32_t)st.st_ino) continue;
        int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
        for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type != UNIX_DIAG_VFS || RTA_PAYLOAD(a) < sizeof(struct unix_diag_vfs)) continue;
            struct unix_diag_vfs vfs;
            memcpy(&vfs, RTA_DATA(a), sizeof(vfs));
            *ino = vfs.udiag_vfs_ino;
            /* The kernel reports its internal dev_t: major in the top 12 bits, minor in the low 20. */
            *dev_major = vfs.udiag_vfs_dev >> 20;
            *dev_minor = vfs.udiag_vfs_dev & 0xfffff;
            return 0;
        }
        return 1;
    }
    errno = ENOENT;
    return -1;
}

int bh_connect_notify(const char *address) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    size_t n = strlen(address);
    if (n == 0 || n >= sizeof(addr.sun_path)) return -2;
    memcpy(addr.sun_path, address, n);
    /* Abstract: a leading NUL and no terminator, the length says where the name ends. */
    if (address[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (address[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, len) != 0) {
        int saved = errno; close(fd); errno = saved; return -1;
    }
    return fd;
}
