#!/usr/bin/python3
"""cdp.py - drives a Chromium started with --remote-debugging-port=PORT
over the DevTools protocol, one command per run, for the shell tests.

  cdp.py PORT open URL              opens URL in a new tab; prints its target id
  cdp.py PORT eval TARGET EXPR      prints the value of EXPR in that tab: a
                                    string as it is, anything else as JSON
  cdp.py PORT wait TARGET EXPR SEC  polls EXPR until it is truthy, at most SEC
                                    seconds; prints the last value; exit 1 if
                                    it never was
  cdp.py PORT screenshot TARGET FILE  writes a PNG of the tab to FILE
  cdp.py PORT close                 asks the browser to exit (Browser.close)

Every step is bounded in time; exit 2 on a protocol or connection error.
Only 127.0.0.1 is ever contacted. Needs the python3-websockets package."""

import asyncio
import base64
import json
import sys
import time
import urllib.request

import websockets

STEP_TIMEOUT = 15.0   # seconds for one request/answer exchange


class CDPError(Exception):
    pass


def http_json(port, path):
    # No proxy, whatever the environment says: this is 127.0.0.1 only.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open("http://127.0.0.1:%d%s" % (port, path), timeout=STEP_TIMEOUT) as r:
        return json.loads(r.read().decode())


class Session:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0

    async def call(self, method, params=None, timeout=STEP_TIMEOUT):
        self.next_id += 1
        mid = self.next_id
        await self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("%s: no answer in %.0f s" % (method, timeout))
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            if msg.get("id") != mid:
                continue   # an event, or the answer to something else
            if "error" in msg:
                raise CDPError("%s: %s" % (method, msg["error"].get("message", msg["error"])))
            return msg.get("result", {})


async def connect(url):
    return await asyncio.wait_for(websockets.connect(url, max_size=None, open_timeout=STEP_TIMEOUT,
                                                     close_timeout=2), STEP_TIMEOUT)


async def browser_session(port):
    return await connect(http_json(port, "/json/version")["webSocketDebuggerUrl"])


async def page_session(port, target):
    return await connect("ws://127.0.0.1:%d/devtools/page/%s" % (port, target))


async def evaluate(s, expr):
    r = await s.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                          "awaitPromise": True})
    if "exceptionDetails" in r:
        d = r["exceptionDetails"]
        raise CDPError("exception: %s" % d.get("exception", {}).get("description", d.get("text")))
    return r.get("result", {}).get("value")


async def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    port, cmd, args = int(argv[1]), argv[2], argv[3:]
    if cmd == "open" and len(args) == 1:
        ws = await browser_session(port)
        try:
            r = await Session(ws).call("Target.createTarget", {"url": args[0]})
        finally:
            await ws.close()
        print(r["targetId"])
        return 0
    if cmd == "close" and not args:
        ws = await browser_session(port)
        try:
            await Session(ws).call("Browser.close")
        except (CDPError, websockets.ConnectionClosed):
            pass   # the browser may go before it answers
        finally:
            await ws.close()
        return 0
    if cmd in ("eval", "wait", "screenshot") and len(args) >= 2:
        ws = await page_session(port, args[0])
        s = Session(ws)
        try:
            if cmd == "eval" and len(args) == 2:
                value = await evaluate(s, args[1])
                print(value if isinstance(value, str) else json.dumps(value))
                return 0
            if cmd == "wait" and len(args) == 3:
                deadline = time.monotonic() + float(args[2])
                value = None
                while True:
                    try:
                        value = await evaluate(s, args[1])
                    except CDPError:   # e.g. the page is still loading
                        value = None
                    if value:
                        print(json.dumps(value))
                        return 0
                    if time.monotonic() >= deadline:
                        print(json.dumps(value))
                        return 1
                    await asyncio.sleep(0.1)
            if cmd == "screenshot" and len(args) == 2:
                r = await s.call("Page.captureScreenshot", {"format": "png"})
                with open(args[1], "wb") as f:
                    f.write(base64.b64decode(r["data"]))
                return 0
        finally:
            await ws.close()
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(asyncio.wait_for(main(sys.argv), 120)))
    except (CDPError, OSError, asyncio.TimeoutError, websockets.WebSocketException, KeyError, ValueError) as e:
        sys.stderr.write("cdp.py: %s: %s\n" % (type(e).__name__, e))
        sys.exit(2)
