#!/usr/bin/env python3
"""A mixed soak on two instances, one PostgreSQL and one Redis: does memory,
the tail or the error count drift when the server runs for a while?

Each client runs journeys, each request to either instance at random: one
journey in four starts with a sign-up of a new address (confirmation on, so
it is mailed), then a seeded user logs in, calls `me` three times, refreshes
twice, calls `me` again and logs out. The clients first run unpaced for
BENCH_SOAK_PROBE seconds to find the capacity of this mix, then paced at
BENCH_SOAK_LOAD (0.7) of it for BENCH_SOAK_SECONDS (600). Every
BENCH_SOAK_SAMPLE seconds (10) it prints both instances' RSS, the window's
requests, p50 and p99 and errors. At the end every sign-up answered must
have its mail written (mail goes to files in each instance's outbox; either
instance may send any mail).

Usage (after `cargo build --release`):
  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
  BENCH_REDIS_URL=redis://127.0.0.1:6379 python3 bench/soak.py
"""

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the single-instance benchmark's helpers)

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "600"))
PROBE = int(os.environ.get("BENCH_SOAK_PROBE", "30"))
LOAD = float(os.environ.get("BENCH_SOAK_LOAD", "0.7"))
SAMPLE = int(os.environ.get("BENCH_SOAK_SAMPLE", "10"))
CLIENTS = int(os.environ.get("BENCH_SOAK_CLIENTS", "8"))
SEEDED = 64

SIGNUP = "mutation($i: SignupInput!) { signup(input: $i) { confirmationRequired } }"
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { auth { accessToken refreshToken } } }"
ME = "{ me { id email } }"
REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"
LOGOUT = "mutation { logout }"


class Window:
    """Latencies and errors since the last sample, shared by the clients."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies, self.errors, self.signups = [], 0, 0

    def take(self):
        with self.lock:
            taken = (self.latencies, self.errors)
            self.latencies, self.errors = [], 0
            return taken


class Client:
    def __init__(self, servers, window):
        self.conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=30) for s in servers]
        self.window = window

    def call(self, query, variables=None, token=None):
        body = json.dumps({"query": query, "variables": variables or {}})
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = "Bearer " + token
        conn = random.choice(self.conns)
        start = time.perf_counter()
        try:
            conn.request("POST", "/graphql", body, headers)
            answer = json.loads(conn.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError) as e:
            conn.close()
            answer = {"errors": [{"message": str(e)}]}
        elapsed = time.perf_counter() - start
        with self.window.lock:
            self.window.latencies.append(elapsed)
            if answer.get("errors"):
                self.window.errors += 1
                print(f"  error: {answer['errors'][0].get('message')}", file=sys.stderr)
        return answer.get("data") or {}

    def journey(self, emails):
        if random.random() < 0.25:
            email = f"soak-{uuid.uuid4().hex[:12]}@example.com"
            data = self.call(SIGNUP, {"i": {"email": email, "password": run.PASSWORD}})
            if data.get("signup", {}).get("confirmationRequired"):
                with self.window.lock:
                    self.window.signups += 1
        login = self.call(LOGIN, {"i": {"email": random.choice(emails), "password": run.PASSWORD}})
        auth = (login.get("login") or {}).get("auth")
        if not auth:
            return
        access, refresh = auth["accessToken"], auth["refreshToken"]
        for _ in range(3):
            self.call(ME, token=access)
        for _ in range(2):
            rotated = self.call(REFRESH, {"t": refresh}).get("refreshToken")
            if not rotated:
                return
            access, refresh = rotated["accessToken"], rotated["refreshToken"]
        self.call(ME, token=access)
        self.call(LOGOUT, token=access)


def drive(servers, emails, window, seconds, journeys_per_second=None):
    """Runs CLIENTS clients for `seconds`; paced to `journeys_per_second` in all when given."""
    stop = time.time() + seconds
    done = [0] * CLIENTS

    def client(i):
        me = Client(servers, window)
        gap = CLIENTS / journeys_per_second if journeys_per_second else 0
        next_start = time.time() + random.random() * gap
        while time.time() < stop:
            if gap:
                time.sleep(max(0.0, next_start - time.time()))
                next_start += gap
            me.journey(emails)
            done[i] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads, done


def percentile(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def mails_written(servers):
    return sum(len(list((Path(s.dir.name) / "data" / "outbox").glob("*.eml"))) for s in servers)


def seed(server, db):
    """SEEDED accounts, signed up (and mailed) then confirmed in the database."""
    emails = [f"soak-seed{i}@example.com" for i in range(SEEDED)]
    for email in emails:
        data = server.graphql(SIGNUP, {"i": {"email": email, "password": run.PASSWORD}})
        assert data["signup"]["confirmationRequired"], data
    subprocess.run(["psql", db, "-qc", "UPDATE users SET email_verified_at = now()"], check=True)
    return emails


def main():
    db = run.fresh_postgres(ADMIN_URL)
    env = {
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"authql-soak-{uuid.uuid4().hex[:8]}:",
        "SECRET_KEY": "soak-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "PUBLIC_URL": "http://127.0.0.1:8080",
        "REQUIRE_EMAIL_CONFIRMATION": "true",
    }
    servers = [run.Server(db, env), run.Server(db, env)]
    try:
        emails = seed(servers[0], db)
        window = Window()
        threads, done = drive(servers, emails, window, PROBE)
        for t in threads:
            t.join()
        capacity = sum(done) / PROBE
        window.take()
        rate = capacity * LOAD
        print(f"capacity {capacity:.1f} journeys/s; soaking at {rate:.1f} for {SECONDS} s", file=sys.stderr)
        threads, done = drive(servers, emails, window, SECONDS, rate)
        print("| t (s) | RSS a (MiB) | RSS b (MiB) | requests | p50 ms | p99 ms | errors |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        started = time.time()
        while any(t.is_alive() for t in threads):
            time.sleep(SAMPLE)
            latencies, errors = window.take()
            rss = [run.rss_kib(s.proc.pid)[0] / 1024 for s in servers]
            print(f"| {time.time() - started:.0f} | {rss[0]:.1f} | {rss[1]:.1f} | {len(latencies)} "
                  f"| {percentile(latencies, 0.5):.1f} | {percentile(latencies, 0.99):.1f} | {errors} |", flush=True)
        expected = SEEDED + window.signups
        deadline = time.time() + 30
        while mails_written(servers) < expected and time.time() < deadline:
            time.sleep(0.5)
        mailed = mails_written(servers)
        print(f"\n{sum(done)} journeys; {window.signups} sign-ups answered and {SEEDED} seeded, {mailed} mails written")
        if mailed != expected:
            sys.exit("not every sign-up was mailed exactly once")
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
