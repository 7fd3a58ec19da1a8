"""Scrapes /metrics after known traffic and checks the exposition format
and the figures (see metrics.sh)."""

import asyncio
import json
import os
import re
import urllib.request

from wstest import check, connect, finish, frames, ping, post

WS, ADMIN = os.environ["WS"], os.environ["ADMIN"]

EXPECTED = {
    "aphlict_push_up": ("gauge", set()),
    "aphlict_push_heartbeat_age_seconds": ("gauge", set()),
    "aphlict_messages_in_total": ("counter", {"instance"}),
    "aphlict_messages_out_total": ("counter", {"instance"}),
    "aphlict_listeners": ("gauge", {"instance"}),
    "aphlict_listeners_connected_total": ("counter", {"instance"}),
    "aphlict_queue_messages": ("gauge", {"instance"}),
    "aphlict_queue_oldest_age_seconds": ("gauge", {"instance"}),
    "aphlict_peer_lag_messages": ("gauge", {"peer"}),
    "aphlict_peer_lag_seconds": ("gauge", {"peer"}),
    "aphlict_peer_errors_total": ("counter", {"peer"}),
    "aphlict_peer_relayed_total": ("counter", {"peer"}),
    "aphlict_delivery_latency_seconds": ("histogram", {"le"}),
    "aphlict_listeners_cut_total": ("counter", set()),
    "aphlict_replay_frames_total": ("counter", set()),
}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape():
    with urllib.request.urlopen(ADMIN + "/metrics", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def parse(text):
    types, helps, samples, bad = {}, set(), [], []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, t = line.split(" ", 3)
            types[name] = t
        elif line.startswith("# HELP "):
            helps.add(line.split(" ", 3)[2])
        elif line:
            m = SAMPLE.match(line)
            if not m:
                bad.append(line)
                continue
            labels = dict(LABEL.findall(m.group(3) or ""))
            samples.append((m.group(1), labels, float(m.group(4))))
    return types, helps, samples, bad


def value(samples, name, **labels):
    for n, l, v in samples:
        if n == name and all(l.get(k) == x for k, x in labels.items()):
            return v
    return None


async def main():
    a = await connect(WS + "/", ["PHID-USER-m"])
    b = await connect(WS + "/~acme/", ["PHID-USER-m"])
    await ping(a), await ping(b)
    for i in range(5):
        post(ADMIN + "/", {"type": "notification", "key": str(i), "subscribers": ["PHID-USER-m"]})
    post(ADMIN + "/?instance=acme", {"type": "notification", "key": "x", "subscribers": ["PHID-USER-m"]})
    await frames(a, 5), await frames(b, 1)
    r = await connect(WS + "/", ["PHID-USER-m"])
    await r.send(json.dumps({"command": "replay", "data": {"age": 60000}}))
    await frames(r, 5)
    await asyncio.sleep(2.2)   # two heartbeats: the daemon's figures are written

    status, ctype, text = scrape()
    check(status == 200, "/metrics answers 200", status)
    check(ctype and ctype.startswith("text/plain; version=0.0.4"), "... as text/plain; version=0.0.4", ctype)
    types, helps, samples, bad = parse(text)
    check(not bad, "every line is a comment or a valid sample", bad[:3])
    for name, (t, labels) in EXPECTED.items():
        check(types.get(name) == t, f"{name} has TYPE {t}", types.get(name))
        check(name in helps, f"{name} has a HELP line")
        mine = [(n, l) for n, l, _ in samples if n == name or (t == "histogram" and n.startswith(name + "_"))]
        check(mine, f"{name} has samples")
        if t != "histogram":
            check(all(set(l) == labels for _, l in mine), f"{name} has the labels {sorted(labels) or 'none'}",
                  [l for _, l in mine][:2])
    check(value(samples, "aphlict_push_up") == 1, "aphlict_push_up is 1 while the daemon runs")
    check(value(samples, "aphlict_messages_in_total", instance="default") == 5, "messages in, per instance (default: 5)")
    check(value(samples, "aphlict_messages_in_total", instance="acme") == 1, "messages in, per instance (acme: 1)")
    check(value(samples, "aphlict_messages_out_total", instance="default") == 10,
          "messages out counts live and replayed frames (5 + 5)", value(samples, "aphlict_messages_out_total", instance="default"))
    check(value(samples, "aphlict_listeners", instance="default") == 2, "listeners connected, per instance")
    check(value(samples, "aphlict_queue_messages", instance="default") == 5, "queue depth, per instance")
    check(value(samples, "aphlict_replay_frames_total") == 5, "replay frames sent", value(samples, "aphlict_replay_frames_total"))
    check(value(samples, "aphlict_delivery_latency_seconds_count") == 6, "the latency histogram counts the 6 live frames",
          value(samples, "aphlict_delivery_latency_seconds_count"))
    buckets = [(l["le"], v) for n, l, v in samples if n == "aphlict_delivery_latency_seconds_bucket"]
    check(buckets and buckets[-1][0] == "+Inf" and buckets[-1][1] == 6, "... its +Inf bucket holds them all", buckets[-1:])
    check(all(x[1] <= y[1] for x, y in zip(buckets, buckets[1:])), "... and its buckets are cumulative")
    peers = [l["peer"] for n, l, _ in samples if n == "aphlict_peer_lag_messages"]
    check(len(peers) == 1 and peers[0].startswith("http://127.0.0.1:"), "the dead peer is listed", peers)
    check((value(samples, "aphlict_peer_lag_messages") or 0) >= 6, "... with the messages it has not got",
          value(samples, "aphlict_peer_lag_messages"))
    check((value(samples, "aphlict_peer_errors_total") or 0) >= 1, "... and its errors")
    for ws in (a, b, r):
        await ws.close()


asyncio.run(asyncio.wait_for(main(), 60))
finish()
