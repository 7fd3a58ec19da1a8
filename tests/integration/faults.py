"""The load and the checks of faults.sh: a bounded posting loop through
nginx, one listener that stays connected (it reconnects and replays when a
fault drops it), and the faults asked of the shell half in between."""

import asyncio
import json
import os
import sqlite3
import threading
import time

from wstest import check, finish, post
import websockets

TH_DIR = os.environ["TH_DIR"]
ADMIN = f"http://127.0.0.1:{os.environ['ADMIN_PORT']}/"
WS = f"ws://127.0.0.1:{os.environ['PUSH_PORT']}/"
FAULTS = ["stop-admin", "stop-push", "restart-nginx", "kill-admin", "kill-push"]


def fault(name, timeout=30):
    done = os.path.join(TH_DIR, "fault.done")
    if os.path.exists(done):
        os.unlink(done)
    with open(os.path.join(TH_DIR, "fault"), "w") as f:
        f.write(name)
    deadline = time.time() + timeout
    while not os.path.exists(done) and time.time() < deadline:
        time.sleep(0.05)


class Poster(threading.Thread):
    def __init__(self, n):
        super().__init__()
        self.n, self.accepted, self.refused = n, [], 0

    def run(self):
        for i in range(self.n):
            uid = f"fault{i:027d}"
            try:
                status, _ = post(ADMIN, {"type": "notification", "key": str(i), "subscribers": ["PHID-USER-f"],
                                         "uniqueID": uid}, timeout=5)
            except Exception:
                status = 0
            if status == 200:
                self.accepted.append(uid)
            else:
                self.refused += 1
            time.sleep(0.01)


async def listener(got, stop):
    """Like the browser client: subscribe, and after each reconnect
    subscribe again and replay."""
    first = True
    while not stop.is_set():
        try:
            async with websockets.connect(WS, open_timeout=3) as ws:
                await ws.send(json.dumps({"command": "subscribe", "data": ["PHID-USER-f"]}))
                if not first:
                    await ws.send(json.dumps({"command": "replay", "data": {"age": 60000}}))
                first = False
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 0.5)
                    except asyncio.TimeoutError:
                        continue
                    got.add(json.loads(raw)["uniqueID"])
        except Exception:
            await asyncio.sleep(0.3)


async def main():
    got, stop = set(), asyncio.Event()
    task = asyncio.ensure_future(listener(got, stop))
    await asyncio.sleep(0.5)
    poster = Poster(600)
    poster.start()
    loop = asyncio.get_running_loop()
    for name in FAULTS:
        await asyncio.sleep(1.0)
        await loop.run_in_executor(None, fault, name)
        print(f"fault {name} done after {len(poster.accepted)} accepted posts")
    await loop.run_in_executor(None, poster.join)
    await loop.run_in_executor(None, fault, "end")
    deadline = time.time() + 20
    while time.time() < deadline and not set(poster.accepted) <= got:
        await asyncio.sleep(0.2)
    stop.set()
    await task
    print(f"{len(poster.accepted)} accepted, {poster.refused} refused during faults")
    check(len(poster.accepted) >= 300, "most posts were accepted across the faults", len(poster.accepted))
    con = sqlite3.connect(os.path.join(TH_DIR, "state", "queue.db"), timeout=5)
    held = {r[0] for r in con.execute("SELECT unique_id FROM messages")}
    con.close()
    missing = set(poster.accepted) - held
    check(not missing, "every message answered 200 is in the queue", f"{len(missing)} missing")
    check(set(poster.accepted) <= got, "the listener (reconnecting and replaying) received every accepted message",
          f"{len(set(poster.accepted) - got)} missing")


asyncio.run(asyncio.wait_for(main(), 240))
finish()
