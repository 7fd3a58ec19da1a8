"""The three-node cluster test's Python half (see cluster.sh). PHASE says
which part runs: mesh, kill, or backlog."""

import asyncio
import json
import os
import signal
import sqlite3
import threading
import time

from wstest import check, connect, finish, ping, post

PA, PC = int(os.environ["PA"]), int(os.environ["PC"])
TH_DIR = os.environ.get("TH_DIR", "")
NODES = {1: "127.0.0.2", 2: "127.0.0.3", 3: "127.0.0.4"}
PHASE = os.environ["PHASE"]


def admin(n):
    return f"http://{NODES[n]}:{PA}/"


def ws(n):
    return f"ws://{NODES[n]}:{PC}/"


class Collector:
    """Reads one listener's frames in the background, by uniqueID."""

    def __init__(self, conn):
        self.conn, self.ids, self.times = conn, [], []
        self.task = asyncio.ensure_future(self.run())

    async def run(self):
        try:
            async for raw in self.conn:
                f = json.loads(raw)
                if f.get("type") != "pong":
                    self.ids.append(f["uniqueID"])
                    self.times.append(time.time())
        except Exception:
            pass


def post_all(nodes, count, prefix, results, interval=0.0):
    for i in range(count):
        n = nodes[i % len(nodes)]
        uid = f"{prefix}{i:06d}".ljust(32, "0")
        status, _ = post(admin(n), {"type": "notification", "key": str(i), "subscribers": ["PHID-USER-c"],
                                    "uniqueID": uid}, timeout=10)
        if status == 200:
            results.append(uid)
        if interval:
            time.sleep(interval)


