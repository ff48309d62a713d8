#!/usr/bin/env python3
"""How soon another instance refuses a revoked session, and what hearing
the revocation notices costs it.

Two instances on one PostgreSQL database, with the notices carried three
ways: `ttl` (the listener pointed at a dead port, so the second instance
relies on its session cache's one-second lifetime: the behaviour before
notices were pushed), `postgres` (NOTIFY/LISTEN) and `redis` (pub/sub).
For each, TRIALS times: a fresh sign-in on A, a `me` on B (B now caches the
session), `logout` on A; the clock starts when A's answer arrives and stops
when B first answers UNAUTHENTICATED to `me`, asked in a tight loop. Then
B's CPU while A commits NOTICES logouts (every one a notice B hears),
against the same with the listener dead: B's CPU per notice heard.

Usage (after `cargo build --release`, or BENCH_BIN=target/debug/authql):
  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
  BENCH_REDIS_URL=redis://127.0.0.1:6379 python3 bench/revocation.py
"""

import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
TRIALS = int(os.environ.get("BENCH_TRIALS", "30"))
NOTICES = int(os.environ.get("BENCH_NOTICES", "200"))
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { auth { accessToken } } }"


def post(server, query, variables=None, token=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(server.url + "/graphql", data=body, headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def refused(answer):
    errors = answer.get("errors") or []
    return bool(errors) and errors[0].get("extensions", {}).get("code") == "UNAUTHENTICATED"


def sign_in(server, email):
    answer = post(server, LOGIN, {"i": {"email": email, "password": run.PASSWORD}})
    return answer["data"]["login"]["auth"]["accessToken"]


def channel(name, db):
    env = dict(SECRET_KEY="bench-" + uuid.uuid4().hex + uuid.uuid4().hex, PUBLIC_URL="http://127.0.0.1:8080",
               RATE_LIMITS="false", PASSWORD_HASH_MEMORY_KIB="1024", PASSWORD_HASH_ITERATIONS="1")
    second = dict(env)
    if name == "redis":
        env["REDIS_URL"] = second["REDIS_URL"] = REDIS_URL
        env["REDIS_KEY_PREFIX"] = second["REDIS_KEY_PREFIX"] = f"authql-rev-{uuid.uuid4().hex[:8]}:"
    if name == "ttl":
        # Nothing listens there: B's listener stays down, as if notices did not exist.
        second["PUSH_DATABASE_URL"] = "postgres://postgres@127.0.0.1:9/none"
    a = run.Server(db, env)
    b = run.Server(db, second)
    return a, b


def measure(name):
    db = run.fresh_postgres(ADMIN_URL)
    a, b = channel(name, db)
    try:
        email = f"rev-{name}@example.com"
        post(a, "mutation($i: SignupInput!) { signup(input: $i) { auth { accessToken } } }",
             {"i": {"email": email, "password": run.PASSWORD}})
        time.sleep(0.5)  # B's listener connects
        waits = []
        for _ in range(TRIALS):
            token = sign_in(a, email)
            assert not refused(post(b, "{ me { id } }", token=token))
            post(a, "mutation { logout }", token=token)
            start = time.perf_counter()
            while not refused(post(b, "{ me { id } }", token=token)):
                pass
            waits.append((time.perf_counter() - start) * 1000)
        # B's CPU while A commits NOTICES logouts.
        tokens = [sign_in(a, email) for _ in range(NOTICES)]
        time.sleep(1.5)
        before = run.cpu_seconds(b.proc.pid)
        for token in tokens:
            post(a, "mutation { logout }", token=token)
        time.sleep(1.0)  # the last notices arrive
        cpu = run.cpu_seconds(b.proc.pid) - before
        rss, _ = run.rss_kib(b.proc.pid)
    finally:
        a.stop()
        b.stop()
    waits.sort()
    return {
        "channel": name,
        "median_ms": statistics.median(waits),
        "p95_ms": waits[int(0.95 * (len(waits) - 1))],
        "max_ms": waits[-1],
        "b_cpu_ms": cpu * 1000,
        "b_rss_kib": rss,
    }


def main():
    rows = [measure(name) for name in os.environ.get("BENCH_CHANNELS", "ttl,postgres,redis").split(",")]
    print(f"## Revocation reaching another instance ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
          f"{run.BIN.name} at {run.BIN.parent}, {TRIALS} logouts, then {NOTICES} for B's CPU)\n")
    print("| channel | refused on B after A's answer: median ms | p95 ms | max ms | B's CPU over the notices, ms | B's RSS KiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['channel']} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} | {r['b_cpu_ms']:.0f} "
              f"| {r['b_rss_kib']} |")


if __name__ == "__main__":
    main()
