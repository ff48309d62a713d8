#!/usr/bin/env python3
"""authql benchmarks: every flow measured with wrk, side by side with its limit.

Run through `just bench`. Starts a release build of authql on SQLite (and on
PostgreSQL too when BENCH_DATABASE_URL is set), seeds users, drives each
scenario with wrk at fixed concurrency for a fixed time on loopback, samples
the server's memory, and prints one Markdown table per database. Results go
to target/bench/<time>.json (and target/bench/latest.json) for comparison.

Settings (environment): BENCH_DURATION (seconds, 10), BENCH_CONNECTIONS (64),
BENCH_LOGIN_CONNECTIONS (16, the login storm of scenario 6),
BENCH_THREADS (wrk threads, 2), BENCH_USERS (2 x connections), BENCH_DATABASE_URL,
BENCH_REDIS_URL (adds a run with the rate limits shared through Redis);
BENCH_ONLY=limits runs only the limiter comparison, BENCH_ROUNDS (2) times alternately;
BENCH_ONLY=refresh only refresh rotation; BENCH_BIN another build to compare;
BENCH_SERVER_<NAME>=value sets NAME for the server under test;
BENCH_ONLY=large: me and refresh over BENCH_LARGE_USERS (10 000) accounts.
BENCH_ONLY=fragments: /healthz latency while clients send fragment chains.
BENCH_ONLY=passkeys: passkey sign-in (examples/passkey_load) beside password login and refresh.
"""

import atexit
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
# BENCH_BIN: another build to compare (a copy of an earlier target/release/authql).
BIN = Path(os.environ.get("BENCH_BIN", TARGET / "release" / "authql"))
ARGON = TARGET / "release" / "examples" / "argon2_rate"
PASSKEY_LOAD = TARGET / "release" / "examples" / "passkey_load"
LUA = ROOT / "bench" / "wrk.lua"
OUT = ROOT / "target" / "bench"
PASSWORD = "Correct-Horse-Battery-Staple-42"

DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
LOGIN_CONNECTIONS = int(os.environ.get("BENCH_LOGIN_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
# Twice the connections: every connection gets a refresh chain, with spares.
USERS = int(os.environ.get("BENCH_USERS", str(2 * CONNECTIONS)))


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """Resident and peak-resident memory of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


class Server:
    """A release authql on a fresh database, listening on a free port."""

    def __init__(self, database_url, extra_env=None):
        self.dir = tempfile.TemporaryDirectory(prefix="authql-bench-")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "DATA_DIR": os.path.join(self.dir.name, "data"),
            "LISTEN_ADDR": "127.0.0.1:0",
            "LOG_FORMAT": "json",
            "RUST_LOG": "warn,authql::startup=info",
            "REQUIRE_EMAIL_CONFIRMATION": "false",
            "SESSION_IDLE_TIMEOUT": "1d",
            "GRAPHIQL": "false",
            "RATE_LIMITS": "false",
            # Sign-ups would ask the public range API (no internet here; it is off the hot path anyway).
            "PWNED_PASSWORDS_URL": "off",
        }
        if database_url:
            env["DATABASE_URL"] = database_url
        # BENCH_SERVER_<NAME>=value sets NAME for the server (e.g. BENCH_SERVER_SQLITE_SYNCHRONOUS=full).
        env.update({k[len("BENCH_SERVER_"):]: v for k, v in os.environ.items() if k.startswith("BENCH_SERVER_")})
        env.update(extra_env or {})
        self.log = open(os.path.join(self.dir.name, "server.log"), "w+")
        self.proc = subprocess.Popen([str(BIN)], env=env, cwd=self.dir.name, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None
        deadline = time.time() + 60
        while self.port is None:
            if time.time() > deadline or self.proc.poll() is not None:
                self.log.seek(0)
                sys.exit("authql did not start:\n" + self.log.read())
            time.sleep(0.1)
            self.log.seek(0)
            for line in self.log:
                if '"authql is serving"' in line:
                    self.port = json.loads(line)["fields"]["port"]
        self.url = f"http://127.0.0.1:{self.port}"

    def graphql(self, query, variables=None, token=None):
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(self.url + "/graphql", data=body, headers={"content-type": "application/json"})
        if token:
            req.add_header("authorization", "Bearer " + token)
        with urllib.request.urlopen(req) as resp:
            answer = json.load(resp)
        if "errors" in answer:
            sys.exit(f"seeding failed: {answer}")
        return answer["data"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.dir.cleanup()


def seed(server, folder, users=None):
    """`users` (USERS) accounts, signed up by 8 clients at once; files of
    their emails, access tokens and refresh tokens."""
    from concurrent.futures import ThreadPoolExecutor
    signup = "mutation($i: SignupInput!) { signup(input: $i) { auth { accessToken refreshToken } } }"

    def one(i):
        email = f"bench{i}@example.com"
        auth = server.graphql(signup, {"i": {"email": email, "password": PASSWORD}})["signup"]["auth"]
        return email, auth["accessToken"], auth["refreshToken"]

    with ThreadPoolExecutor(8) as pool:
        rows = list(pool.map(one, range(users or USERS)))
    emails = [r[0] for r in rows]
    access = [r[1] for r in rows]
    refresh = [r[2] for r in rows]
    files = {}
    for name, lines in (("emails", emails), ("access", access), ("refresh", refresh)):
        path = os.path.join(folder, name)
        Path(path).write_text("\n".join(lines) + "\n")
        files[name] = path
    return files


def wrk(url, mode, connections, tokens=None):
    """Runs wrk; returns its BENCH_RESULT (or, for plain GETs, parsed summary)."""
    # Logins queue for the hasher for over a second by design: wrk's 2 s default
    # timeout would count the tail of a saturated queue as failures.
    cmd = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{DURATION}s", "--timeout", "10s", "--latency"]
    env = dict(os.environ, BENCH_THREADS=str(THREADS), BENCH_PASSWORD=PASSWORD)
    if mode == "healthz":
        cmd += ["-s", str(LUA), url + "/healthz"]
        env["BENCH_MODE"] = "healthz"
    else:
        cmd += ["-s", str(LUA), url + "/graphql"]
        env["BENCH_MODE"] = mode
        if tokens:
            env["BENCH_TOKENS"] = tokens
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return bench_result(out, "wrk")


def bench_result(out, who):
    """The BENCH_RESULT line a load generator printed, as one scenario's figures."""
    match = re.search(r"BENCH_RESULT (\{.*\})", out)
    if not match:
        sys.exit(f"{who} printed no result:\n{out}")
    r = json.loads(match.group(1))
    seconds = r["duration_us"] / 1e6
    errors = r["errors"] + r["socket_errors"]
    return {
        "rps": r["requests"] / seconds,
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": errors,
        "requests": r["requests"],
    }


class MemorySampler:
    """Samples the server's RSS every 50 ms while a scenario runs."""

    def __init__(self, pid):
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid)[0])
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def measure(server, name, fn):
    sampler = MemorySampler(server.proc.pid)
    cpu_before = cpu_seconds(server.proc.pid)
    result = fn()
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    result["peak_rss_mib"] = sampler.stop() / 1024
    result["server_cpu_us_per_request"] = cpu * 1e6 / max(1, result["requests"] + result.get("login_requests", 0))
    print(f"  {name}: {result['rps']:.0f} req/s, p99 {result['p99_ms']:.1f} ms, errors {result['errors']}, "
          f"{result['server_cpu_us_per_request']:.0f} us server CPU/request", file=sys.stderr)
    return result


