"""The admin side under abuse (abuse-admin.sh): stalled POST bodies through
nginx, garbage on the FastCGI socket, deeply nested JSON."""

import json
import os
import random
import select
import socket
import struct
import threading
import time

from wstest import check, finish, post, proc_kb

ADMIN, SOCK = os.environ["ADMIN"], os.environ["ADMIN_SOCK"]
PID, THREADS = int(os.environ["ADMIN_PID"]), int(os.environ["THREADS"])
HOST, PORT = ADMIN[len("http://"):].split(":")
PORT = int(PORT)
GOOD = {"type": "notification", "subscribers": ["PHID-USER-alive"]}


def alive():
    """Running (a crashed child stays in /proc as a zombie until reaped)."""
    try:
        return "Z" not in open(f"/proc/{PID}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def serving(timeout=5):
    """A good publish through nginx: (status, seconds)."""
    t = time.time()
    try:
        status, _ = post(ADMIN + "/", GOOD, timeout=timeout)
    except Exception as e:
        status = repr(e)
    return status, time.time() - t


def check_serving(after):
    status, took = serving()
    check(status == 200 and took < 2, f"a good publish through nginx answers 200 {after} ({took:.2f} s)", status)


# --- bodies that never finish ---------------------------------------------------

def stalled(kind):
    s = socket.create_connection((HOST, PORT), timeout=10)
    if kind == "length":
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                  b'{"type":"notification","subscribers":["PHID-USER-stalled"]')
    else:
        chunk = b'{"type":"notification","subscribers":["PHID-USER-stalled"]}'
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"%x\r\n" % len(chunk) + chunk + b"\r\n")   # and never the last, empty chunk
    return s


def watch(socks, t0, seconds):
    """Waits until each socket is answered and closed: {sock: (secs since
    t0, status line)}."""
    out, got = {}, {s: b"" for s in socks}
    while time.time() - t0 < seconds and len(out) < len(socks):
        readable, _, _ = select.select([s for s in socks if s not in out], [], [], 0.2)
        for s in readable:
            try:
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            got[s] += chunk
            if not chunk:
                out[s] = (time.time() - t0, got[s].split(b"\r\n", 1)[0].decode(errors="replace"))
    return out


def bodies_that_never_finish(n=20):
    t0 = time.time()
    socks = [stalled("length" if i % 2 else "chunked") for i in range(n)]
    time.sleep(0.5)
    # While they hang: others are served at once (nginx holds the bodies,
    # the app's threads are not waiting on them).
    results = [serving() for _ in range(5)]
    check(all(st == 200 and took < 2 for st, took in results),
          f"while {n} POST bodies hang (half Content-Length, half chunked), good publishes answer 200",
          results)
    done = watch(socks, t0, 12)
    for s in socks:
        s.close()
    check(len(done) == n, f"nginx ends all {n} of them (client_body_timeout 3 s)", f"{len(done)} ended")
    times = [t for t, _ in done.values()]
    check(times and 2.5 < min(times) and max(times) < 6.5,
          f"... between 3 and 6.5 s after they stalled ({min(times, default=0):.1f}-{max(times, default=0):.1f} s)",
          times)
    lines = sorted(set(line for _, line in done.values()))
    check(all(line == "" or " 408 " in line for line in lines),
          f"... with 408 Request Time-out, or closed without an answer: {lines}", lines)
    check_serving("after the stalled bodies")


# --- garbage on the FastCGI socket ------------------------------------------------

def record(rtype, content, request_id=1, version=1):
    return struct.pack(">BBHHBB", version, rtype, request_id, len(content), 0, 0) + content


