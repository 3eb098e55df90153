#!/usr/bin/env python3
"""Fault and slow-client drills against a real scim-server, on SQLite and PostgreSQL.

Not part of CI (it kills servers and opens hundreds of sockets); its last
results are in docs/security.md. Standard library only.

    cargo build --release -p scim-server
    scripts/drill.py                                  # both backends, release binary
    scripts/drill.py --bin target/debug/scim-server --backends sqlite

Fault drill: WRITERS threads create users as fast as the server acknowledges
them; the server is killed with SIGKILL three times mid-load and restarted on
the same database; at the end every acknowledged (201) user must be readable.

Slow-client drill: SLOW connections from 127.0.0.1 send a request head and one
byte of a 100-byte body, then nothing; meanwhile a legitimate client on
127.0.0.2 sends requests. Reported: how the slow connections were answered,
and the legitimate client's successes and latency.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

PG_ADMIN_URL = os.environ.get("SCIM_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, db_url, port, extra):
        self.binary, self.db_url, self.port, self.extra = binary, db_url, port, extra
        self.proc = None
        self.token = None

    def start(self):
        log = tempfile.NamedTemporaryFile(prefix="drill-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [self.binary, "--database-url", self.db_url, "--json", "serve",
             "--bind", f"127.0.0.1:{self.port}", *self.extra],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit(f"server did not start; see {log.name}")
        if self.token is None:
            with open(log.name) as f:
                for line in f:
                    if '"secretToken"' in line:
                        self.token = json.loads(line)["secretToken"]
                        break
        if self.token is None:
            sys.exit(f"no Secret Token printed; see {log.name}")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def request(port, method, path, token, body=None, source=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def fault_drill(server, writers, seconds_between_kills):
    acknowledged = set()
    lock = threading.Lock()
    stop = threading.Event()
    errors = {"refused": 0, "other": 0}

    def writer(n):
        i = 0
        while not stop.is_set():
            name = f"drill-{n}-{i}-{uuid.uuid4().hex[:6]}@example.net"
            i += 1
            try:
                status, _ = request(server.port, "POST", "/scim/v2/default/Users", server.token,
                                    {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                     "userName": name, "active": True}, timeout=5)
            except OSError:
                with lock:
                    errors["refused"] += 1
                time.sleep(0.05)
                continue
            with lock:
                if status == 201:
                    acknowledged.add(name)
                else:
                    errors["other"] += 1

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(writers)]
    for t in threads:
        t.start()
    for _ in range(3):
        time.sleep(seconds_between_kills)
        server.kill()
        time.sleep(0.5)
        server.start()
    time.sleep(seconds_between_kills)
    stop.set()
    for t in threads:
        t.join()
    # Every acknowledged user must be there.
    missing = 0
    for name in acknowledged:
        status, data = request(server.port, "GET",
                               f"/scim/v2/default/Users?filter=userName%20eq%20%22{name}%22",
                               server.token)
        if status != 200 or json.loads(data)["totalResults"] != 1:
            missing += 1
    return {"acknowledged": len(acknowledged), "missing": missing,
            "connection errors (during kills)": errors["refused"], "non-201 answers": errors["other"]}


def slow_client_drill(server, slow, legit):
    held = []
    head = ("POST /activate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n{").encode()
    opened = 0
    for _ in range(slow):
        try:
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(head)
            held.append(s)
            opened += 1
        except OSError:
            pass
    time.sleep(0.5)
    latencies, ok = [], 0
    for _ in range(legit):
        started = time.time()
        try:
            status, _ = request(server.port, "GET", "/scim/v2/default/Users?count=1", server.token,
                                source="127.0.0.2", timeout=10)
            ok += status == 200
        except OSError:
            pass
        latencies.append((time.time() - started) * 1000)
    answers = {}
    for s in held:
        s.settimeout(60)
        try:
            line = s.recv(64).split(b"\r\n")[0].decode(errors="replace") or "closed"
        except OSError as e:
            line = type(e).__name__
        answers[line] = answers.get(line, 0) + 1
        s.close()
    latencies.sort()
    return {"slow connections opened": opened,
            "their answers": ", ".join(f"{v} x {k}" for k, v in sorted(answers.items())),
            "legitimate requests ok": f"{ok}/{legit}",
            "legitimate p50 ms": round(latencies[len(latencies) // 2], 1),
            "legitimate p99 ms": round(latencies[int(len(latencies) * 0.99) - 1], 1)}


CREATED = []


def drop_databases():
    for name in CREATED:
        subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       check=False)


def database(backend, tmp):
    if backend == "sqlite":
        return f"sqlite://{tmp}/drill-{uuid.uuid4().hex[:8]}.db"
    name = f"scim_drill_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f"CREATE DATABASE {name}"], check=True)
    CREATED.append(name)
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/release/scim-server")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--kill-every", type=float, default=3.0, help="seconds between SIGKILLs")
    p.add_argument("--slow", type=int, default=600)
    p.add_argument("--legit", type=int, default=100)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            url = database(backend, tmp)
            s = Server(args.bin, url, free_port(), ["--tenant-rate-limit", "0"])
            s.start()
            try:
                for k, v in fault_drill(s, args.writers, args.kill_every).items():
                    rows.append((backend, "fault", k, v))
            finally:
                s.stop()
            url = database(backend, tmp)
            s = Server(args.bin, url, free_port(), ["--body-timeout-secs", "10"])
            s.start()
            try:
                for k, v in slow_client_drill(s, args.slow, args.legit).items():
                    rows.append((backend, "slow clients", k, v))
            finally:
                s.stop()
    drop_databases()
    width = max(len(r[2]) for r in rows)
    print(f"| backend | drill | {'measure'.ljust(width)} | result |")
    print(f"|---|---|{'-' * (width + 2)}|---|")
    for b, d, k, v in rows:
        print(f"| {b} | {d} | {k.ljust(width)} | {v} |")
    bad = [r for r in rows if r[2] == "missing" and r[3] != 0]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
