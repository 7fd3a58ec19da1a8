"""The slow-listener case: one raw WebSocket client that subscribes and
then never reads (a tiny receive buffer, so the kernel cannot absorb the
flood), one normal listener, and COUNT messages of PAD bytes posted
through nginx by a few threads."""

import asyncio
import base64
import json
import os
import socket
import threading
import time
import urllib.request

from wstest import check, connect, finish, ping, post

WS, ADMIN = os.environ["WS"], os.environ["ADMIN"]
PID, COUNT, PAD = int(os.environ["PUSH_PID"]), int(os.environ["COUNT"]), int(os.environ["PAD"])
HOST, PORT = WS[len("ws://"):].split(":")
PORT = int(PORT.strip("/"))


def rss_kb():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def raw_listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, PORT))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    payload = json.dumps({"command": "subscribe", "data": ["PHID-USER-flood"]}).encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(frame)
    return s


def poster(start, step, results):
    pad = "x" * PAD
    for i in range(start, COUNT, step):
        body = {"type": "notification", "key": str(i), "subscribers": ["PHID-USER-flood"], "pad": pad}
        status, _ = post(ADMIN + "/", body, timeout=30)
        results.append(status)


async def main():
    slow = raw_listener()
    reader = await connect(WS + "/", ["PHID-USER-flood"])
    await ping(reader)
    time.sleep(0.2)
    rss_before = rss_kb()

    results = []
    threads = [threading.Thread(target=poster, args=(k, 4, results)) for k in range(4)]
    t0 = time.time()
    for t in threads:
        t.start()
    keys = []
    deadline = time.time() + 240
    while len(keys) < COUNT and time.time() < deadline:
        try:
            raw = await asyncio.wait_for(reader.recv(), 30)
        except asyncio.TimeoutError:
            break
        keys.append(int(json.loads(raw)["key"]))
    for t in threads:
        t.join()
    rss_after = rss_kb()
    print(f"posted {len(results)} in {time.time() - t0:.1f} s; RSS {rss_before} -> {rss_after} KiB")
    check(results.count(200) == COUNT, f"all {COUNT} posts answered 200", results.count(200))
    check(len(keys) == COUNT, f"the reading listener received all {COUNT} messages", len(keys))
    # Each poster sends its keys one after another, so each poster's keys
    # must arrive in increasing order.
    in_order = all([k for k in keys if k % 4 == r] == sorted(k for k in keys if k % 4 == r) for r in range(4))
    check(in_order, "... in the order they were accepted")
    # Without the bound the daemon would hold COUNT * PAD bytes (80 MB) for
    # the slow listener; with it, about client.send_queue_bytes.
    grown = rss_after - rss_before
    check(grown < 40 * 1024, "the daemon's memory stayed bounded (grew < 40 MiB)", f"grew {grown} KiB")

    # The slow listener was cut off: drain what the kernel holds, then EOF.
    slow.settimeout(10)
    got, closed = 0, False
    try:
        while True:
            chunk = slow.recv(65536)
            if not chunk:
                closed = True
                break
            got += len(chunk)
    except socket.timeout:
        pass
    check(closed, "the listener that never read was disconnected")
    check(got < COUNT * PAD // 2, "... before it was sent most of the flood", f"{got} bytes")
    await reader.close()


asyncio.run(asyncio.wait_for(main(), 280))
finish()
