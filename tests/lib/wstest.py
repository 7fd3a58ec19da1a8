"""wstest.py - what the Python halves of the integration tests share: a
real WebSocket client (Debian's python3-websockets), HTTP posts to the admin
API, and result lines that tests/lib/harness.sh turns into TAP.

Each check prints "PASS <description>" or "FAIL <description>: <detail>";
th_py in harness.sh counts them. Every wait has a deadline."""

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request

import websockets

failures = 0


def check(cond, desc, detail=""):
    global failures
    if cond:
        print(f"PASS {desc}", flush=True)
    else:
        failures += 1
        print(f"FAIL {desc}: {detail}", flush=True)
    return cond


def proc_kb(pid, field):
    """A memory figure of process pid in KiB ("VmRSS", "VmHWM"), from
    /proc/PID/status."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def post(url, body, timeout=10):
    """POSTs body (a dict, or raw str/bytes) and returns (status, text)."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def connect(url, phids=None, **kw):
    ws = await websockets.connect(url, max_size=None, open_timeout=10, **kw)
    if phids is not None:
        await ws.send(json.dumps({"command": "subscribe", "data": phids}))
    return ws


async def frames(ws, n=None, timeout=3.0):
    """Reads frames as JSON until n arrived or timeout seconds pass quietly."""
    out = []
    while n is None or len(out) < n:
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout)
        except (asyncio.TimeoutError, websockets.ConnectionClosed):
            break
        out.append(json.loads(raw))
    return out


async def ping(ws, timeout=5.0):
    """Round-trips a protocol ping: once the pong is back, every frame sent
    before it has been handled by the server. Returns the frames received
    before the pong."""
    await ws.send(json.dumps({"command": "ping", "data": None}))
    before = []
    while True:
        f = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if f.get("type") == "pong":
            return before
        before.append(f)


async def close_code(ws, timeout=5.0):
    """Waits for the server to close; returns (code, reason) or None."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed as e:
        return e.code, e.reason
    except asyncio.TimeoutError:
        return None


def env(name):
    return os.environ[name]


def finish():
    sys.exit(1 if failures else 0)
