"""Plays the agent's side of Bulkhead's IPC for the netfilter intents (bench and
manual checks): frames, hello, netfilterStage in chunks, netfilterCommit."""
import json
import os
import socket
import struct
import subprocess

HELLO, STAGE, COMMIT, POLICY = 0x0001, 0x0301, 0x0302, 0x0303
CHANGES, REPLACE_ALL = 1, 2
TCP, UDP = 6, 17


class Helper:
    """The real bulkhead-helper in --ipc-fd mode, inside network namespace `netns`."""

    def __init__(self, binary, config, netns):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        os.set_inheritable(theirs.fileno(), True)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, binary, "run", "--config", config, "--ipc-fd", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        theirs.close()
        self.sock, self.next_id = ours, 1

    def call(self, rtype, payload=b""):
        self.next_id += 1
        frame = struct.pack(">IBBHI", 12 + len(payload), 1, 1, rtype, self.next_id) + payload
        self.sock.sendmsg([frame])
        data = self.sock.recv(1 << 20)
        _, _, _, kind, rid = struct.unpack(">IBBHI", data[:12])
        body = data[12:]
        if kind == 1:
            code, n = struct.unpack(">HH", body[:4])
            raise RuntimeError(f"refused {code}: {body[4:4 + n].decode()}")
        return body

    def hello(self):
        return json.loads(self.call(HELLO, b"\x01"))

    def apply(self, sets, mode):
        """sets: [(key12, [rule tuples])]; rule: ("dnat", proto, port, ip, tport) | ("fwd", proto, ip, port) | ("mark", proto, ip, port, mark)."""
        for chunk in chunks(sets):
            self.call(STAGE, encode_sets(chunk))
        return self.call(COMMIT, bytes([mode])).decode()

    def close(self):
        self.sock.close()
        self.proc.wait(timeout=30)


def ip4(text):
    return struct.unpack(">I", socket.inet_aton(text))[0]


def encode_rule(rule):
    kind = rule[0]
    if kind == "dnat":
        _, p, port, to, tport = rule
        return struct.pack(">BBHIH", 1, p, port, ip4(to), tport)
    if kind == "fwd":
        _, p, to, port = rule
        return struct.pack(">BBIH", 2, p, ip4(to), port)
    _, p, frm, port, mark = rule
    return struct.pack(">BBIHI", 3, p, ip4(frm), port, mark)


def encode_set(key, rules):
    return struct.pack(">H", len(key)) + key.encode() + struct.pack(">H", len(rules)) + b"".join(encode_rule(r) for r in rules)


def encode_sets(sets):
    return struct.pack(">H", len(sets)) + b"".join(encode_set(k, r) for k, r in sets)


def chunks(sets, limit=3800):
    batch, size = [], 2
    for key, rules in sets:
        cost = len(encode_set(key, rules))
        if batch and size + cost > limit:
            yield batch
            batch, size = [], 2
        batch.append((key, rules))
        size += cost
    if batch:
        yield batch


def container_rules(i, mark=None):
    """A container with two DNAT ports (DNAT + FORWARD each) and, with a mark, one marked port."""
    ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{(i & 255) or 1}"
    rules = []
    for port in (80, 443):
        rules.append(("dnat", TCP, 20000 + (i % 40000) if port == 80 else 443, ip, port))
        rules.append(("fwd", TCP, ip, port))
    if mark:
        rules.append(("mark", TCP, ip, 8080, mark))
    return f"{i:012x}", rules