def run_database(label, database_url):
    print(f"== {label}", file=sys.stderr)
    server = Server(database_url)
    try:
        time.sleep(1)
        idle_rss = rss_kib(server.proc.pid)[0] / 1024
        folder = server.dir.name
        files = seed(server, folder)
        url = server.url
        results = {}
        results["healthz"] = measure(server, "healthz", lambda: wrk(url, "healthz", CONNECTIONS))
        results["typename"] = measure(server, "__typename", lambda: wrk(url, "typename", CONNECTIONS))
        results["me"] = measure(server, "me", lambda: wrk(url, "me", CONNECTIONS, files["access"]))
        results["refresh"] = measure(server, "refresh", lambda: wrk(url, "refresh", CONNECTIONS, files["refresh"]))
        results["login"] = measure(server, "login", lambda: wrk(url, "login", CONNECTIONS, files["emails"]))

        def storm():
            login = {}
            t = threading.Thread(target=lambda: login.update(wrk(url, "login", LOGIN_CONNECTIONS, files["emails"])))
            t.start()
            time.sleep(0.5)  # let the storm fill the hashing queue first
            me = wrk(url, "me", CONNECTIONS, files["access"])
            t.join()
            me["login_rps"] = login["rps"]
            me["login_requests"] = login["requests"]
            me["login_p99_ms"] = login["p99_ms"]
            me["errors"] += login["errors"]
            return me

        results["me_during_login_storm"] = measure(server, "me during login storm", storm)
        peak_hwm = rss_kib(server.proc.pid)[1] / 1024
        return {"database": label, "idle_rss_mib": idle_rss, "peak_rss_mib": peak_hwm, "scenarios": results}
    finally:
        server.stop()


# Limits on, every class at its default but two: seeding signs up USERS
# accounts from one address, and the refresh scenario rotates ~30 000 tokens
# from one address; their buckets are made big enough never to refuse, so
# every request still pays for its check.
LIMITED = {
    "RATE_LIMITS": "true",
    "RATE_LIMIT_SIGNUP": "off",
    "RATE_LIMIT_REFRESH": "ip:1000000/1ms",
}


def run_limits(label, extra_env):
    """me and refresh with the rate limiter on (in process, or in Redis)."""
    print(f"== {label}", file=sys.stderr)
    server = Server(None, dict(LIMITED, **extra_env))
    try:
        time.sleep(1)
        files = seed(server, server.dir.name)
        url = server.url
        return {
            "database": label,
            "scenarios": {
                "me": measure(server, "me", lambda: wrk(url, "me", CONNECTIONS, files["access"])),
                "refresh": measure(server, "refresh", lambda: wrk(url, "refresh", CONNECTIONS, files["refresh"])),
            },
        }
    finally:
        server.stop()


def limits_only():
    """BENCH_ONLY=limits: off / in process / Redis, alternately, BENCH_ROUNDS times (2),
    so drift of the machine falls on every configuration alike."""
    configs = [("RATE_LIMITS=false", {"RATE_LIMITS": "false"}), ("limits on, in process", {})]
    if os.environ.get("BENCH_REDIS_URL"):
        configs.append(("limits on, in Redis", {"REDIS_URL": os.environ["BENCH_REDIS_URL"],
                                                "REDIS_KEY_PREFIX": f"authql-bench-{uuid.uuid4().hex[:8]}:"}))
    runs = []
    for round_ in range(int(os.environ.get("BENCH_ROUNDS", "2"))):
        for label, env in configs:
            runs.append(run_limits(f"{label} (round {round_ + 1})", env))
    lines = [
        f"## Rate limiter cost ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {DURATION}s x {CONNECTIONS} connections)",
        "",
        "| run | me req/s | me p99 ms | me CPU µs/req | refresh req/s | refresh CPU µs/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        me, refresh = run["scenarios"]["me"], run["scenarios"]["refresh"]
        lines.append(f"| {run['database']} | {me['rps']:.0f} | {me['p99_ms']:.1f} | {me['server_cpu_us_per_request']:.0f} "
                     f"| {refresh['rps']:.0f} | {refresh['server_cpu_us_per_request']:.0f} | {me['errors'] + refresh['errors']} |")
    print("\n".join(lines))


def refresh_only():
    """BENCH_ONLY=refresh: refresh rotation alone on SQLite (and PostgreSQL with BENCH_DATABASE_URL)."""
    targets = [("SQLite", None)]
    if os.environ.get("BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", fresh_postgres(os.environ["BENCH_DATABASE_URL"])))
    for label, database_url in targets:
        server = Server(database_url)
        try:
            time.sleep(1)
            files = seed(server, server.dir.name)
            r = measure(server, f"refresh on {label}", lambda: wrk(server.url, "refresh", CONNECTIONS, files["refresh"]))
            print(f"| {label} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['server_cpu_us_per_request']:.0f} | {r['errors']} |")
        finally:
            server.stop()


