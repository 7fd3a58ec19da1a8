"""CONNS WebSocket listeners opened at once (abuse-connections.sh): all
accepted, all reached by one message, counted by /status/, closed
cleanly; bounded memory; a new listener is served afterwards."""

import asyncio
import json
import os
import time

import websockets

from wstest import check, connect, finish, frames, get, ping, post, proc_kb

WS, ADMIN = os.environ["WS"], os.environ["ADMIN"]
PID, CONNS = int(os.environ["PUSH_PID"]), int(os.environ["CONNS"])


async def status_until(pred, timeout=15):
    """Polls /status/ until pred(status) holds; returns the last status."""
    deadline = time.time() + timeout
    st = {}
    while time.time() < deadline:
        code, body = await asyncio.to_thread(get, ADMIN + "/status/")
        if code == 200:
            st = json.loads(body)
            if pred(st):
                break
        await asyncio.sleep(0.5)
    return st


async def one(i):
    ws = await websockets.connect(WS + "/", max_size=None, open_timeout=60, ping_interval=None,
                                  close_timeout=20)
    await ws.send(json.dumps({"command": "subscribe", "data": ["PHID-USER-all", f"PHID-USER-{i}"]}))
    return ws


async def main():
    probe = await connect(WS + "/", ["PHID-USER-probe"])
    await ping(probe)
    await probe.close()
    await status_until(lambda s: s.get("clients.active") == 0)
    rss_before = proc_kb(PID, "VmRSS")

    # All at once: every connect is started before the first one is awaited.
    t0 = time.time()
    results = await asyncio.gather(*(one(i) for i in range(CONNS)), return_exceptions=True)
    opened = [ws for ws in results if not isinstance(ws, BaseException)]
    errors = [repr(e) for e in results if isinstance(e, BaseException)]
    check(len(opened) == CONNS, f"all {CONNS} connections opened at once are accepted "
          f"({time.time() - t0:.1f} s)", f"{len(opened)} opened; first errors: {errors[:3]}")

    # Every subscribe was handled once a ping round-trip is back on each.
    pongs = await asyncio.gather(*(ping(ws, timeout=30) for ws in opened), return_exceptions=True)
    check(all(not isinstance(p, BaseException) for p in pongs), "every one of them answers a ping")

    st = await status_until(lambda s: s.get("clients.active") == CONNS)
    check(st.get("clients.active") == CONNS, f"/status/ clients.active is {CONNS}", st.get("clients.active"))

    status, _ = await asyncio.to_thread(post, ADMIN + "/", {"type": "notification", "key": "to-all",
                                                            "subscribers": ["PHID-USER-all"]})
    check(status == 200, "a message to all of them is accepted", status)
    got = await asyncio.gather(*(frames(ws, 1, timeout=30) for ws in opened))
    reached = sum(1 for g in got if len(g) == 1 and g[0].get("key") == "to-all")
    check(reached == len(opened), f"the message reaches all {len(opened)} listeners", f"{reached} got it")
    status, _ = await asyncio.to_thread(post, ADMIN + "/", {"type": "notification", "key": "to-7",
                                                            "subscribers": ["PHID-USER-7"]})
    got = await frames(opened[7], 1, timeout=10)
    check(status == 200 and len(got) == 1 and got[0].get("key") == "to-7",
          "... and one addressed to a single listener reaches it", got)

    rss_peak = proc_kb(PID, "VmRSS")
    grown = rss_peak - rss_before
    # Each listener holds a few KiB (lws buffers, its set, its queue):
    # 40 MiB for 2,000 would mean something grows with traffic.
    check(grown < CONNS * 32, f"the daemon's RSS grew by {grown} KiB for {CONNS} listeners "
          f"(bound {CONNS * 32} KiB)", f"{rss_before} -> {rss_peak} KiB")

    # Closed cleanly: each close handshake completes with 1000.
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    codes = [ws.close_code for ws in opened]
    check(all(c == 1000 for c in codes), "all of them close cleanly (close code 1000 from the server)",
          sorted(set(codes), key=str)[:5])
    st = await status_until(lambda s: s.get("clients.active") == 0)
    check(st.get("clients.active") == 0, "/status/ clients.active is back to 0", st.get("clients.active"))
    check(st.get("clients.total", 0) >= CONNS + 1, "/status/ clients.total counts them all", st.get("clients.total"))

    # A second wave reuses what the first one freed: nothing is kept per
    # connection once it is closed.
    wave = await asyncio.gather(*(one(i) for i in range(CONNS)), return_exceptions=True)
    wave = [ws for ws in wave if not isinstance(ws, BaseException)]
    await asyncio.gather(*(ping(ws, timeout=30) for ws in wave), return_exceptions=True)
    check(len(wave) == CONNS, f"a second wave of {CONNS} is accepted too", len(wave))
    await asyncio.gather(*(ws.close() for ws in wave), return_exceptions=True)
    st = await status_until(lambda s: s.get("clients.active") == 0)
    rss_wave = proc_kb(PID, "VmRSS")
    check(rss_wave - rss_peak < max(grown // 2, 4096), f"... and the daemon's RSS grows by {rss_wave - rss_peak} KiB "
          f"for it (freed memory is reused)", f"{rss_peak} -> {rss_wave} KiB")
    check(st.get("clients.active") == 0, "... clients.active is 0 again after it", st.get("clients.active"))

    # And it still serves.
    after = await connect(WS + "/", ["PHID-USER-after"])
    await ping(after)
    status, _ = await asyncio.to_thread(post, ADMIN + "/", {"type": "notification", "key": "after",
                                                            "subscribers": ["PHID-USER-after"]})
    got = await frames(after, 1)
    check(len(got) == 1 and got[0]["key"] == "after", "a new listener is served afterwards", got)
    await after.close()
    rss_after = proc_kb(PID, "VmRSS")
    print(f"RSS before {rss_before} KiB, with {CONNS} listeners {rss_peak} KiB, after {rss_after} KiB, "
          f"peak (VmHWM) {proc_kb(PID, 'VmHWM')} KiB")


asyncio.run(asyncio.wait_for(main(), 240))
finish()
