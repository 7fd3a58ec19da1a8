"""The client API of PROTOCOL.md section 3, checked with real WebSocket
clients against the running stack. WS and ADMIN come from the shell half
(push-protocol.sh)."""

import asyncio
import json
import os
import time

from wstest import check, close_code, connect, finish, frames, get, ping, post

WS = os.environ["WS"]
ADMIN = os.environ["ADMIN"]


def publish(phids, instance=None, **fields):
    url = ADMIN + "/" + (f"?instance={instance}" if instance else "")
    msg = {"type": "notification", "subscribers": phids, **fields}
    status, body = post(url, msg)
    assert status == 200, (status, body)
    return msg


async def main():
    # Subscribe, then a message for us and one for somebody else.
    a = await connect(WS + "/", ["PHID-USER-a"])
    b = await connect(WS + "/", ["PHID-USER-b", "PHID-USER-shared"])
    await ping(a), await ping(b)
    publish(["PHID-USER-a"], key="1", path="/T1")
    got = await frames(a, 1)
    check(len(got) == 1 and got[0].get("key") == "1", "a subscribed listener receives the message", got)
    check(got and got[0].get("touched") and len(got[0]["touched"][0]) == 16, "the frame has touched filled in", got)
    check(got and got[0].get("path") == "/T1", "the frame passes every field through", got)
    check(got and len(got[0].get("uniqueID", "")) == 32, "the frame carries the uniqueID given at ingest", got)
    check(await ping(b) == [], "a listener not subscribed to it receives nothing")

    # A message to two PHIDs of one listener arrives once.
    publish(["PHID-USER-b", "PHID-USER-shared", "PHID-USER-a"], key="2")
    got_b = await frames(b, 1)
    check(len(got_b) == 1 and got_b[0]["key"] == "2", "a listener subscribed to two of its PHIDs gets it", got_b)
    check(await ping(b) == [], "... exactly once")
    check(len(await frames(a, 1)) == 1, "every subscribed listener gets it")

    # Unsubscribe.
    await a.send(json.dumps({"command": "unsubscribe", "data": ["PHID-USER-a"]}))
    await ping(a)
    publish(["PHID-USER-a"], key="3")
    await ping(b)
    await asyncio.sleep(0.3)
    check(await ping(a) == [], "after unsubscribe, nothing arrives")

    # Ping.
    await a.send(json.dumps({"command": "ping", "data": None}))
    pong = await frames(a, 1)
    check(pong == [{"type": "pong"}], "ping is answered with {\"type\": \"pong\"}", pong)

    # Instances, both ways.
    acme = await connect(WS + "/ws/~acme/", ["PHID-USER-a", "PHID-USER-i"])
    dflt = await connect(WS + "/", ["PHID-USER-i"])
    await ping(acme), await ping(dflt)
    publish(["PHID-USER-i"], instance="acme", key="acme-1")
    got = await frames(acme, 1)
    check(len(got) == 1 and got[0]["key"] == "acme-1", "instance acme (path /ws/~acme/) gets acme's message", got)
    check(await ping(dflt) == [], "the default instance does not get acme's message")
    publish(["PHID-USER-i"], key="default-1")
    got = await frames(dflt, 1)
    check(len(got) == 1 and got[0]["key"] == "default-1", "the default instance gets its own message", got)
    check(await ping(acme) == [], "acme does not get the default instance's message")
    other = await connect(WS + "/x/~ac/me/", ["PHID-USER-i"])
    await ping(other)
    publish(["PHID-USER-i"], instance="acme", key="acme-2")
    check(len(await frames(other, 1)) == 1, "the instance is the text after ~ with every / removed (/x/~ac/me/ = acme)")
    await frames(acme, 1)

    # Replay: oldest first, only what the listener is subscribed to, only its instance.
    for i in range(3):
        publish(["PHID-USER-r"], key=f"r{i}")
    publish(["PHID-USER-not-r"], key="rx")
    publish(["PHID-USER-r"], instance="acme", key="r-acme")
    await asyncio.sleep(0.3)
    r = await connect(WS + "/", ["PHID-USER-r"])
    await r.send(json.dumps({"command": "replay", "data": {"age": 60000}}))
    got = await ping(r)
    check([f["key"] for f in got] == ["r0", "r1", "r2"], "replay sends the subscribed messages of the instance, oldest first",
          [f.get("key") for f in got])
    await asyncio.sleep(1.2)
    publish(["PHID-USER-r"], key="r-new")
    await frames(r, 1)
    r2 = await connect(WS + "/", ["PHID-USER-r"])
    await r2.send(json.dumps({"command": "replay", "data": {"age": 1000}}))
    got = await ping(r2)
    check([f["key"] for f in got] == ["r-new"], "replay honours age", [f.get("key") for f in got])
    r3 = await connect(WS + "/", ["PHID-USER-r"])
    await r3.send(json.dumps({"command": "replay", "data": {}}))
    got = await ping(r3)
    check([f["key"] for f in got] == ["r0", "r1", "r2", "r-new"], "replay without age means 60 s",
          [f.get("key") for f in got])
    # A listener with many subscriptions (past the daemon's few-subscriptions
    # shortcut, 16) replays the same way; one PHID of a message is enough.
    many = [f"PHID-USER-m{i}" for i in range(40)]
    publish(["PHID-USER-elsewhere", "PHID-USER-m39"], key="m-last")
    publish(["PHID-USER-m0"], key="m-first-only")
    r4 = await connect(WS + "/", many + ["PHID-USER-r"])
    await r4.send(json.dumps({"command": "replay", "data": {}}))
    got = await ping(r4)
    check([f["key"] for f in got] == ["r0", "r1", "r2", "r-new", "m-last", "m-first-only"],
          "replay with 41 subscriptions sends each subscribed message once, oldest first", [f.get("key") for f in got])
    r5 = await connect(WS + "/", ["PHID-USER-elsewhere", "PHID-USER-m0"])
    await r5.send(json.dumps({"command": "replay", "data": {}}))
    got = await ping(r5)
    check([f["key"] for f in got] == ["m-last", "m-first-only"],
          "replay with 2 subscriptions matches any PHID of a message", [f.get("key") for f in got])

    # Bad input: ignored, the connection stays open and keeps working.
    bad = await connect(WS + "/", ["PHID-USER-bad"])
    for desc, frame in [
        ("a binary frame", b"\x00\x01binary"),
        ("invalid JSON", "{not json"),
        ("a JSON array", "[1,2]"),
        ("an unknown command", json.dumps({"command": "launch", "data": 1})),
        ("subscribe with a non-list", json.dumps({"command": "subscribe", "data": "PHID-USER-x"})),
        ("subscribe with non-strings", json.dumps({"command": "subscribe", "data": [1, None, {"a": 1}]})),
        ("replay with a bad age", json.dumps({"command": "replay", "data": {"age": "soon"}})),
    ]:
        await bad.send(frame)
        try:
            await ping(bad)
            alive = True
        except Exception:
            alive = False
        check(alive, f"{desc} is ignored and the connection stays open")
    # Invalid UTF-8 in a text frame (sent raw: the client library refuses to).
    await bad.ensure_open()
    bad.transport.write(bytes([0x81, 0x84, 0, 0, 0, 0, 0xff, 0xfe, 0x7b, 0x7d]))
    try:
        await ping(bad)
        alive = True
    except Exception:
        alive = False
    check(alive, "a text frame of invalid UTF-8 is ignored (connection open)")
    publish(["PHID-USER-bad"], key="after-bad")
    got = await frames(bad, 1)
    check(len(got) == 1 and got[0]["key"] == "after-bad", "after every bad frame the listener still receives", got)

    # Limits: a frame over client.max_frame_bytes, too many subscriptions.
    big = await connect(WS + "/")
    await big.send(json.dumps({"command": "subscribe", "data": ["x" * 70000]}))
    code = await close_code(big)
    check(code and code[0] == 1009, "a frame over client.max_frame_bytes is refused with close code 1009", code)
    many = await connect(WS + "/")
    await many.send(json.dumps({"command": "subscribe", "data": [f"PHID-USER-{i}" for i in range(101)]}))
    code = await close_code(many)
    check(code and code[0] == 1008, "more PHIDs than client.max_subscriptions is refused with close code 1008", code)
    ok = await connect(WS + "/", [f"PHID-USER-{i}" for i in range(100)])
    check(await ping(ok) == [], "exactly client.max_subscriptions PHIDs is accepted")

    # /status/ is live once the daemon's heartbeat has been written.
    await asyncio.sleep(1.5)
    code, body = get(ADMIN + "/status/")
    st = json.loads(body)
    check(code == 200, "/status/ answers 200 while the daemon runs", (code, body))
    check(st.get("clients.active", 0) >= 5, "/status/ clients.active counts connected listeners", st)
    check(st.get("clients.total", 0) >= st.get("clients.active", 0) + 2, "/status/ clients.total counts closed ones too", st)
    check(st.get("messages.out", 0) >= 10, "/status/ messages.out counts frames written", st)
    check(0 < st.get("uptime", 0) < 600000, "/status/ uptime is the daemon's", st)
    check(st.get("history.size", 0) >= 5 and isinstance(st.get("history.age"), int), "/status/ history is filled", st)
    code, body = get(ADMIN + "/status/?instance=acme")
    st = json.loads(body)
    check(st.get("clients.active") == 2, "/status/?instance=acme counts acme's listeners only", st)

    for ws in (a, b, acme, dflt, other, r, r2, r3, bad, ok):
        await ws.close()


asyncio.run(asyncio.wait_for(main(), 120))
finish()
