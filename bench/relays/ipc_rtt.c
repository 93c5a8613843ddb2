/* make bench: the IPC round trip, against its floor on this machine.
     ipc_rtt HELPER CONFIG COUNT
   Prints four medians in microseconds, each over COUNT round trips on an
   AF_UNIX SOCK_SEQPACKET pair:
     floor-block  two bare processes echoing 16 bytes, the caller asleep in recv
     floor-spin   the same, the caller checking without sleeping (busy polling)
     helper-block the real sandboxed helper (run with --ipc-fd) answering
                  helperCounters, the caller asleep in recv
     helper-spin  the same, the caller checking without sleeping first
   The floors show what the scheduler's wake-up costs here, whatever the helper does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Waits for `fd` to be readable: spinning (with sched_yield) for up to 250 us first when `spin`. */
static void await_readable(int fd, int spin) {
    if (!spin) return;
    double until = now_us() + 250;
    struct pollfd ready = {.fd = fd, .events = POLLIN};
    while (poll(&ready, 1, 0) == 0 && now_us() < until) sched_yield();
}

static ssize_t ask(int fd, const unsigned char *record, size_t length, unsigned char *reply, int spin) {
    if (send(fd, record, length, 0) != (ssize_t)length) return -1;
    await_readable(fd, spin);
    return recv(fd, reply, 4096, 0);
}

static double median_of(double *times, int count) {
    qsort(times, count, sizeof *times, by_value);
    return times[count / 2];
}

static double floor_rtt(int count, int spin) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return -1;
    pid_t echo = fork();
    if (echo == 0) {
        unsigned char buffer[64];
        close(pair[0]);
        for (;;) {
            ssize_t n = recv(pair[1], buffer, sizeof buffer, 0);
            if (n <= 0) _exit(0);
            send(pair[1], buffer, n, 0);
        }
    }
    close(pair[1]);
    double *times = malloc(count * sizeof *times);
    unsigned char record[16] = {0}, reply[4096];
    for (int i = 0; i < count; i++) {
        double t = now_us();
        ask(pair[0], record, sizeof record, reply, spin);
        times[i] = now_us() - t;
    }
    close(pair[0]);
    waitpid(echo, NULL, 0);
    double median = median_of(times, count);
    free(times);
    return median;
}

/* A request frame: length, version 1, kind 1 (request), type, id; then the payload. */
static size_t frame(unsigned char *out, uint16_t type, uint32_t id, const unsigned char *payload, size_t n) {
    uint32_t length = 12 + n;
    out[0] = length >> 24; out[1] = length >> 16; out[2] = length >> 8; out[3] = length;
    out[4] = 1; out[5] = 1; out[6] = type >> 8; out[7] = type;
    out[8] = id >> 24; out[9] = id >> 16; out[10] = id >> 8; out[11] = id;
    memcpy(out + 12, payload, n);
    return 12 + n;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s HELPER CONFIG COUNT\n", argv[0]);
        return 2;
    }
    int count = atoi(argv[3]);
    if (count < 1 || count > 1000000) return 2;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0) return 1;
    pid_t helper = fork();
    if (helper == 0) {
        char fd[16];
        snprintf(fd, sizeof fd, "%d", pair[1]);
        close(pair[0]);
        int quiet = open("/dev/null", O_WRONLY);  /* its log lines are not the bench's output */
        dup2(quiet, 1);
        dup2(quiet, 2);
        execl(argv[1], argv[1], "run", "--config", argv[2], "--ipc-fd", fd, (char *)NULL);
        _exit(127);
    }
    close(pair[1]);
    unsigned char record[64], reply[4096];
    const unsigned char version = 1;
    uint32_t id = 1;
    ssize_t n = ask(pair[0], record, frame(record, 0x0001, id++, &version, 1), reply, 0);  /* hello */
    if (n < 12 || reply[5] != 2) {
        fprintf(stderr, "ipc_rtt: the helper did not answer hello\n");
        return 1;
    }
    double results[2];
    for (int spin = 0; spin < 2; spin++) {
        double *times = malloc(count * sizeof *times);
        for (int i = 0; i < count; i++) {
            size_t length = frame(record, 0x0501, id++, NULL, 0);
            double t = now_us();
            n = ask(pair[0], record, length, reply, spin);
            times[i] = now_us() - t;
            if (n < 12) {
                fprintf(stderr, "ipc_rtt: no reply to helperCounters\n");
                return 1;
            }
        }
        results[spin] = median_of(times, count);
        free(times);
    }
    close(pair[0]);
    waitpid(helper, NULL, 0);
    printf("floor-block %.1f floor-spin %.1f helper-block %.1f helper-spin %.1f\n",
           floor_rtt(count, 0), floor_rtt(count, 1), results[0], results[1]);
    return 0;
}
