#!/usr/bin/env python3
"""Two authql instances on one PostgreSQL database and one Redis: the
several-instance deployment, measured for docs/capacity.md.

Starts two release instances (rate limits on and shared through Redis, as a
real deployment runs them) on a fresh database, seeds accounts, then drives
`me`, refresh rotation and login with wrk against both at once, half the
connections each. wrk keeps its connections open, so this is what a
round-robin layer-4 balancer in front would do, without a proxy process of
its own competing for this machine's two cores. Reports req/s and errors per
instance and in all, server CPU per request, and PostgreSQL's commits, rows
written and rows read per request (pg_stat_database) and Redis calls per
request (INFO commandstats).
PostgreSQL counts every statement outside a transaction as one, reads too.

Usage (after `cargo build --release`):
  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
  BENCH_REDIS_URL=redis://127.0.0.1:6379 python3 bench/two_instances.py
"""

import os
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


def pg_stats(db_url):
    name = db_url.rsplit("/", 1)[1]
    out = subprocess.run(
        ["psql", ADMIN_URL, "-Atc",
         f"SELECT xact_commit, tup_inserted + tup_updated + tup_deleted, tup_returned + tup_fetched "
         f"FROM pg_stat_database WHERE datname = '{name}'"],
        capture_output=True, text=True, check=True).stdout.strip()
    commits, written, read = (int(x) for x in out.split("|"))
    return {"commits": commits, "written": written, "read": read}


def redis_calls():
    """Round trips authql made to Redis: its scripts and pings (commandstats
    also counts the GET/SET/TIME each script runs inside, which are not)."""
    out = subprocess.run(["redis-cli", "-u", REDIS_URL, "INFO", "commandstats"], capture_output=True, text=True).stdout
    trips = ("cmdstat_evalsha:", "cmdstat_eval:", "cmdstat_ping:", "cmdstat_script|load:")
    return sum(int(part.split("=")[1]) for line in out.splitlines() if line.startswith(trips)
               for part in line.split(":")[1].split(",") if part.startswith("calls="))


def split(path, parts):
    """Splits a token file so no token is sent to two instances."""
    lines = Path(path).read_text().split()
    outs = []
    for i in range(parts):
        out = f"{path}.{i}"
        Path(out).write_text("\n".join(lines[i::parts]) + "\n")
        outs.append(out)
    return outs


def scenario(servers, name, mode, tokens, connections):
    # Statistics settle for a moment after the previous scenario.
    time.sleep(1)
    db_before, redis_before = pg_stats(servers[0].db), redis_calls()
    cpu_before = [run.cpu_seconds(s.proc.pid) for s in servers]
    results = [None] * len(servers)

    def drive(i):
        results[i] = run.wrk(servers[i].url, mode, connections // len(servers), tokens[i])

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(1.5)  # activity batches and the stats collector catch up
    db_after, redis_after = pg_stats(servers[0].db), redis_calls()
    requests = sum(r["requests"] for r in results)
    cpu = sum(run.cpu_seconds(s.proc.pid) for s in servers) - sum(cpu_before)
    row = {
        "scenario": name,
        "per_instance_rps": [round(r["rps"]) for r in results],
        "rps": sum(r["rps"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "server_cpu_us": cpu * 1e6 / max(1, requests),
        "xacts_per_req": (db_after["commits"] - db_before["commits"]) / max(1, requests),
        "rows_written_per_req": (db_after["written"] - db_before["written"]) / max(1, requests),
        "rows_read_per_req": (db_after["read"] - db_before["read"]) / max(1, requests),
        "redis_calls_per_req": (redis_after - redis_before) / max(1, requests),
    }
    print(f"  {name}: {row['rps']:.0f} req/s {row['per_instance_rps']}, errors {row['errors']}", file=sys.stderr)
    return row


def main():
    db = run.fresh_postgres(ADMIN_URL)
    env = dict(run.LIMITED, REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=f"authql-two-{uuid.uuid4().hex[:8]}:",
               RATE_LIMIT_PASSWORD="off",
               # One deployment: one master key (each would otherwise generate its own).
               SECRET_KEY="bench-" + uuid.uuid4().hex + uuid.uuid4().hex,
               # ... and one issuer, so either instance accepts the other's tokens.
               PUBLIC_URL="http://127.0.0.1:8080")
    servers = [run.Server(db, env)]
    servers.append(run.Server(db, env))
    for s in servers:
        s.db = db
    try:
        files = run.seed(servers[0], servers[0].dir.name)
        access = [files["access"]] * 2
        refresh = split(files["refresh"], 2)
        emails = [files["emails"]] * 2
        rows = [
            scenario(servers, "me", "me", access, run.CONNECTIONS),
            scenario(servers, "refresh", "refresh", refresh, run.CONNECTIONS),
            scenario(servers, "login", "login", emails, run.LOGIN_CONNECTIONS),
        ]
    finally:
        for s in servers:
            s.stop()
    print(f"## Two instances, one PostgreSQL, one Redis ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
          f"{run.DURATION}s, {run.CONNECTIONS} connections split between them)\n")
    print("| scenario | req/s (a + b) | p99 ms | errors | server CPU µs/req | PG transactions/req | PG rows written/req | PG rows read/req | Redis round trips/req |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        a, b = r["per_instance_rps"]
        print(f"| {r['scenario']} | {r['rps']:.0f} ({a} + {b}) | {r['p99_ms']:.1f} | {r['errors']} | {r['server_cpu_us']:.0f} "
              f"| {r['xacts_per_req']:.2f} | {r['rows_written_per_req']:.2f} | {r['rows_read_per_req']:.1f} | {r['redis_calls_per_req']:.2f} |")


if __name__ == "__main__":
    main()