def large():
    """BENCH_ONLY=large: BENCH_LARGE_USERS (10 000) accounts with sessions, then
    `me` over all of them (each session misses the one-second cache about
    once a second) and refresh rotation among them, on SQLite (and
    PostgreSQL with BENCH_DATABASE_URL). Hashing is made cheap for the
    seeding only: these scenarios never hash."""
    users = int(os.environ.get("BENCH_LARGE_USERS", "10000"))
    cheap = {"PASSWORD_HASH_MEMORY_KIB": "256", "PASSWORD_HASH_ITERATIONS": "1"}
    targets = [("SQLite", None)]
    if os.environ.get("BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", fresh_postgres(os.environ["BENCH_DATABASE_URL"])))
    print(f"| {users} accounts | me req/s | me p99 ms | me CPU µs | refresh req/s | refresh p99 ms | refresh CPU µs | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, database_url in targets:
        server = Server(database_url, cheap)
        try:
            started = time.time()
            files = seed(server, server.dir.name, users)
            print(f"  seeded {users} accounts in {time.time() - started:.0f} s", file=sys.stderr)
            me = measure(server, f"me over {users} sessions", lambda: wrk(server.url, "me", CONNECTIONS, files["access"]))
            refresh = measure(server, f"refresh among {users} sessions",
                              lambda: wrk(server.url, "refresh", CONNECTIONS, files["refresh"]))
            print(f"| {label} | {me['rps']:.0f} | {me['p99_ms']:.1f} | {me['server_cpu_us_per_request']:.0f} "
                  f"| {refresh['rps']:.0f} | {refresh['p99_ms']:.1f} | {refresh['server_cpu_us_per_request']:.0f} "
                  f"| {me['errors'] + refresh['errors']} |")
        finally:
            server.stop()


# Passkeys for RP ID localhost, used from the page examples/passkey_load's authenticator names.
PASSKEYS = {"WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": "http://localhost:5173"}


def passkey_load(url, connections):
    """Whole passkey sign-ins (start, a P-256 signature by a software
    authenticator, finish) by `connections` clients; `requests` counts sign-ins."""
    cmd = [str(PASSKEY_LOAD), url, str(DURATION), str(connections)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return bench_result(out, "passkey_load")


def passkeys_only():
    """BENCH_ONLY=passkeys: a passkey sign-in beside a password login (argon2id)
    and a refresh, on SQLite (and PostgreSQL with BENCH_DATABASE_URL), each at
    CONNECTIONS: sign-ins (or requests) per second, latency, and the server's
    CPU per sign-in. The load generator runs on the same machine and takes CPU
    from the server; so does wrk."""
    if not PASSKEY_LOAD.exists():
        sys.exit(f"{PASSKEY_LOAD} is missing: cargo build --release --example passkey_load (just bench builds it)")
    targets = [("SQLite", None)]
    if os.environ.get("BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", fresh_postgres(os.environ["BENCH_DATABASE_URL"])))
    lines = [
        f"## Passkey sign-in ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {DURATION}s x {CONNECTIONS} connections)",
        "",
        "| database | scenario | per second | p50 ms | p99 ms | errors | server CPU µs each |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, database_url in targets:
        server = Server(database_url, PASSKEYS)
        try:
            time.sleep(1)
            files = seed(server, server.dir.name)
            url = server.url
            rows = [
                ("passkey (start + finish)", measure(server, f"passkey sign-in on {label}",
                                                     lambda: passkey_load(url, CONNECTIONS))),
                ("password login (argon2id)", measure(server, f"login on {label}",
                                                      lambda: wrk(url, "login", CONNECTIONS, files["emails"]))),
                ("refreshToken rotation", measure(server, f"refresh on {label}",
                                                  lambda: wrk(url, "refresh", CONNECTIONS, files["refresh"]))),
            ]
            for name, r in rows:
                lines.append(f"| {label} | {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} "
                             f"| {r['server_cpu_us_per_request']:.0f} |")
        finally:
            server.stop()
    print("\n".join(lines))


def limits_table(base, limited):
    lines = [
        "### Rate limits on (SQLite)",
        "",
        "| run | me req/s | me p99 ms | me CPU µs/req | refresh req/s | refresh CPU µs/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in [dict(base, database="RATE_LIMITS=false")] + limited:
        me, refresh = run["scenarios"]["me"], run["scenarios"]["refresh"]
        lines.append(f"| {run['database']} | {me['rps']:.0f} | {me['p99_ms']:.1f} | {me['server_cpu_us_per_request']:.0f} "
                     f"| {refresh['rps']:.0f} | {refresh['server_cpu_us_per_request']:.0f} | {me['errors'] + refresh['errors']} |")
    base_me = base["scenarios"]["me"]["rps"]
    for run in limited:
        lines.append(f"- {run['database']}: me at {run['scenarios']['me']['rps'] / base_me:.1%} of RATE_LIMITS=false")
    return "\n".join(lines)


def argon2_limit():
    threads = int(os.environ.get("PASSWORD_HASH_CONCURRENCY", max(1, (os.cpu_count() or 2) // 2)))
    out = subprocess.run([str(ARGON), "5", str(threads)], capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    r["hashing_threads"] = threads
    return r


def table(run, argon):
    s = run["scenarios"]
    rows = [
        ("1. GET /healthz", s["healthz"]),
        ("2. { __typename }", s["typename"]),
        ("3. { me { id email } }", s["me"]),
        ("4. refreshToken rotation", s["refresh"]),
        ("5. login (argon2id m=19456 t=2 p=1)", s["login"]),
        ("6. me during a login storm", s["me_during_login_storm"]),
    ]
    lines = [
        f"### {run['database']}",
        "",
        "| scenario | requests/s | p50 ms | p99 ms | errors | server CPU µs/req | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} "
                     f"| {r['server_cpu_us_per_request']:.0f} | {r['peak_rss_mib']:.1f} |")
    limit = argon["raw_verifies_per_sec_1_thread"] * argon["hashing_threads"]
    storm = s["me_during_login_storm"]
    lines += [
        "",
        f"- server RSS: idle {run['idle_rss_mib']:.1f} MiB, peak {run['peak_rss_mib']:.1f} MiB",
        f"- me / __typename = {s['me']['rps'] / s['typename']['rps']:.2f}; me / healthz = {s['me']['rps'] / s['healthz']['rps']:.2f}",
        f"- login / (raw argon2 {argon['raw_verifies_per_sec_1_thread']:.1f}/s x {argon['hashing_threads']} hashing thread(s)) = {s['login']['rps'] / limit:.2f}",
        f"- during the storm: logins {storm['login_rps']:.0f}/s (p99 {storm['login_p99_ms']:.0f} ms), me p99 {storm['p99_ms']:.1f} ms",
    ]
    return "\n".join(lines)



def fragment_chain(fan, levels):
    """`query { ...F0 }` with each fragment spreading the next `fan` times: fan**levels fields."""
    doc = "query { ...F0 }\n"
    for level in range(levels):
        doc += f"fragment F{level} on Query {{ {' '.join([f'...F{level + 1}'] * fan)} }}\n"
    return doc + f"fragment F{levels} on Query {{ __typename }}\n"


def fragments_only():
    """BENCH_ONLY=fragments: /healthz latency alone, then with BENCH_BOMBS (8)
    clients sending, back to back, fragment chains of 2**30 and 3**40 fields
    and 240 KB documents of 60 000 repeated arguments."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    bombs = int(os.environ.get("BENCH_BOMBS", "8"))
    server = Server(None)
    stop = threading.Event()
    refused = []

    def bomb(i):
        # Fragment chains, and a document of 60 000 repeated arguments (one error each, unbounded).
        doc = [fragment_chain(3, 40), fragment_chain(2, 30), "{ errorCodes(" + "a:1 " * 60000 + ") }"][i % 3]
        body = json.dumps({"query": doc}).encode()
        while not stop.is_set():
            req = urllib.request.Request(server.url + "/graphql", data=body, headers={"content-type": "application/json"})
            with urllib.request.urlopen(req) as resp:
                answer = json.load(resp)
            refused.append(answer["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX")

    def healthz(seconds):
        latencies, until = [], time.time() + seconds
        while time.time() < until:
            started = time.perf_counter()
            urllib.request.urlopen(server.url + "/healthz").read()
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)], latencies[-1]

    try:
        time.sleep(1)
        quiet = healthz(DURATION)
        with ThreadPoolExecutor(bombs) as pool:
            started = time.time()
            running = [pool.submit(bomb, i) for i in range(bombs)]
            loaded = healthz(DURATION)
            stop.set()
            for r in running:
                r.result()
            rate = len(refused) / (time.time() - started)
        print("| /healthz | p50 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|")
        print(f"| alone | {quiet[0]:.2f} | {quiet[1]:.2f} | {quiet[2]:.2f} |")
        print(f"| with {bombs} clients sending fragment chains and argument floods | {loaded[0]:.2f} | {loaded[1]:.2f} | {loaded[2]:.2f} |")
        print(f"\n{len(refused)} documents refused ({rate:.0f}/s), all QUERY_TOO_COMPLEX: {all(refused)}")
    finally:
        server.stop()


def main():
    for tool in ("wrk",):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit(f"{tool} is missing: run `just bench`, which installs it")
    if os.environ.get("BENCH_ONLY") == "limits":
        limits_only()
        return
    if os.environ.get("BENCH_ONLY") == "refresh":
        refresh_only()
        return
    if os.environ.get("BENCH_ONLY") == "large":
        large()
        return
    if os.environ.get("BENCH_ONLY") == "fragments":
        fragments_only()
        return
    if os.environ.get("BENCH_ONLY") == "passkeys":
        passkeys_only()
        return
    argon = argon2_limit()
    print(f"raw argon2id: {argon['raw_verifies_per_sec_1_thread']:.1f} verifies/s on one thread", file=sys.stderr)
    runs = [run_database("SQLite", None)]
    limited = [run_limits("limits on, in process", {})]
    if os.environ.get("BENCH_REDIS_URL"):
        limited.append(run_limits("limits on, in Redis", {"REDIS_URL": os.environ["BENCH_REDIS_URL"],
                                                           "REDIS_KEY_PREFIX": f"authql-bench-{uuid.uuid4().hex[:8]}:"}))
    bench_db = os.environ.get("BENCH_DATABASE_URL")
    if bench_db:
        runs.append(run_database("PostgreSQL", fresh_postgres(bench_db)))
    report = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        "settings": {"duration_s": DURATION, "connections": CONNECTIONS, "login_storm_connections": LOGIN_CONNECTIONS,
                     "wrk_threads": THREADS, "users": USERS, "cpus": os.cpu_count()},
        "argon2": argon,
        "runs": runs,
        "limits": limited,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    for name in (f"{stamp}.json", "latest.json"):
        (OUT / name).write_text(json.dumps(report, indent=2) + "\n")
    print(f"## authql benchmarks ({report['at']}, commit {report['commit']}, {DURATION}s x {CONNECTIONS} connections)\n")
    print(f"Raw argon2id verification: {argon['raw_verifies_per_sec_1_thread']:.1f}/s on one thread "
          f"({argon['authql_verifies_per_sec']:.1f}/s through authql's hasher with {argon['hashing_threads']} thread(s)).\n")
    for run in runs:
        print(table(run, argon) + "\n")
    print(limits_table(runs[0], limited) + "\n")
    print(f"JSON: target/bench/{stamp}.json")


def fresh_postgres(admin_url):
    """A new database on the BENCH_DATABASE_URL server for this run; dropped at exit."""
    name = "authql_bench_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    atexit.register(lambda: subprocess.run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"]))
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(admin_url)._replace(path="/" + name))


if __name__ == "__main__":
    main()
