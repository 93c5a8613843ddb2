/* make bench: the simplest relays a Unix socket can have, as the floor the
   router is compared with. One process per connection, one thread per
   direction, blocking calls, no limits, no checks: a measuring stick only,
   never a product.
     minimal_relay copy   LISTEN TARGET   read(2)/write(2) through a 64 KiB buffer
     minimal_relay splice LISTEN TARGET   splice(2) socket -> pipe -> socket
   End of input becomes shutdown(SHUT_WR) on the other side, as in the router. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int use_splice;

struct direction { int from, to; };

static void *copy_bytes(void *arg) {
    struct direction *d = arg;
    char buffer[65536];
    for (;;) {
        ssize_t n = read(d->from, buffer, sizeof buffer);
        if (n <= 0) break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(d->to, buffer + done, n - done);
            if (w <= 0) return NULL;
            done += w;
        }
    }
    shutdown(d->to, SHUT_WR);
    return NULL;
}

static void *splice_bytes(void *arg) {
    struct direction *d = arg;
    int pipefd[2];
    if (pipe(pipefd) != 0) return NULL;
    for (;;) {
        ssize_t n = splice(d->from, NULL, pipefd[1], NULL, 65536, SPLICE_F_MOVE);
        if (n <= 0) break;
        while (n > 0) {
            ssize_t w = splice(pipefd[0], NULL, d->to, NULL, n, SPLICE_F_MOVE);
            if (w <= 0) return NULL;
            n -= w;
        }
    }
    shutdown(d->to, SHUT_WR);
    return NULL;
}

static void reap(int signal) {
    (void)signal;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    errno = saved;
}

static int unix_socket(const char *path, struct sockaddr_un *address) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    strncpy(address->sun_path, path, sizeof address->sun_path - 1);
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static void serve(int client, const char *target) {
    struct sockaddr_un address;
    int upstream = unix_socket(target, &address);
    if (connect(upstream, (struct sockaddr *)&address, sizeof address) != 0) _exit(1);
    struct direction up = {client, upstream}, down = {upstream, client};
    void *(*move)(void *) = use_splice ? splice_bytes : copy_bytes;
    pthread_t thread;
    pthread_create(&thread, NULL, move, &up);
    move(&down);
    pthread_join(thread, NULL);
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "copy") && strcmp(argv[1], "splice"))) {
        fprintf(stderr, "usage: %s copy|splice LISTEN_PATH TARGET_PATH\n", argv[0]);
        return 2;
    }
    use_splice = strcmp(argv[1], "splice") == 0;
    /* Children are reaped as they end, so their CPU time shows in this process's
       cutime/cstime (/proc/PID/stat), which the bench reads. */
    struct sigaction on_child = {.sa_handler = reap};
    sigaction(SIGCHLD, &on_child, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_un address;
    int listener = unix_socket(argv[2], &address);
    unlink(argv[2]);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 512) != 0) {
        perror("bind/listen");
        return 1;
    }
    chmod(argv[2], 0600);
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) continue;
        if (fork() == 0) {
            close(listener);
            serve(client, argv[3]);
        }
        close(client);
    }
}
