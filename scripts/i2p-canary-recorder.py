#!/usr/bin/env python3
"""i2p-canary-recorder.py — listeners that record every connection, datagram and DNS
query they get, one line each, for scripts/i2p-canary.sh (stdlib only).

    i2p-canary-recorder.py --log FILE [--user nobody]
        [--tcp ADDR:PORT]... [--udp ADDR:PORT]... [--dns ADDR:PORT]...

--tcp: accepts, reads up to 256 bytes (2 s), closes. --udp: reads datagrams. --dns: UDP and
TCP on the same address and port; each query is answered REFUSED (so a probe can tell it
reached this server). Every event is a line in FILE (appended, flushed at once):

    <unix time> <kind> <local addr:port> <peer addr:port> <detail>

kind: tcp, udp, dns-udp, dns-tcp. The sockets are bound first, then the process drops to
--user (no supplementary groups). Nothing is ever sent except the answer to a peer.
Prints "ready" on stdout once every socket is bound.
"""
import argparse
import os
import pwd
import socket
import sys
import threading
import time

LOCK = threading.Lock()
LOG = None


def record(kind, local, peer, detail=""):
    line = "%.3f %s %s %s %s\n" % (time.time(), kind, fmt(local), fmt(peer), detail)
    with LOCK:
        LOG.write(line)
        LOG.flush()


def fmt(a):
    if not a:
        return "-"
    host, port = a[0], a[1]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h.strip("[]"), int(p)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def qname(msg):
    """The first question's name and type of a DNS message (best effort)."""
    try:
        i, labels = 12, []
        while msg[i]:
            n = msg[i]
            labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qtype = int.from_bytes(msg[i + 1:i + 3], "big")
        return "%s type=%d" % (".".join(labels) or ".", qtype)
    except (IndexError, ValueError):
        return "unparsable(%d bytes)" % len(msg)


def refused(msg):
    """The query with QR=1, RA=0, RCODE=REFUSED and no answer."""
    if len(msg) < 12:
        return None
    flags = (msg[2] | 0x80) & 0xF9  # QR, keep opcode and RD; clear AA and TC
    return msg[:2] + bytes([flags, 0x05]) + msg[4:6] + b"\x00\x00\x00\x00\x00\x00" + msg[12:]


def new_socket(host, kind):
    s = socket.socket(family(host), kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(host) == socket.AF_INET6:  # [::]:P next to 0.0.0.0:P
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return s


def tcp_listener(addr):
    s = new_socket(addr[0], socket.SOCK_STREAM)
    s.bind(addr)
    s.listen(64)
    return s


def udp_socket(addr):
    s = new_socket(addr[0], socket.SOCK_DGRAM)
    s.bind(addr)
    return s


def serve_tcp(s, kind):
    local = s.getsockname()
    while True:
        c, peer = s.accept()
        threading.Thread(target=handle_tcp, args=(c, peer, local, kind), daemon=True).start()


def handle_tcp(c, peer, local, kind):
    data = b""
    try:
        c.settimeout(2)
        try:
            data = c.recv(256) if kind == "tcp" else recv_dns_tcp(c)
        except OSError:
            pass
        if kind == "dns-tcp" and data:
            record(kind, local, peer, qname(data))
            r = refused(data)
            if r:
                c.sendall(len(r).to_bytes(2, "big") + r)
        else:
            record(kind, local, peer, "first-bytes=%r" % data[:64])
    finally:
        c.close()


def recv_dns_tcp(c):
    head = b""
    while len(head) < 2:
        b = c.recv(2 - len(head))
        if not b:
            return b""
        head += b
    n, msg = int.from_bytes(head, "big"), b""
    while len(msg) < n:
        b = c.recv(n - len(msg))
        if not b:
            break
        msg += b
    return msg


def serve_udp(s, kind):
    local = s.getsockname()
    while True:
        data, peer = s.recvfrom(65535)
        if kind == "dns-udp":
            record(kind, local, peer, qname(data))
            r = refused(data)
            if r:
                s.sendto(r, peer)
        else:
            record(kind, local, peer, "bytes=%d first=%r" % (len(data), data[:32]))


def main():
    global LOG
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", required=True)
    p.add_argument("--user")
    p.add_argument("--tcp", action="append", default=[])
    p.add_argument("--udp", action="append", default=[])
    p.add_argument("--dns", action="append", default=[])
    a = p.parse_args()
    LOG = open(a.log, "a", encoding="utf-8")
    jobs = []
    for t in a.tcp:
        jobs.append((serve_tcp, tcp_listener(hostport(t)), "tcp"))
    for u in a.udp:
        jobs.append((serve_udp, udp_socket(hostport(u)), "udp"))
    for d in a.dns:
        jobs.append((serve_udp, udp_socket(hostport(d)), "dns-udp"))
        jobs.append((serve_tcp, tcp_listener(hostport(d)), "dns-tcp"))
    if a.user:
        pw = pwd.getpwnam(a.user)
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    for fn, s, kind in jobs:
        threading.Thread(target=fn, args=(s, kind), daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
