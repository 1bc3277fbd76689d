"""A fault-injecting HTTP proxy for the judge tests: listens on 127.0.0.1 and forwards POSTs
to an upstream server, except that request i (counted from 0) meets the fault named at
position i of the plan; past the plan (or at "ok") it passes through. It logs one JSON
line per request (index, fault, time) and stops by itself after `--lifetime` seconds.

  python tests/fault_proxy.py --port P --upstream http://127.0.0.1:Q --plan delay,429,500,ok
      --log LOG [--delay 3] [--retry-after 1] [--repeat]

Faults: delay (sleep --delay s, then forward: past the client's timeout), 429 (with
Retry-After), 500, 503, malformed (200 with a body that is not JSON), truncated (200 with
the upstream's JSON cut in half), drop (close the connection without a response), badjson
(200 whose verdict text is not a JSON verdict). `--repeat` cycles the plan forever.
"""

import argparse
import http.client
import http.server
import json
import threading
import time
import urllib.parse


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--port", type=int, required=True)
  ap.add_argument("--upstream", required=True)
  ap.add_argument("--plan", default="")
  ap.add_argument("--log", required=True)
  ap.add_argument("--delay", type=float, default=3.0)
  ap.add_argument("--retry-after", type=float, default=1.0)
  ap.add_argument("--repeat", action="store_true")
  ap.add_argument("--lifetime", type=float, default=600.0)
  args = ap.parse_args()
  plan = [p for p in args.plan.split(",") if p]
  up = urllib.parse.urlparse(args.upstream)
  lock, count = threading.Lock(), [0]

  class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):  # quiet
      pass

    def _send(self, status, body: bytes, headers=None):
      self.send_response(status)
      for k, v in (headers or {}).items():
        self.send_header(k, v)
      self.send_header("Content-Type", "application/json")
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      self.wfile.write(body)

    def _forward(self, body: bytes) -> tuple[int, bytes]:
      conn = http.client.HTTPConnection(up.hostname, up.port, timeout=300)
      try:
        conn.request("POST", up.path.rstrip("/") + self.path.replace("/v1", "", 1), body,
                     {"Content-Type": "application/json"})  # fmt: skip
        r = conn.getresponse()
        return r.status, r.read()
      finally:
        conn.close()

    def do_GET(self):
      self._send(200, b'{"status": "ok"}')

    def do_POST(self):
      body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
      with lock:
        i = count[0]
        count[0] += 1
      fault = "ok"
      if plan:
        fault = plan[i % len(plan)] if args.repeat else (plan[i] if i < len(plan) else "ok")
      with open(args.log, "a") as f:
        f.write(json.dumps({"i": i, "fault": fault, "t": time.time()}) + "\n")
      if fault == "drop":
        self.close_connection = True
        self.connection.close()
        return
      if fault in ("429", "503"):
        self._send(int(fault), b'{"error": {"message": "slow down"}}',
                   {"Retry-After": str(args.retry_after)})  # fmt: skip
        return
      if fault == "500":
        self._send(500, b'{"error": {"message": "boom"}}')
        return
      if fault == "malformed":
        self._send(200, b"<html>not json</html>")
        return
      if fault == "delay":
        time.sleep(args.delay)
      status, data = self._forward(body)
      if fault == "truncated":
        data = data[: len(data) // 2]
      if fault == "badjson":
        obj = json.loads(data)
        obj["choices"][0]["message"]["content"] = "I think it is fine."
        data = json.dumps(obj).encode()
      self._send(status, data)

  server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
  threading.Timer(args.lifetime, server.shutdown).start()
  server.serve_forever()


if __name__ == "__main__":
  main()
