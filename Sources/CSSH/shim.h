/* libssh, client side. server.h is included only for ssh_send_keepalive(),
   which sends keepalive@openssh.com and is usable by clients too; callbacks.h
   for the channel callbacks the link uses to notice activity. */
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>
