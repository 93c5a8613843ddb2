#ifndef BULKHEAD_CPROCESS_H
#define BULKHEAD_CPROCESS_H
#include <stdint.h>
#include <sys/types.h>
#include <sys/signalfd.h>

/* Process-control calls that Glibc does not import into Swift (GNU-only or variadic). */
int bh_prctl(int option, unsigned long arg2);
int bh_setresuid(uid_t uid);
int bh_setresgid(gid_t gid);
int bh_close_from(int lowfd);
/* Closes every fd above 2 except `keep` (-1 keeps none). */
void bh_close_inherited(int keep);
/* A signalfd for signals already blocked; returns the fd or -1. */
int bh_signalfd(const int *signals, int count);
/* Reads one signal number from a signalfd; 0 when none is pending. */
int bh_signalfd_read(int fd);
/* unshare(CLONE_NEWUSER): used only to prove the sandbox forbids it. */
/* A raw syscall by number with three arguments: only to prove the sandbox forbids it. */
long bh_raw_syscall(long number, long a, long b, long c);
int bh_unshare_user_namespace(void);

/* accept4(SOCK_CLOEXEC), and an eventfd (close-on-exec) used to wake poll loops. */
int bh_accept(int listener);
int bh_eventfd(void);

/* prctl options the helper (and the agent's filter) use, re-exported with stable names. */
enum {
    BH_PR_SET_NO_NEW_PRIVS = 38,
    BH_PR_SET_KEEPCAPS = 8,
    BH_PR_SET_DUMPABLE = 4,
    BH_PR_SET_PDEATHSIG = 1,
    BH_PR_CAPBSET_READ = 23,
    BH_PR_CAPBSET_DROP = 24,
    BH_PR_SET_SECUREBITS = 28,
    BH_PR_SET_NAME = 15,
    BH_PR_GET_NAME = 16,
};
/* Values the agent's seccomp filter compares (sched.h hides CLONE_* without _GNU_SOURCE). */
enum {
    BH_CLONE_THREAD = 0x00010000,
    /* CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET */
    BH_CLONE_NEW_NAMESPACES = 0x7e020000,
    BH_NETLINK_ROUTE = 0,
};
/* Drops all ambient capabilities. */
int bh_clear_ambient(void);
/* Raises `cap` in the ambient set (it must be permitted and inheritable). */
int bh_raise_ambient(int cap);
/* Unblocks every signal: a forked child must not keep the helper's signalfd mask
   (it survives execve). */
int bh_unblock_all_signals(void);
#endif
