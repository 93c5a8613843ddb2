#ifndef BULKHEAD_CSPLICE_H
#define BULKHEAD_CSPLICE_H
#include <stdint.h>
#include <sys/types.h>

/* The kernel-side relay's calls, which Glibc does not import into Swift:
   splice(2) is GNU-only and struct epoll_event is packed on x86-64. */

/* A pipe with both ends non-blocking and close-on-exec; 0 or -1 (errno). */
int bh_pipe_nonblocking(int fds[2]);
/* Moves up to `len` bytes from `in` to `out` (one of them a pipe) without
   copying through user space, never blocking; the count, 0 at end of input,
   or -1 (errno). */
ssize_t bh_splice(int in, int out, size_t len);
/* Resizes a pipe (F_SETPIPE_SZ); the new capacity, or -1 (EPERM: over the
   per-user pipe quota, or above /proc/sys/fs/pipe-max-size). */
int bh_pipe_resize(int fd, int size);
/* Makes `fd` non-blocking; 0 or -1. */
int bh_set_nonblocking(int fd);

/* epoll, with the event's data as a plain 64-bit token. */
enum {
    BH_EPOLLIN = 0x001,
    BH_EPOLLOUT = 0x004,
    BH_EPOLLERR = 0x008,
    BH_EPOLLHUP = 0x010,
    BH_EPOLLEXCLUSIVE = 1u << 28,
};
int bh_epoll_create(void);
/* op: 1 add, 2 delete, 3 modify (EPOLL_CTL_*). */
int bh_epoll_control(int epfd, int op, int fd, uint32_t events, uint64_t token);
/* Waits for up to `max` events; fills `tokens` and `events`; the count or -1. */
int bh_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms);
#endif
