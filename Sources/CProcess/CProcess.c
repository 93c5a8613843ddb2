#define _GNU_SOURCE
#include "CProcess.h"
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int bh_prctl(int option, unsigned long arg2) { return prctl(option, arg2, 0, 0, 0); }
int bh_clear_ambient(void) { return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); }
int bh_raise_ambient(int cap) { return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0, 0); }
int bh_unblock_all_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL);
}
int bh_setresuid(uid_t uid) { return setresuid(uid, uid, uid); }
int bh_setresgid(gid_t gid) { return setresgid(gid, gid, gid); }
int bh_close_from(int lowfd) { return (int)syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0); }

void bh_close_inherited(int keep) {
    if (keep > 3) syscall(SYS_close_range, 3U, (unsigned)(keep - 1), 0);
    syscall(SYS_close_range, (unsigned)(keep >= 3 ? keep + 1 : 3), ~0U, 0);
}

int bh_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int bh_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    return n == (ssize_t)sizeof(info) ? (int)info.ssi_signo : 0;
}

int bh_unshare_user_namespace(void) { return unshare(CLONE_NEWUSER); }
long bh_raw_syscall(long number, long a, long b, long c) { return syscall(number, a, b, c); }

int bh_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC); }
int bh_eventfd(void) { return eventfd(0, EFD_CLOEXEC); }
