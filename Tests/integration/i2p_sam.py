#!/usr/bin/env python3
"""i2p_sam.py — a tiny SAM v3 client (stdlib only) for Tests/integration/i2p_testnet_test.sh.

    i2p_sam.py b32 PRIV            print the .b32.i2p address of a SAM private key string
    i2p_sam.py scenario [options]  run the smoke scenario on the private network
                                   (scripts/i2p-testnet.sh) and print "key value" lines
    i2p_sam.py serve [options]     host an HTTP service on a .b32.i2p address (STREAM
                                   FORWARD to a local server that records who called)
    i2p_sam.py fetch [options]     GET a page from a .b32.i2p address over SAM (own session)

serve: a STREAM session on --sam (TRANSIENT, or the PRIV key kept in --keys), FORWARD
(SILENT=false: i2pd writes the caller's destination as the first line of every forwarded
connection) to an HTTP/1.0 server on --listen (i2pd 2.45 connects back to the address the
SAM client came from). Paths: / answers --body; /peer answers the caller's .b32.i2p
address; /bytes/N answers N bytes (a repeated random 1 MiB block). Every request is a line
"<unix time> <caller b32> <path>" in --peer-log. Prints "b32 <address>" and then "ready"
once the FORWARD is in place, and serves until --timeout, SIGTERM or the SAM socket closes.
fetch: a STREAM session on --sam, then CONNECTs to --dest (retried for --retry-for s while
the LeaseSet is not found), GET --path; then --count more requests, each on a new stream,
timed from CONNECT to the first byte. Prints "status", "body_bytes", "body_sha256",
"first_byte_s" (one value per timed request), "fetch_s" and, with --print-body, the body
after a "body" line. Exit 0 only if every answer was HTTP 200.

The scenario, every wait bounded by --timeout:
  1. three STREAM sessions are created in parallel (TRANSIENT, SIGNATURE_TYPE=7,
     i2cp.leaseSetEncType=4,0, tunnels of --length hops, 2 each way): "echo" on
     --sam-echo (it STREAM ACCEPTs and echoes), "client" on --sam-client, and "web" on
     --sam-web, which STREAM FORWARDs (SILENT=true) to an HTTP server this script runs on
     --listen (i2pd 2.45 connects back to the address the SAM client came from);
  2. client STREAM CONNECTs to echo's .b32.i2p (retried while the LeaseSet is not found)
     and exchanges a random message, which must come back byte for byte; the echo side must
     see the client's destination;
  3. through the SOCKS5 proxy --socks (another router), GET http://<web>.b32.i2p/ and check
     the body (--body-size random bytes, sha256).
Timings (seconds) are printed: session_*_s, echo_connect_s (CONNECT sent to STREAM STATUS
OK), echo_first_byte_s (CONNECT sent to the first echoed byte), echo_round_trip_s (a
second message on the open stream), socks_first_byte_s (SOCKS connect to the first HTTP
byte), socks_fetch_s. Exit 0 only if every step worked; errors go to stderr and as
"error_<step> ..." lines.
"""
import argparse
import base64
import hashlib
import http.server
import os
import socket
import sys
import threading
import time

I2P_ALTCHARS = b"-~"


def i2p_b64decode(s):
    s = s.strip()
    return base64.b64decode(s + "=" * (-len(s) % 4), altchars=I2P_ALTCHARS, validate=True)


def public_destination(priv):
    """The public destination (bytes) at the start of a SAM PRIV string: 256 + 128 bytes of
    keys, then the certificate (type, 2-byte length, payload)."""
    raw = i2p_b64decode(priv)
    return raw[:387 + int.from_bytes(raw[385:387], "big")]


def b32_address(dest_bytes):
    return base64.b32encode(hashlib.sha256(dest_bytes).digest()).decode().lower().rstrip("=") + ".b32.i2p"


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


class SamError(Exception):
    pass


def read_line(sock, limit=4096):
    buf = bytearray()
    while True:
        b = sock.recv(1)
        if not b:
            raise SamError("connection closed after %r" % bytes(buf[:200]))
        if b == b"\n":
            return buf.decode("utf-8", "replace").rstrip("\r")
        buf += b
        if len(buf) > limit:
            raise SamError("line too long")


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        b = sock.recv(n - len(buf))
        if not b:
            raise SamError("EOF after %d of %d bytes" % (len(buf), n))
        buf += b
    return bytes(buf)


