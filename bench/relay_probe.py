#!/usr/bin/env python3
"""Load generator for the router bench (stdlib only, bounded in count and time).

  relay_probe.py sink PATH                 serve PATH: read each connection to EOF, reply with the byte count
  relay_probe.py upload SOCKET BYTES       send BYTES, half-close, wait for the count; print MB/s
  relay_probe.py ping SOCKET COUNT [keep]  COUNT x GET /_ping, a new connection each (or one kept-alive
                                           connection with "keep"); print the median and p90 in microseconds
  relay_probe.py hold SOCKET COUNT SECONDS open COUNT idle connections, print "held N" once they are
                                           open, keep them SECONDS (at most 300), then close them
"""
import os, socket, statistics, sys, threading, time

CHUNK = 1 << 20

def sink(path):
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    os.chmod(path, 0o660)
    srv.listen(1024)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=count_to_eof, args=(conn,), daemon=True).start()

def count_to_eof(conn):
    buf = bytearray(CHUNK)
    total = 0
    while True:
        n = conn.recv_into(buf)
        if n == 0:
            break
        total += n
    try:
        conn.sendall(str(total).encode())
    except OSError:
        pass  # a held connection (hold) closes without waiting for the count
    conn.close()

def hold(sock_path, count, seconds):
    held = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock_path)
        held.append(s)
    print(f"held {len(held)}", flush=True)
    time.sleep(min(seconds, 300))
    for s in held:
        s.close()

def upload(sock_path, nbytes):
    data = b"\0" * CHUNK
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    start = time.perf_counter()
    left = nbytes
    while left > 0:
        n = min(left, CHUNK)
        s.sendall(data[:n])
        left -= n
    s.shutdown(socket.SHUT_WR)
    reply = s.recv(64)
    elapsed = time.perf_counter() - start
    s.close()
    assert int(reply) == nbytes, f"sink counted {reply!r}, sent {nbytes}"
    print(f"{nbytes / elapsed / 1e6:.1f}")

REQUEST = b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"

def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        body += s.recv(4096)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())

def ping(sock_path, count, keep):
    times = []
    deadline = time.monotonic() + 120
    s = None
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        start = time.perf_counter()
        if s is None:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock_path)
        s.sendall(REQUEST)
        read_response(s)
        if not keep:
            s.close()
            s = None
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    print(f"{statistics.median(times):.1f} {times[int(len(times) * 0.9)]:.1f} {len(times)}")

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "sink":
        sink(sys.argv[2])
    elif cmd == "upload":
        upload(sys.argv[2], int(sys.argv[3]))
    elif cmd == "hold":
        hold(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "ping":
        ping(sys.argv[2], int(sys.argv[3]), len(sys.argv) > 4 and sys.argv[4] == "keep")
