#!/usr/bin/python3
"""summarize.py RUNS.jsonl MACHINE.txt: the figures of bench/run as Markdown.

Every figure is the median of the runs with the same label, with the
spread (min-max) and the number of runs; each is set against the stock
Aphlict reference and the target of issue 4."""

import json
import statistics
import sys
from collections import OrderedDict

runs = OrderedDict()
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    try:
        d = json.loads(line)
    except ValueError:
        continue
    runs.setdefault(d["label"], []).append(d)
machine = open(sys.argv[2]).read().strip() if len(sys.argv) > 2 else ""


def server(d, name):
    for s in d.get("servers", []):
        if s["name"] == name:
            return s
    return None


def stat(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values), len(values)


def fmt(v, digits=None):
    if v is None:
        return "-"
    if digits is None and float(v).is_integer() and abs(v) < 1e6:
        return f"{int(v):,}"
    if digits is None:
        a = abs(v)
        digits = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 1 else 3
    return f"{v:,.{digits}f}"


def cell(st, unit="", digits=None):
    if st is None:
        return "not measured"
    med, lo, hi, n = st
    if n == 1:
        return f"{fmt(med, digits)}{unit} (1 run)"
    return f"{fmt(med, digits)}{unit} ({fmt(lo, digits)}–{fmt(hi, digits)}, {n} runs)"


def per(label, fn):
    out = []
    for d in runs.get(label, []):
        try:
            out.append(fn(d))
        except (KeyError, TypeError, ZeroDivisionError):
            out.append(None)
    return stat(out)


def push_sched(d, name="push"):
    s = server(d, name)
    return s["sched_s"] if s and s["sched_s"] >= 0 else None


def verdict(st, target, lower_is_better=True):
    if st is None:
        return "not measured"
    med = st[0]
    if lower_is_better:
        if med <= target:
            return "**met**"
        if not target:
            return "**missed**"
        r = med / target
        return f"**missed**: {100 * (r - 1):.0f}% over" if r < 2 else f"**missed**: {r:,.1f}× over"
    if med >= target:
        return "**met**"
    return f"**missed**: {100 * (1 - med / target):.0f}% short"


rows = []   # workload, figure, measured, reference, ratio, target, verdict


def ratio_less(st, ref):
    """For figures where less is better: how many times less than the reference."""
    if not st or not st[0]:
        return "-"
    r = ref / st[0]
    return f"{r:,.1f}× less" if r >= 1 else f"{1 / r:,.1f}× more"


def ratio_more(st, ref):
    return f"{st[0] / ref:,.2f}×" if st else "-"


# --- shared fan-out ---
if "fanout" in runs:
    cpu = per("fanout", lambda d: push_sched(d) * 1e6 / d["received"])
    dps = per("fanout", lambda d: d["deliveries_per_s"])
    p99 = per("fanout", lambda d: d["lat_us"]["p99"] / 1000)
    p50 = per("fanout", lambda d: d["lat_us"]["p50"] / 1000)
    got = per("fanout", lambda d: 100.0 * d["received"] / d["expected"])
    dup = per("fanout", lambda d: d["duplicates"])
    lgc = per("fanout", lambda d: d["loadgen_cpu_s"] * 1e6 / max(d["received"], 1))
    rows += [
        ("shared fan-out", "server CPU per delivery", cell(cpu, " µs"), "17.8 µs", ratio_less(cpu, 17.8), "≤ 1.8 µs", verdict(cpu, 1.8)),
        ("shared fan-out", "deliveries per second", cell(dps, "/s"), "41,000/s", ratio_more(dps, 41000), "-", ""),
        ("shared fan-out", "latency p99 (p50)", cell(p99, " ms") + f"; p50 {cell(p50, ' ms')}", "2,900 ms", ratio_less(p99, 2900), "≤ 50 ms", verdict(p99, 50)),
        ("shared fan-out", "delivered within the time bound", cell(got, " %"), "-", "-", "100 %", verdict(got, 100, False)),
        ("shared fan-out", "duplicates", cell(dup), "-", "-", "0", verdict(dup, 0)),
        ("shared fan-out", "load generator CPU per frame (for scale)", cell(lgc, " µs"), "-", "-", "-", ""),
    ]
if "fanout-paced" in runs:
    cpu = per("fanout-paced", lambda d: push_sched(d) * 1e6 / d["received"])
    p99 = per("fanout-paced", lambda d: d["lat_us"]["p99"] / 1000)
    p50 = per("fanout-paced", lambda d: d["lat_us"]["p50"] / 1000)
    got = per("fanout-paced", lambda d: 100.0 * d["received"] / d["expected"])
    name = "shared fan-out, paced: 2,000 listeners, 250 messages at 25/s"
    rows += [
        (name, "latency p99 (p50)", cell(p99, " ms") + f"; p50 {cell(p50, ' ms')}", "-", "-", "≤ 50 ms", verdict(p99, 50)),
        (name, "daemon CPU per delivery, messages one at a time", cell(cpu, " µs"), "17.8 µs", ratio_less(cpu, 17.8),
         "≤ 10.1 µs (1.3 × one 7.8 µs write)", verdict(cpu, 10.1)),
        (name, "delivered", cell(got, " %"), "-", "-", "100 %", verdict(got, 100, False)),
    ]

