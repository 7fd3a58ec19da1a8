"""Cluster peers that misbehave (cluster-bad-peers.sh): one HTTP server per
port, each answering a relayed POST in its own way, and writing every body
it received, one JSON line each, to DIR/<mode>.bodies.

    fake_peer.py DIR MODE:PORT [MODE:PORT ...]

Modes:
  no-receipt   200 with an empty body
  not-json     200 with an HTML page
  bad-fp       200 with {"fingerprint": "has a \\" quote"}
  error-500    500 with a short text
  hang         reads the request, then answers nothing for 60 s
A file DIR/<mode>.good, once it exists, turns that peer into a good one:
200 with {"fingerprint": <the file's text>}."""

import http.server
import json
import os
import sys
import threading
import time

DIR = sys.argv[1]


def handler_for(mode):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, code, body, ctype="application/json"):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with open(os.path.join(DIR, mode + ".bodies"), "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
            good = os.path.join(DIR, mode + ".good")
            if os.path.exists(good):
                return self.answer(200, json.dumps({"fingerprint": open(good).read().strip()}))
            if mode == "no-receipt":
                return self.answer(200, "")
            if mode == "not-json":
                return self.answer(200, "<html><body>OK</body></html>", "text/html")
            if mode == "bad-fp":
                return self.answer(200, json.dumps({"fingerprint": 'has a " quote'}))
            if mode == "error-500":
                return self.answer(500, "internal error\n", "text/plain")
            if mode == "hang":
                time.sleep(60)
            self.close_connection = True

    return Handler


servers = []
for spec in sys.argv[2:]:
    mode, port = spec.split(":")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler_for(mode))
    srv.daemon_threads = True
    servers.append(srv)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
print("ready", flush=True)
time.sleep(600)