def nv(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


BEGIN = record(1, struct.pack(">HB5x", 1, 0))
PARAMS = record(4, nv(b"REQUEST_METHOD", b"POST") + nv(b"SCRIPT_NAME", b"/") + nv(b"REMOTE_ADDR", b"127.0.0.1")
                + nv(b"CONTENT_TYPE", b"application/json")) + record(4, b"")


def fcgi_exchange(data, read=True, timeout=5):
    """Writes data to the FastCGI socket; returns what came back (until EOF)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(SOCK)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    if read:
        try:
            s.shutdown(socket.SHUT_WR)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
    s.close()
    return out


def fcgi_stdout(reply):
    """The STDOUT stream of a FastCGI reply."""
    out, i = b"", 0
    while i + 8 <= len(reply):
        _, rtype, _, n, pad, _ = struct.unpack(">BBHHBB", reply[i:i + 8])
        if rtype == 6:
            out += reply[i + 8:i + 8 + n]
        i += 8 + n + pad
    return out


def garbage():
    rng = random.Random(6)
    cases = [
        ("64 KiB of random bytes", bytes(rng.getrandbits(8) for _ in range(65536))),
        ("3 bytes", b"\x01\x01\x00"),
        ("a record of version 9", record(1, struct.pack(">HB5x", 1, 0), version=9) * 4),
        ("records of an unknown type", record(99, b"x" * 100) * 50),
        ("a record claiming 65535 bytes, then the end", struct.pack(">BBHHBB", 1, 4, 1, 65535, 255, 0) + b"x" * 10),
        ("parameters with 2 GiB name and value lengths (CVE-2025-23016)",
         BEGIN + record(4, struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF) + b"A" * 64)),
        ("parameters with a 1 MiB name, cut short", BEGIN + record(4, struct.pack(">II", 0x80100000, 0x80000001) + b"A" * 100)),
        ("a second BEGIN_REQUEST in the middle", BEGIN + BEGIN + PARAMS + BEGIN),
        ("the roles FILTER and AUTHORIZER", record(1, struct.pack(">HB5x", 3, 0)) + record(1, struct.pack(">HB5x", 2, 0), 2)),
        ("STDIN before PARAMS", BEGIN + record(5, b'{"subscribers":["PHID-USER-x"]}') + record(5, b"")),
        ("request id 0 and 65535", record(1, struct.pack(">HB5x", 1, 0), 0) + record(1, struct.pack(">HB5x", 1, 0), 65535)),
    ]
    for _ in range(20):
        cases.append(("random records", b"".join(record(rng.randrange(0, 12), bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300))),
                                                        rng.randrange(0, 3)) for _ in range(rng.randrange(1, 20)))))
    rss_before = proc_kb(PID, "VmRSS")
    for desc, data in cases:
        fcgi_exchange(data, timeout=3)
    check(alive(), f"the app survives {len(cases)} kinds of garbage on its FastCGI socket")
    check_serving("after the garbage")

    # 200 connections of garbage at once, from 8 threads.
    def burst(seed):
        r = random.Random(seed)
        for _ in range(25):
            fcgi_exchange(bytes(r.getrandbits(8) for _ in range(r.randrange(1, 4096))), timeout=3)
    threads = [threading.Thread(target=burst, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(alive(), "the app survives 200 connections of random bytes from 8 threads")
    check_serving("after them")

    # Garbage that stays connected: each holds a request thread (libfcgi has
    # no read timeout). Fewer of them than threads: the others still serve.
    held = []
    for i in range(THREADS // 2):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCK)
        s.sendall(BEGIN[:5] if i % 2 else BEGIN + PARAMS + record(5, b'{"subscri'))
        held.append(s)
    time.sleep(0.3)
    check_serving(f"while {len(held)} connections hold half-sent records")
    for s in held:
        s.close()

    # A well-formed request on the raw socket gets the app's own answers.
    reply = fcgi_stdout(fcgi_exchange(BEGIN + PARAMS + record(5, b"\xff\xfe not json") + record(5, b"")))
    check(reply.startswith(b"Status: 400"), "a raw FastCGI request with a body that is not JSON answers 400",
          reply[:80])
    body = json.dumps({"type": "notification", "subscribers": ["PHID-USER-alive"], "via": "fcgi"}).encode()
    reply = fcgi_stdout(fcgi_exchange(BEGIN + PARAMS + record(5, body) + record(5, b"")))
    check(reply.startswith(b"Status: 200") and b"fingerprint" in reply,
          "a raw FastCGI request with a good body answers 200 with the receipt", reply[:80])
    rss_after = proc_kb(PID, "VmRSS")
    check(rss_after - rss_before < 16 * 1024, f"the app's RSS grew by {rss_after - rss_before} KiB for all of it",
          f"{rss_before} -> {rss_after} KiB")


# --- deeply nested JSON ---------------------------------------------------------------

def deep_json():
    rss_before = proc_kb(PID, "VmRSS")
    for desc, inner in [
        ("arrays nested 100,000 deep (200 KB)", "[" * 100000 + "]" * 100000),
        ("objects nested 50,000 deep (350 KB)", '{"a":' * 50000 + "1" + "}" * 50000),
        ("arrays nested 450,000 deep, never closed (900 KB)", "[" * 450000),
        ("33 levels, one past the limit of 32", "[" * 32 + "]" * 32),
    ]:
        body = '{"type":"notification","subscribers":["PHID-USER-deep"],"x":' + inner + "}"
        t = time.time()
        status, text = post(ADMIN + "/", body, timeout=10)
        took = time.time() - t
        check(status == 400, f"deeply nested JSON, {desc}: 400 ({took:.2f} s)", (status, text[:200]))
        check(text.startswith('{"error":"body is not JSON') and text.count("\n") == 1,
              "... with a one-line JSON error", text[:200])
    status, _ = post(ADMIN + "/", '{"type":"notification","subscribers":["PHID-USER-alive"],"x":'
                     + "[" * 30 + "]" * 30 + "}")
    check(status == 200, "31 levels (within the limit) still answers 200", status)
    rss_after = proc_kb(PID, "VmRSS")
    check(rss_after - rss_before < 16 * 1024, f"the app's RSS grew by {rss_after - rss_before} KiB for them",
          f"{rss_before} -> {rss_after} KiB")
    check_serving("after the nested JSON")


check_serving("at the start")
bodies_that_never_finish()
garbage()
deep_json()
finish()