# --- targeted ---
for n in ("10000", "1000"):
    lab = f"targeted-{n}"
    if lab not in runs:
        continue
    cpu = per(lab, lambda d: push_sched(d) * 1e6 / d["accepted"])
    p99 = per(lab, lambda d: d["lat_us"]["p99"] / 1000)
    got = per(lab, lambda d: 100.0 * d["received"] / d["expected"])
    name = f"targeted, {int(n):,} listeners"
    if n == "10000":
        rows.append((name, "server CPU per message", cell(cpu, " µs"), "2,800 µs", ratio_less(cpu, 2800), "≤ 28 µs", verdict(cpu, 28)))
    else:
        rows.append((name, "server CPU per message", cell(cpu, " µs"), "-", "-", "(the same as with 10,000)", ""))
    rows.append((name, "latency p99", cell(p99, " ms"), "-", "-", "-", ""))
    rows.append((name, "delivered", cell(got, " %"), "-", "-", "100 %", verdict(got, 100, False)))
if "targeted-10000" in runs and "targeted-1000" in runs:
    a = per("targeted-10000", lambda d: push_sched(d) * 1e6 / d["accepted"])
    b = per("targeted-1000", lambda d: push_sched(d) * 1e6 / d["accepted"])
    if a and b:
        g = a[0] / b[0]
        rows.append(("targeted", "growth of CPU per message, 1,000 → 10,000 listeners", f"{g:.2f}×", "(scans every listener)", "-", "not growing (≈ 1×)",
                     "**met**" if g <= 1.25 else f"**missed**: grows {g:.1f}×"))

# --- idle ---
if "idle" in runs:
    mem = per("idle", lambda d: server(d, "push")["rss_bytes_per_conn"])
    con = per("idle", lambda d: d["connect_s"])
    cpc = per("idle", lambda d: server(d, "push")["cpu_s_connect"] * 1e6 / d["connected"])
    ok = per("idle", lambda d: d["connected"])
    rows += [
        ("idle, 19,900 × 5 PHIDs", "daemon RSS per connection", cell(mem, " B"), "7,600–8,800 B", ratio_less(mem, 7600) if mem else "-", "≤ 2,048 B", verdict(mem, 2048)),
        ("idle, 19,900 × 5 PHIDs", "listeners connected and subscribed", cell(ok), "-", "-", "19,900", verdict(ok, 19900, False)),
        ("idle, 19,900 × 5 PHIDs", "time to connect all", cell(con, " s"), "-", "-", "-", ""),
        ("idle, 19,900 × 5 PHIDs", "daemon CPU per connection set up", cell(cpc, " µs"), "-", "-", "-", ""),
    ]

# --- ingest ---
REF = {"keepalive": {1: 3900, 16: 12900, 64: 16800}, "newconn": {1: 2400, 16: 6100, 64: 6000}}
for mode, what in (("keepalive", "keep-alive"), ("newconn", "new connection per POST")):
    for f in (1, 16, 64):
        lab = f"ingest-{mode}-{f}"
        if lab not in runs:
            continue
        pps = per(lab, lambda d: d["posts_per_s"])
        p50 = per(lab, lambda d: d["post_lat_us"]["p50"] / 1000)
        p99 = per(lab, lambda d: d["post_lat_us"]["p99"] / 1000)
        fail = per(lab, lambda d: d["post_failed"])
        cpu = per(lab, lambda d: sum(server(d, n)["sched_s"] for n in ("admin", "nginx", "push")) * 1e6 / d["accepted"])
        ref = REF[mode][f]
        rows.append((f"ingest, {what}, {f} in flight", "POSTs per second", cell(pps, "/s"), f"{ref:,}/s", ratio_more(pps, ref), f"≥ {ref:,}/s", verdict(pps, ref, False)))
        rows.append((f"ingest, {what}, {f} in flight", "POST latency p50 / p99", f"{cell(p50, ' ms')} / {cell(p99, ' ms')}", "-", "-", "-", ""))
        rows.append((f"ingest, {what}, {f} in flight", "server CPU per message (nginx + admin + push)", cell(cpu, " µs"), "-", "-", "-", ""))
        if fail and fail[2] > 0:
            rows.append((f"ingest, {what}, {f} in flight", "POSTs failed", cell(fail), "-", "-", "0", verdict(fail, 0)))