def recv_to_eof(sock):
    """Yields what sock receives (up to 64 KiB at a time) until the peer closes it."""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        yield data


def sam_connect(sam, timeout):
    s = socket.create_connection(sam, timeout=timeout)
    s.settimeout(timeout)
    s.sendall(b"HELLO VERSION MIN=3.1 MAX=3.3\n")
    reply = read_line(s)
    if not reply.startswith("HELLO REPLY RESULT=OK"):
        s.close()
        raise SamError("HELLO: " + reply)
    return s


def fields(reply):
    out = {}
    for tok in reply.split(" "):
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


class Session:
    """A STREAM session; the control socket stays open for the session's life."""

    def __init__(self, sam, sid, length, timeout, destination="TRANSIENT"):
        self.sam, self.id = sam, sid
        t0 = time.monotonic()
        self.ctl = sam_connect(sam, timeout)
        opts = ("SIGNATURE_TYPE=7 i2cp.leaseSetEncType=4,0 inbound.length=%d outbound.length=%d "
                "inbound.quantity=2 outbound.quantity=2" % (length, length))
        self.ctl.sendall(("SESSION CREATE STYLE=STREAM ID=%s DESTINATION=%s %s\n" % (sid, destination, opts)).encode())
        reply = read_line(self.ctl, limit=8192)
        if not reply.startswith("SESSION STATUS RESULT=OK"):
            raise SamError("SESSION CREATE on %s:%d: %s" % (sam[0], sam[1], reply[:200]))
        self.created_s = time.monotonic() - t0
        self.priv = fields(reply)["DESTINATION"]
        self.dest = public_destination(self.priv)
        self.b32 = b32_address(self.dest)
        self.ctl.settimeout(None)

    def stream(self, command, timeout, args=""):
        """STREAM <command> ID=<id> <args> on a new socket; SILENT=false unless args set it."""
        s = sam_connect(self.sam, timeout)
        if "SILENT=" not in args:
            args = (args + " SILENT=false").strip()
        s.sendall(("STREAM %s ID=%s %s\n" % (command, self.id, args)).encode())
        reply = read_line(s)
        if not reply.startswith("STREAM STATUS RESULT=OK"):
            s.close()
            raise SamError("STREAM %s: %s" % (command.split()[0], reply))
        return s

    def close(self):
        self.ctl.close()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    body = b""
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


def socks5_connect(proxy, host, port, timeout):
    s = socket.create_connection(proxy, timeout=timeout)
    s.settimeout(timeout)
    s.sendall(b"\x05\x01\x00")
    if recv_exact(s, 2) != b"\x05\x00":
        raise SamError("SOCKS5: no-auth method refused")
    h = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + port.to_bytes(2, "big"))
    head = recv_exact(s, 4)
    if head[1] != 0:
        s.close()
        raise SamError("SOCKS5 CONNECT: reply code %d" % head[1])
    atyp = head[3]
    n = 4 if atyp == 1 else 16 if atyp == 4 else recv_exact(s, 1)[0]
    recv_exact(s, n + 2)
    return s