async def wait_for(cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline and not cond():
        await asyncio.sleep(0.1)
    return cond()


async def mesh():
    cols = {}
    for n in NODES:
        c = await connect(ws(n), ["PHID-USER-c"])
        await ping(c)
        cols[n] = Collector(c)
    accepted = []
    t = threading.Thread(target=post_all, args=([1, 2, 3], 1000, "mesh", accepted))
    t0 = time.time()
    t.start()
    while t.is_alive():
        await asyncio.sleep(0.1)
    check(len(accepted) == 1000, "1,000 messages posted round-robin to the three nodes were accepted", len(accepted))
    await wait_for(lambda: all(len(c.ids) >= 1000 for c in cols.values()), 60)
    await asyncio.sleep(1.0)   # would a duplicate still arrive?
    print(f"1,000 messages through the mesh in {time.time() - t0:.1f} s")
    for n, c in cols.items():
        check(sorted(set(c.ids)) == sorted(accepted), f"the listener on node {n} received every message", len(set(c.ids)))
        check(len(c.ids) == len(set(c.ids)), f"the listener on node {n} received each exactly once",
              f"{len(c.ids) - len(set(c.ids))} duplicates")
    for c in cols.values():
        await c.conn.close()


async def kill():
    cols = {}
    for n in (1, 2):
        c = await connect(ws(n), ["PHID-USER-c"])
        await ping(c)
        cols[n] = Collector(c)
    accepted = []
    t = threading.Thread(target=post_all, args=([1, 2], 300, "kill", accepted, 0.01))
    t.start()
    await asyncio.sleep(1.0)
    killed_at = time.time()
    for pid in os.environ["KILL_PIDS"].split():
        os.killpg(int(pid), signal.SIGKILL)   # the node's processes, nginx's workers included
    # A listener of the dead node moves to a survivor and replays.
    moved = await connect(ws(1), ["PHID-USER-c"])
    await moved.send(json.dumps({"command": "replay", "data": {"age": 60000}}))
    moved_col = Collector(moved)
    while t.is_alive():
        await asyncio.sleep(0.1)
    check(len(accepted) == 300, "nodes 1 and 2 accepted every post while node 3 was dead", len(accepted))
    await wait_for(lambda: all(len(c.ids) >= 300 for c in cols.values()), 30)
    for n, c in cols.items():
        check(sorted(set(c.ids)) == sorted(accepted), f"node {n}'s listener kept receiving every message", len(set(c.ids)))
        check(len(c.ids) == len(set(c.ids)), f"node {n}'s listener: no duplicates")
        after = [b - a for a, b in zip(c.times, c.times[1:]) if b > killed_at]
        check(after and max(after) < 1.0, f"node {n}'s listener never waited a second or more after the kill",
              max(after) if after else None)
    await wait_for(lambda: len(set(moved_col.ids)) >= 300, 30)
    check(set(accepted) <= set(moved_col.ids), "a listener of the dead node, moved to node 1, got everything by replay",
          len(set(accepted) - set(moved_col.ids)))
    for c in list(cols.values()) + [moved_col]:
        await c.conn.close()
    with open(os.path.join(TH_DIR, "kill-accepted.json"), "w") as f:
        json.dump(accepted, f)


async def backlog():
    accepted = json.load(open(os.path.join(TH_DIR, "kill-accepted.json")))
    db = os.path.join(TH_DIR, "node3", "state", "queue.db")

    def held():
        con = sqlite3.connect(db, timeout=5)
        ids = {r[0] for r in con.execute("SELECT unique_id FROM messages")}
        con.close()
        return ids

    got = await wait_for(lambda: set(accepted) <= held(), 30)
    check(got, "the restarted node 3 got the backlog it missed from its peers",
          len(set(accepted) - held()))
    r = await connect(ws(3), ["PHID-USER-c"])
    await r.send(json.dumps({"command": "replay", "data": {"age": 60000}}))
    col = Collector(r)
    await wait_for(lambda: set(accepted) <= set(col.ids), 15)
    check(set(accepted) <= set(col.ids), "a listener on the restarted node 3 replays what was posted while it was dead",
          len(set(accepted) - set(col.ids)))
    # Live traffic on node 3 reaches the others again.
    others = {}
    for n in (1, 2):
        c = await connect(ws(n), ["PHID-USER-c"])
        await ping(c)
        others[n] = Collector(c)
    res = []
    post_all([3], 20, "after", res)
    await wait_for(lambda: all(len(c.ids) >= 20 for c in others.values()), 15)
    for n, c in others.items():
        check(sorted(c.ids) == sorted(res), f"after the restart, node 3's messages reach node {n} once each", len(c.ids))
    await r.close()


async def partition():
    # th_py reads this process's output, so TAP lines go to stdout as usual;
    # the shell half restarts nginx when asked through files in TH_DIR.
    listener = await connect(ws(2), ["PHID-USER-c"])
    await ping(listener)
    col = Collector(listener)
    os.killpg(int(os.environ["CUT_PID"]), signal.SIGKILL)
    open(os.path.join(TH_DIR, "partition-cut"), "w").close()
    accepted = []
    post_all([1, 3], 100, "part", accepted)
    check(len(accepted) == 100, "nodes 1 and 3 accept every post during the partition", len(accepted))
    await asyncio.sleep(1.0)
    check(not set(col.ids) & set(accepted), "during the partition node 2's listener gets none of them")
    open(os.path.join(TH_DIR, "partition-heal"), "w").close()
    await wait_for(lambda: os.path.exists(os.path.join(TH_DIR, "partition-healed")), 30)
    await wait_for(lambda: set(accepted) <= set(col.ids), 30)
    await asyncio.sleep(1.0)
    check(set(accepted) <= set(col.ids), "after the partition heals node 2's listener gets every message",
          len(set(accepted) - set(col.ids)))
    check(len(col.ids) == len(set(col.ids)), "... each exactly once", len(col.ids) - len(set(col.ids)))
    await listener.close()


PHASES = {"mesh": mesh, "kill": kill, "backlog": backlog, "partition": partition}
asyncio.run(asyncio.wait_for(PHASES[PHASE](), 200))
finish()