# --- storm ---
if "storm" in runs:
    back = per("storm", lambda d: d["storm"]["all_back_s"] if d["storm"]["all_back_s"] >= 0 else None)
    drop = per("storm", lambda d: d["storm"]["from_drop_s"] if d["storm"]["from_drop_s"] >= 0 else None)
    first = per("storm", lambda d: d["storm"]["first_back_s"])
    miss = per("storm", lambda d: d["storm"]["missing"])
    nback = per("storm", lambda d: d["storm"]["back"])
    down = per("storm", lambda d: d["storm"]["hook_down_s"])
    cpu = per("storm", lambda d: push_sched(d))
    rows += [
        ("reconnect storm, 10,000", "all back, subscribed and replayed, after the restart", cell(back, " s"), "(replay finds nothing)", "-", "≤ 5 s", verdict(back, 5)),
        ("reconnect storm, 10,000", "… counted from the drop (SIGTERM)", cell(drop, " s"), "-", "-", "-", ""),
        ("reconnect storm, 10,000", "first listener back after the restart", cell(first, " s"), "-", "-", "-", ""),
        ("reconnect storm, 10,000", "listeners back", cell(nback), "-", "-", "10,000", verdict(nback, 10000, False)),
        ("reconnect storm, 10,000", "replayed messages missing", cell(miss), "all", "-", "0", verdict(miss, 0)),
        ("reconnect storm, 10,000", "old daemon's shutdown (SIGTERM to exit)", cell(down, " s"), "-", "-", "-", ""),
        ("reconnect storm, 10,000", "new daemon's CPU until all replayed", cell(cpu, " s"), "-", "-", "-", ""),
    ]

# --- cluster ---
if "cluster" in runs:
    for i, node in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.4")):
        def copies(d, i=i):
            u = d["per_url"][i]
            return (u["received"] + u["duplicates"]) / u["expected"]
        def dups(d, i=i):
            return d["per_url"][i]["duplicates"]
        def got(d, i=i):
            u = d["per_url"][i]
            return 100.0 * u["received"] / u["expected"]
        c, du, g = per("cluster", copies), per("cluster", dups), per("cluster", got)
        rows.append((f"cluster of 3, node {node}", "copies per listener per message", cell(c, "", 3), "2 (nodes not POSTed to)", "-", "exactly 1",
                     "**met**" if c and c[1] == 1 and c[2] == 1 else "**missed**"))
        rows.append((f"cluster of 3, node {node}", "delivered / duplicates", f"{cell(g, ' %')} / {cell(du)}", "-", "-", "100 % / 0", ""))
    p99 = per("cluster", lambda d: d["lat_us"]["p99"] / 1000)
    rows.append(("cluster of 3", "latency p99 (POST to any node → every listener)", cell(p99, " ms"), "-", "-", "-", ""))

# --- moderate load latency ---
if "latency" in runs:
    p50 = per("latency", lambda d: d["lat_us"]["p50"] / 1000)
    p99 = per("latency", lambda d: d["lat_us"]["p99"] / 1000)
    mx = per("latency", lambda d: d["lat_us"]["max"] / 1000)
    cpd = per("latency", lambda d: push_sched(d) * 1e6 / d["received"])
    rows += [
        ("moderate load, 1,000 listeners, 100 msg/s", "end-to-end latency p99", cell(p99, " ms"), "-", "-", "≤ 5 ms", verdict(p99, 5)),
        ("moderate load, 1,000 listeners, 100 msg/s", "daemon CPU per delivery, messages one at a time (all of the daemon's CPU / deliveries)",
         cell(cpd, " µs"), "-", "-", "≤ 10.1 µs (1.3 × one 7.8 µs write)", verdict(cpd, 10.1)),
        ("moderate load, 1,000 listeners, 100 msg/s", "end-to-end latency p50 / max", f"{cell(p50, ' ms')} / {cell(mx, ' ms')}", "-", "-", "-", ""),
    ]

print("## Figures (generated by `bench/run`)\n")
if machine:
    print("```\n" + machine + "\n```\n")
print("Median of the runs, with the spread (min–max) and the number of runs.")
print("\"Reference\" is stock Aphlict (Node.js 20, ws 7.5) from the issue's table;")
print("\"ratio\" is how this project compares with it.\n")
loads = {}
for lab, ds in runs.items():
    for d in ds:
        for k in ("loadavg_start", "loadavg_end"):
            if d.get(k, -1) >= 0:
                loads.setdefault(lab.split("-")[0], []).append(d[k])
if loads:
    allv = [v for vs in loads.values() for v in vs]
    print(f"The machine is shared: its 1-minute load average during the runs went from "
          f"{min(allv):.1f} to {max(allv):.1f} (2 cores), per workload: " +
          ", ".join(f"{k} {min(v):.1f}–{max(v):.1f}" for k, v in loads.items()) + ".\n")
print("| workload | figure | measured | reference | ratio | target | |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print("### Commands\n")
print("Each workload's load generator command, as run in the first repetition (ports, pids and")
print("paths differ per run; `bench/run` starts the stack and passes them):\n")
for lab, ds in runs.items():
    print(f"- `{lab}`: `{ds[0].get('cmd', '?')}`")
print()