def scenario(a):
    out = {}
    errors = []

    def emit(k, v):
        out[k] = v
        print(k, v, flush=True)

    def err(step, msg):
        errors.append(step)
        print("error_%s %s" % (step, msg), flush=True)
        print("%s: %s" % (step, msg), file=sys.stderr, flush=True)

    deadline = time.monotonic() + a.timeout

    def left():
        return max(1.0, deadline - time.monotonic())

    # HTTP server for the forwarded destination.
    QuietHandler.body = os.urandom(a.body_size)
    httpd = http.server.ThreadingHTTPServer((a.listen, 0), QuietHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    http_port = httpd.server_address[1]

    # 1. Sessions, in parallel (i2pd 2.45 answers SESSION CREATE about 20 s later).
    tag = "%d-%d" % (os.getpid(), int(time.time()))
    specs = {"echo": hostport(a.sam_echo), "client": hostport(a.sam_client), "web": hostport(a.sam_web)}
    sessions, threads = {}, []

    def make(name, sam):
        try:
            sessions[name] = Session(sam, "smoke-%s-%s" % (name, tag), a.length, left())
        except Exception as e:  # noqa: BLE001 — reported, the scenario goes on
            err("session_" + name, "%s: %s" % (type(e).__name__, e))

    for name, sam in specs.items():
        t = threading.Thread(target=make, args=(name, sam), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(left())
    for name in specs:
        if name in sessions:
            emit("session_%s_s" % name, "%.2f" % sessions[name].created_s)
            emit("b32_%s" % name, sessions[name].b32)
    if "echo" in sessions and "client" in sessions:
        echo_test(a, sessions, emit, err, left)
    if "web" in sessions:
        socks_test(a, sessions["web"], http_port, emit, err, left)
    for s in sessions.values():
        s.close()
    httpd.shutdown()
    emit("errors", len(errors))
    return 0 if not errors else 1


def echo_test(a, sessions, emit, err, left):
    echo, client = sessions["echo"], sessions["client"]
    seen = {}

    def acceptor():
        try:
            s = echo.stream("ACCEPT", left())
            s.settimeout(left())
            seen["peer"] = read_line(s, limit=2048).split(" ")[0]
            for data in recv_to_eof(s):
                s.sendall(data)
            s.close()
        except Exception as e:  # noqa: BLE001
            seen["error"] = "%s: %s" % (type(e).__name__, e)

    acc = threading.Thread(target=acceptor, daemon=True)
    acc.start()
    time.sleep(0.2)  # the ACCEPT is registered before the first SYN can arrive
    msg = os.urandom(32) + b" hello through a private I2P network\n"
    # While the LeaseSet is not yet published, CONNECT fails at once (CANT_REACH_PEER).
    reached = until_reachable(a, emit, err, left, "echo_connect", "echo_connect_attempts", "echo_reachable_after_s",
                              lambda: client.stream("CONNECT", min(30.0, left()), "DESTINATION=%s" % echo.b32))
    if reached is None:
        return
    stream, t0 = reached
    emit("echo_connect_s", "%.2f" % (time.monotonic() - t0))
    try:
        stream.settimeout(left())
        stream.sendall(msg)
        first = stream.recv(1)
        if not first:
            raise SamError("EOF before the first echoed byte")
        emit("echo_first_byte_s", "%.2f" % (time.monotonic() - t0))
        got = first + recv_exact(stream, len(msg) - 1)
        emit("echo_ok", int(got == msg))
        if got != msg:
            err("echo", "echoed bytes differ")
        msg2 = os.urandom(4096)
        t1 = time.monotonic()
        stream.sendall(msg2)
        got2 = recv_exact(stream, len(msg2))
        emit("echo_round_trip_s", "%.3f" % (time.monotonic() - t1))
        if got2 != msg2:
            err("echo", "second message differs")
        stream.close()
    except Exception as e:  # noqa: BLE001
        err("echo", "%s: %s" % (type(e).__name__, e))
        return
    acc.join(min(10.0, left()))
    if "error" in seen:
        err("echo_accept", seen["error"])
    elif "peer" in seen:
        ok = seen["peer"] and public_destination(seen["peer"]) == client.dest
        emit("echo_peer_is_client", int(bool(ok)))
        if not ok:
            err("echo_accept", "the accepting side saw another destination")


def until_reachable(a, emit, err, left, what, attempts_key, reachable_key, attempt):
    """Calls attempt() every 2 s until it succeeds (a destination answers only once its
    LeaseSet is published), within a.connect_timeout. Emits the number of attempts and
    when the successful one began; returns (its result, its start) or None after err()."""
    attempts, start = 0, time.monotonic()
    while True:
        attempts += 1
        t0 = time.monotonic()
        try:
            result = attempt()
            break
        except (SamError, OSError) as e:
            if left() <= 2 or time.monotonic() - start >= a.connect_timeout:
                err(what, "after %d attempt(s) in %.0f s: %s" % (attempts, time.monotonic() - start, e))
                return None
            time.sleep(2)
    emit(attempts_key, attempts)
    emit(reachable_key, "%.2f" % (t0 - start))
    return result, t0


def socks_test(a, web, http_port, emit, err, left):
    try:
        fwd = web.stream("FORWARD", left(), "PORT=%d SILENT=true" % http_port)
    except (SamError, OSError) as e:
        err("socks_forward", str(e))
        return

    def fetch_first_byte():
        s = socks5_connect(hostport(a.socks), web.b32, 80, min(30.0, left()))
        s.sendall(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % web.b32).encode())
        first = s.recv(1)
        if not first:
            raise SamError("EOF before the first byte")
        return s, first

    try:
        reached = until_reachable(a, emit, err, left, "socks_fetch", "socks_attempts", "socks_reachable_after_s", fetch_first_byte)
        if reached is None:
            return
        (s, first), t0 = reached
        emit("socks_first_byte_s", "%.2f" % (time.monotonic() - t0))
        chunks = [first]
        s.settimeout(left())
        chunks.extend(recv_to_eof(s))
        emit("socks_fetch_s", "%.2f" % (time.monotonic() - t0))
        s.close()
        resp = b"".join(chunks)
        head, _, body = resp.partition(b"\r\n\r\n")
        emit("socks_status", head.split(b"\r\n")[0].decode("latin-1").replace(" ", "_"))
        emit("socks_body_bytes", len(body))
        ok = hashlib.sha256(body).digest() == hashlib.sha256(QuietHandler.body).digest()
        emit("socks_body_ok", int(ok))
        if not ok:
            err("socks_fetch", "body differs (%d bytes, expected %d)" % (len(body), len(QuietHandler.body)))
    finally:
        fwd.close()


# ---------------------------------------------------------------- serve

def serve(a):
    import signal
    body = a.body.encode()
    block = os.urandom(1 << 20)
    peer_log = open(a.peer_log, "a", encoding="utf-8") if a.peer_log else None
    lock = threading.Lock()

    def log_peer(b32, path):
        if peer_log:
            with lock:
                peer_log.write("%.3f %s %s\n" % (time.time(), b32, path))
                peer_log.flush()

    def handle(c):
        try:
            c.settimeout(60)
            f = c.makefile("rb")
            head = f.readline(4096).decode("ascii", "replace").strip()
            dest = head.split(" ")[0]
            try:
                caller = b32_address(public_destination(dest))
            except Exception:  # noqa: BLE001 — not a destination line
                caller = "unknown(%s)" % head[:40]
            request = f.readline(4096).decode("latin-1").strip()
            while True:  # headers
                line = f.readline(4096)
                if not line or line in (b"\r\n", b"\n"):
                    break
            parts = request.split(" ")
            path = parts[1] if len(parts) > 1 else "/"
            log_peer(caller, path)
            if path == "/peer":
                payload, n = (caller + "\n").encode(), None
            elif path.startswith("/bytes/") and path[7:].isdigit():
                payload, n = None, int(path[7:])
            else:
                payload, n = body, None
            size = n if payload is None else len(payload)
            c.sendall(("HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: %d\r\nConnection: close\r\n\r\n" % size).encode())
            if payload is not None:
                c.sendall(payload)
            else:
                left = n
                while left > 0:
                    chunk = block if left >= len(block) else block[:left]
                    c.sendall(chunk)
                    left -= len(chunk)
        except OSError:
            pass
        finally:
            c.close()

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.listen, 0))
    srv.listen(64)

    def accept_loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    priv = "TRANSIENT"
    if a.keys and os.path.exists(a.keys):
        priv = open(a.keys).read().strip()
    sess = Session(hostport(a.sam), "svc-%d-%d" % (os.getpid(), int(time.time())), a.length, a.timeout, destination=priv)
    if a.keys and priv == "TRANSIENT":
        fd = os.open(a.keys, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, sess.priv.encode())
        os.close(fd)
    print("b32", sess.b32, flush=True)
    print("session_s %.2f" % sess.created_s, flush=True)
    fwd = sess.stream("FORWARD", a.timeout, "PORT=%d SILENT=false" % srv.getsockname()[1])
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Runs until the control socket closes (i2pd stopped) or the time is up.
    sess.ctl.settimeout(a.timeout)
    try:
        while True:
            data = sess.ctl.recv(4096)
            if not data:
                print("error_sam control socket closed", file=sys.stderr, flush=True)
                return 1
    except socket.timeout:
        return 0
    finally:
        fwd.close()
        sess.close()


