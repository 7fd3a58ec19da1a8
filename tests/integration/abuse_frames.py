"""Oversized frames (abuse-frames.sh). PHASE=default: the daemon runs with
the default limits; PHASE=big-frames: with client.max_frame_bytes at its
16 MiB maximum."""

import asyncio
import base64
import json
import os
import select
import socket
import time

from wstest import check, close_code, connect, finish, frames, ping, post, proc_kb

WS, ADMIN = os.environ["WS"], os.environ["ADMIN"]
PID, PHASE = int(os.environ["PUSH_PID"]), os.environ["PHASE"]
BIG_PHIDS = int(os.environ.get("BIG_PHIDS", "1000000"))
MB = 1000 * 1000
HOST, PORT = WS[len("ws://"):].split(":")
PORT = int(PORT.strip("/"))
TEXT, BINARY, CONTINUATION = 0x1, 0x2, 0x0


def publish(key, phid):
    status, body = post(ADMIN + "/", {"type": "notification", "key": key, "subscribers": [phid]})
    assert status == 200, (status, body)


def sent_then_closed(frames_, timeout=30):
    """Sends WebSocket frames [(opcode, fin, payload)] on a new raw
    connection, reading while it writes; returns the close code the server
    answered with, or None. A raw socket rather than the client library:
    the server closes as soon as it refuses, with our bytes still unread,
    so the kernel resets the connection; the library then drops the close
    frame that had already arrived, the kernel does not."""
    s = socket.create_connection((HOST, PORT), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            return None
        head += chunk
    got = head.split(b"\r\n\r\n", 1)[1]
    out = b""
    for opcode, fin, payload in frames_:
        n = len(payload)
        # A zero masking key: masked as the protocol wants, payload unchanged.
        size = bytes([0x80 | n]) if n < 126 else (bytes([0x80 | 126]) + n.to_bytes(2, "big") if n < 65536
                                                  else bytes([0x80 | 127]) + n.to_bytes(8, "big"))
        out += bytes([(0x80 if fin else 0) | opcode]) + size + b"\0\0\0\0" + payload
    s.setblocking(False)
    view, sent, deadline = memoryview(out), 0, time.time() + timeout
    while time.time() < deadline:
        want_write = [s] if sent < len(out) else []
        readable, writable, _ = select.select([s], want_write, [], 0.5)
        if writable:
            try:
                sent += s.send(view[sent:sent + 262144])
            except OSError:
                sent = len(out)   # reset: nothing more goes out, what came in is still readable
        if readable:
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            got += chunk
            if close_code_in(got) is not None:
                break
    s.close()
    return close_code_in(got)


def close_code_in(data):
    """The code of the first close frame in server-to-client bytes."""
    i = 0
    while i + 2 <= len(data):
        opcode, n, i = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if n == 126:
            n, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        if i + n > len(data):
            return None
        if opcode == 0x8:
            return int.from_bytes(data[i:i + 2], "big") if n >= 2 else 1005
        i += n
    return None


async def sent_then_closed_async(frames_, timeout=30):
    return await asyncio.to_thread(sent_then_closed, frames_, timeout)


async def still_served(other, key):
    await asyncio.to_thread(publish, key, "PHID-USER-other")
    got = await frames(other, 1, timeout=10)
    return len(got) == 1 and got[0]["key"] == key


def subscribe_frame(n, short):
    # Phorge PHIDs (30 bytes) for the default phase; short ones so that the
    # frame fits under 16 MiB for the other.
    fmt = "P{:06d}" if short else "PHID-USER-{:020d}"
    return json.dumps({"command": "subscribe", "data": [fmt.format(i) for i in range(n)]},
                      separators=(",", ":"))


async def default_limits():
    other = await connect(WS + "/", ["PHID-USER-other"])
    await ping(other)
    check(await still_served(other, "before"), "a listener is served before")
    rss_before = proc_kb(PID, "VmRSS")
    ten_mb = json.dumps({"command": "subscribe", "data": ["x" * (10 * MB)]}).encode()
    pieces = [ten_mb[i:i + 65536] for i in range(0, len(ten_mb), 65536)]
    fragments = [(TEXT if i == 0 else CONTINUATION, i == len(pieces) - 1, p) for i, p in enumerate(pieces)]
    rss_first = None
    for desc, frames_ in [
        ("a 10 MB text frame", [(TEXT, True, ten_mb)]),
        (f"a 10 MB message in {len(pieces)} fragments of 64 KB", fragments),
        ("a 10 MB binary frame", [(BINARY, True, os.urandom(10 * MB))]),
    ]:
        code = await sent_then_closed_async(frames_)
        check(code == 1009, f"{desc} is refused with close code 1009 (message too big)", code)
        check(await still_served(other, desc), f"... another listener is still served after it")
        rss_first = rss_first or proc_kb(PID, "VmRSS")

    msg = subscribe_frame(1000000, short=False).encode()
    code = await sent_then_closed_async([(TEXT, True, msg)])
    check(code == 1009, f"a subscribe to 1,000,000 PHIDs ({len(msg) / MB:.0f} MB) is closed with 1009: "
          f"its frame passes client.max_frame_bytes before client.max_subscriptions counts", code)
    check(await still_served(other, "after-million"), "... another listener is still served after it")

    nested = '{"command":"subscribe","data":' + "[" * 30000 + "]" * 30000 + "}"
    ws = await connect(WS + "/", ["PHID-USER-nested"])
    await ws.send(nested)
    try:
        await ping(ws)
        alive = True
    except Exception:
        alive = False
    check(alive, "a frame of JSON nested 30,000 deep (60 KB) is ignored, the connection stays open")
    await ws.close()

    rss_after = proc_kb(PID, "VmRSS")
    # 63 MB were sent; a daemon that buffered them would grow by as much.
    # Without ASan the whole run adds well under 1 MiB; ASan's allocator
    # keeps the first frame's 512 growing reallocs (128 bytes at a time up
    # to 64 KiB), about 30 MiB, then reuses them.
    grown, later = rss_after - rss_before, rss_after - rss_first
    check(later < 4096, f"after the first refused frame, the next 53 MB of them grow the daemon's RSS by "
          f"{later} KiB", f"{rss_first} -> {rss_after} KiB")
    check(grown < 48 * 1024, f"in all, the daemon's RSS grew by {grown} KiB for 63 MB of refused frames",
          f"{rss_before} -> {rss_after} KiB")
    print(f"RSS before {rss_before} KiB, after {rss_after} KiB, peak (VmHWM) {proc_kb(PID, 'VmHWM')} KiB")
    await other.close()


async def big_frames():
    other = await connect(WS + "/", ["PHID-USER-other"])
    await ping(other)
    rss_before = proc_kb(PID, "VmRSS")
    msg = subscribe_frame(BIG_PHIDS, short=True).encode()
    t = time.time()
    code = await sent_then_closed_async([(TEXT, True, msg)], timeout=90)
    took = time.time() - t
    check(code == 1008, f"with client.max_frame_bytes 16 MiB, a subscribe to {BIG_PHIDS:,} PHIDs "
          f"({len(msg) / MB:.1f} MB) is closed with 1008: over client.max_subscriptions ({took:.1f} s)", code)
    check(await still_served(other, "after-million"), "... another listener is still served after it")
    rss_after, hwm = proc_kb(PID, "VmRSS"), proc_kb(PID, "VmHWM")
    # The frame is held once (16 MiB at most) and parsed once (json-c: a
    # few tens of bytes per PHID): bounded by the frame limit, not by time.
    check(hwm - rss_before < 1024 * 1024, f"the daemon's peak RSS grew by {hwm - rss_before} KiB for it "
          f"(bound 1 GiB)", f"{rss_before} -> peak {hwm} KiB")
    code = await sent_then_closed_async([(TEXT, True, msg)], timeout=90)
    hwm2 = proc_kb(PID, "VmHWM")
    check(code == 1008 and hwm2 - hwm < (hwm - rss_before) // 4 + 8192,
          f"the same again is refused the same way and the peak hardly moves ({hwm} -> {hwm2} KiB)", code)
    check(await still_served(other, "after-second"), "... another listener is still served after it")

    ok = await connect(WS + "/", [f"PHID-USER-{i}" for i in range(10000)])
    check(await ping(ok, timeout=30) == [], "exactly client.max_subscriptions (10,000) PHIDs are accepted")
    print(f"RSS before {rss_before} KiB, after {rss_after} KiB, peak (VmHWM) {hwm2} KiB")
    await ok.close()
    await other.close()


asyncio.run(asyncio.wait_for(default_limits() if PHASE == "default" else big_frames(), 240))
finish()
