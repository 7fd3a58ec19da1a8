"""Half-open handshakes (abuse-slowloris.sh): HALF_OPEN raw TCP connections
to the client port, a third sending nothing, a third half an HTTP upgrade
request, a third dripping a request one byte a second. All must be closed
by the server within 15 s (its handshake timeout is 10 s), while real
listeners keep receiving."""

import asyncio
import json
import os
import select
import socket
import time

from wstest import check, connect, finish, frames, get, ping, post, proc_kb

WS, ADMIN = os.environ["WS"], os.environ["ADMIN"]
PID, HALF_OPEN = int(os.environ["PUSH_PID"]), int(os.environ["HALF_OPEN"])
HOST, PORT = WS[len("ws://"):].split(":")
PORT = int(PORT.strip("/"))
DEADLINE = 15.0

PARTIAL = b"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
DRIP = b"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 100


def publish(key, phid):
    status, body = post(ADMIN + "/", {"type": "notification", "key": key, "subscribers": [phid]})
    assert status == 200, (status, body)


class HalfOpen:
    """The raw connections, watched from a thread: when each was closed."""

    def __init__(self, n):
        self.kind, self.closed, self.t0 = {}, {}, time.time()
        for i in range(n):
            s = socket.create_connection((HOST, PORT))
            s.setblocking(False)
            kind = ("silent", "partial", "drip")[i % 3]
            if kind == "partial":
                s.send(PARTIAL)
            self.kind[s] = kind
        self.opened = time.time() - self.t0

    def run(self, seconds):
        """Drips and watches for up to `seconds`, or until all are closed."""
        step = 0
        while time.time() - self.t0 < seconds and len(self.closed) < len(self.kind):
            open_ = [s for s in self.kind if s not in self.closed]
            readable, _, _ = select.select(open_, [], [], 0.2)
            for s in readable:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.closed[s] = time.time() - self.t0
            if int(time.time() - self.t0) > step:   # one byte a second
                step = int(time.time() - self.t0)
                for s, kind in self.kind.items():
                    if kind == "drip" and s not in self.closed and step <= len(DRIP):
                        try:
                            s.send(DRIP[step - 1:step])
                        except OSError:
                            pass
        for s in self.kind:
            s.close()


async def main():
    before = await connect(WS + "/", ["PHID-USER-before"])
    await ping(before)
    await asyncio.sleep(1.2)   # one heartbeat: /status/ counts it
    rss_before = proc_kb(PID, "VmRSS")

    attack = HalfOpen(HALF_OPEN)
    check(True, f"{HALF_OPEN} half-open connections made ({attack.opened:.1f} s)")
    watcher = asyncio.create_task(asyncio.to_thread(attack.run, DEADLINE + 5))

    # During the attack: the old listener still receives, a new one is served.
    await asyncio.sleep(2)
    await asyncio.to_thread(publish, "during-1", "PHID-USER-before")
    got = await frames(before, 1, timeout=5)
    check(len(got) == 1 and got[0]["key"] == "during-1", "a listener connected before still receives", got)
    t = time.time()
    during = await connect(WS + "/", ["PHID-USER-during"])
    await ping(during)
    check(time.time() - t < 3, f"a new listener connects and is served during the attack ({time.time() - t:.2f} s)")
    await asyncio.to_thread(publish, "during-2", "PHID-USER-during")
    got = await frames(during, 1, timeout=5)
    check(len(got) == 1 and got[0]["key"] == "during-2", "... and receives", got)
    await asyncio.sleep(1.2)   # a heartbeat after the second listener
    code, body = await asyncio.to_thread(get, ADMIN + "/status/")
    st = json.loads(body) if code == 200 else {}
    check(st.get("clients.active") == 2, "/status/ counts only the two real listeners", st.get("clients.active"))
    rss_attack = proc_kb(PID, "VmRSS")

    await watcher
    closed = attack.closed.values()
    check(len(attack.closed) == HALF_OPEN, f"the server closed all {HALF_OPEN} half-open connections "
          f"within {DEADLINE:.0f} s", f"{len(attack.closed)} closed")
    late = [t for t in closed if t > DEADLINE]
    early = [t for t in closed if t < 5]
    check(not late, f"none was open longer than {DEADLINE:.0f} s (latest: {max(closed, default=0):.1f} s)",
          f"{len(late)} late")
    check(not early, f"... and none before 5 s: it is the handshake timeout that cut them "
          f"(earliest: {min(closed, default=0):.1f} s)", f"{len(early)} early")
    for kind in ("silent", "partial", "drip"):
        n = sum(1 for s, k in attack.kind.items() if k == kind and s in attack.closed)
        total = sum(1 for k in attack.kind.values() if k == kind)
        check(n == total, f"... {kind}: {n} of {total} closed")

    grown = rss_attack - rss_before
    check(grown < HALF_OPEN * 32, f"the daemon's RSS grew by {grown} KiB for {HALF_OPEN} half-open connections",
          f"{rss_before} -> {rss_attack} KiB")

    # After it: both listeners still there and served.
    await asyncio.to_thread(publish, "after", "PHID-USER-before")
    got = await frames(before, 1, timeout=5)
    check(len(got) == 1 and got[0]["key"] == "after", "after the attack the first listener still receives", got)
    check(await ping(during) == [], "... and the second one still answers")
    print(f"RSS before {rss_before} KiB, during the attack {rss_attack} KiB, peak (VmHWM) {proc_kb(PID, 'VmHWM')} KiB")
    await before.close()
    await during.close()


asyncio.run(asyncio.wait_for(main(), 120))
finish()