# ---------------------------------------------------------------- fetch

def fetch(a):
    deadline = time.monotonic() + a.timeout

    def left():
        return max(1.0, deadline - time.monotonic())

    try:
        sess = Session(hostport(a.sam), "fetch-%d-%d" % (os.getpid(), int(time.time())), a.length, left())
    except (SamError, OSError) as e:
        print("error_session %s" % e, flush=True)
        return 1
    print("session_s %.2f" % sess.created_s, flush=True)
    print("client_b32 %s" % sess.b32, flush=True)

    def one():
        t0 = time.monotonic()
        s = sess.stream("CONNECT", min(30.0, left()), "DESTINATION=%s" % a.dest)
        s.settimeout(left())
        s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (a.path, a.dest)).encode())
        first = s.recv(1)
        if not first:
            s.close()
            raise SamError("EOF before the first byte")
        t1 = time.monotonic()
        chunks = [first]
        chunks.extend(recv_to_eof(s))
        s.close()
        return t1 - t0, time.monotonic() - t0, b"".join(chunks)

    errors = 0

    def check(resp, fb, total, timed):
        nonlocal errors
        head, _, body = resp.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode("latin-1").replace(" ", "_")
        print("status %s" % status, flush=True)
        print("body_bytes %d" % len(body), flush=True)
        print("body_sha256 %s" % hashlib.sha256(body).hexdigest(), flush=True)
        if timed:
            print("first_byte_s %.4f" % fb, flush=True)
        print("fetch_s %.4f" % total, flush=True)
        if " 200 " not in head.split(b"\r\n")[0].decode("latin-1") + " ":
            errors += 1
        if a.print_body:
            print("body", flush=True)
            sys.stdout.write(body.decode("utf-8", "replace"))
            sys.stdout.flush()

    class A:  # until_reachable's options
        connect_timeout = a.retry_for

    def emit(k, v):
        print(k, v, flush=True)

    def err(step, msg):
        print("error_%s %s" % (step, msg), flush=True)

    reached = until_reachable(A, emit, err, left, "fetch", "attempts", "reachable_after_s", one)
    if reached is None:
        sess.close()
        return 1
    (fb, total, resp), _ = reached
    check(resp, fb, total, timed=a.count == 0)
    for _ in range(a.count):
        try:
            fb, total, resp = one()
        except (SamError, OSError) as e:
            err("fetch", str(e))
            errors += 1
            continue
        check(resp, fb, total, timed=True)
    sess.close()
    return 0 if errors == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("b32")
    b.add_argument("priv")
    s = sub.add_parser("scenario")
    s.add_argument("--sam-echo", default="198.18.99.2:7656")
    s.add_argument("--sam-client", default="198.18.99.3:7656")
    s.add_argument("--sam-web", default="198.18.99.3:7656")
    s.add_argument("--socks", default="198.18.99.1:4447")
    s.add_argument("--listen", default="198.18.99.254")
    s.add_argument("--length", type=int, default=0)
    s.add_argument("--body-size", type=int, default=1 << 20)
    s.add_argument("--connect-timeout", type=float, default=90,
                   help="retry CONNECT / the SOCKS fetch this long (LeaseSet publication)")
    s.add_argument("--timeout", type=float, default=150)
    v = sub.add_parser("serve")
    v.add_argument("--sam", default="198.18.99.3:7656")
    v.add_argument("--listen", default="198.18.99.254")
    v.add_argument("--length", type=int, default=0)
    v.add_argument("--body", default="hello from an I2P service\n")
    v.add_argument("--peer-log")
    v.add_argument("--keys", help="PRIV key file: reused if it exists, else written (0600)")
    v.add_argument("--timeout", type=float, default=3600)
    f = sub.add_parser("fetch")
    f.add_argument("--sam", default="198.18.99.2:7656")
    f.add_argument("--dest", required=True)
    f.add_argument("--path", default="/")
    f.add_argument("--length", type=int, default=0)
    f.add_argument("--count", type=int, default=0, help="timed requests after the first")
    f.add_argument("--retry-for", type=float, default=90)
    f.add_argument("--timeout", type=float, default=150)
    f.add_argument("--print-body", action="store_true")
    a = p.parse_args()
    if a.cmd == "b32":
        print(b32_address(public_destination(a.priv)))
        return 0
    if a.cmd == "serve":
        return serve(a)
    if a.cmd == "fetch":
        return fetch(a)
    return scenario(a)


if __name__ == "__main__":
    sys.exit(main())
