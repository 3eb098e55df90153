#!/usr/bin/env python3
"""Peak memory of large list responses, with and without the list byte budget.

    cargo build --release -p scim-server
    bench/list_memory.py [--bin target/release/scim-server] [--users 100] [--parallel 8]

Creates USERS users of about 900 KB each (55 addresses of 16 KiB: what the
default input limits allow under the 1 MiB body limit), then sends PARALLEL
concurrent `GET /Users?count=USERS`, and reports the server's peak RSS
(VmHWM) and its RSS afterwards. Run twice in the same invocation: once with
the default `--max-list-bytes` (8 MiB), once with the budget out of the way
(`--max-list-bytes` 1 TiB), the behaviour before the budget existed.
Standard library only; Linux only (reads /proc).
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024
    return out


def call(port, method, path, token, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def run(binary, users, parallel, max_list_bytes):
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log = open(f"{tmp}/server.log", "w+")
        proc = subprocess.Popen([binary, "--database-url", f"sqlite://{tmp}/m.db", "--json", "serve",
                                 "--bind", f"127.0.0.1:{port}", "--tenant-rate-limit", "0",
                                 "--max-list-bytes", str(max_list_bytes)],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            token = None
            for _ in range(300):
                log.seek(0)
                for line in log:
                    if '"secretToken"' in line:
                        token = json.loads(line)["secretToken"]
                if token:
                    break
                time.sleep(0.1)
            filler = "x" * 16000
            for i in range(users):
                status, data = call(port, "POST", "/scim/v2/default/Users", token, {
                    "userName": f"big{i}@example.net",
                    "addresses": [{"formatted": filler, "type": "work"} for _ in range(55)]})
                if status != 201:
                    sys.exit(f"create failed: {status} {data[:200]}")
            before = rss(proc.pid)
            sizes = []

            def reader():
                status, data = call(port, "GET", f"/scim/v2/default/Users?count={users}", token)
                sizes.append((status, len(data), json.loads(data).get("itemsPerPage")))

            threads = [threading.Thread(target=reader) for _ in range(parallel)]
            started = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.time() - started
            time.sleep(1)
            after = rss(proc.pid)
            return {"idle RSS MiB": round(before["VmRSS"], 1), "peak RSS MiB": round(after["VmHWM"], 1),
                    "RSS after MiB": round(after["VmRSS"], 1),
                    "items per response": sorted({s[2] for s in sizes}),
                    "bytes per response": max(s[1] for s in sizes), "seconds": round(elapsed, 2)}
        finally:
            proc.terminate()
            proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/release/scim-server")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--parallel", type=int, default=8)
    a = p.parse_args()
    rows = [("budget 8 MiB (default)", run(a.bin, a.users, a.parallel, 8 * 1024 * 1024)),
            ("no budget (before)", run(a.bin, a.users, a.parallel, 1 << 40))]
    keys = list(rows[0][1].keys())
    print(f"{a.parallel} x GET /Users?count={a.users} over {a.users} users of ~900 KB ({os.path.basename(a.bin)})")
    print("| run | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, r in rows:
        print(f"| {name} | " + " | ".join(str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
