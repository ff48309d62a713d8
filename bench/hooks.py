#!/usr/bin/env python3
"""What a hook adds to the request path. Starts authql twice on fresh SQLite
databases, without hooks and with HOOK_BEFORE_SIGNUP_URL and
HOOK_ACCESS_TOKEN_URL pointing at a hook on loopback that answers at once,
and times sequential sign-ups (confirmation off, so each also signs in) and
logins: the difference is the hooks' own cost (signing, one HTTP round trip,
reading the answer), the least a real hook adds before its own work and
network distance. Hashing is cheap here (PASSWORD_HASH_MEMORY_KIB=256) so
the difference is not lost in it.

Usage: python3 bench/hooks.py   (BENCH_BIN: the binary, default target/release/authql,
else target/debug/authql; BENCH_ROUNDS: requests per kind, default 200)
"""

import http.server
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = os.environ.get("BENCH_BIN") or next(
    str(p) for p in (ROOT / "target/release/authql", ROOT / "target/debug/authql") if p.exists())
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
PASSWORD = "Correct-Horse-Battery-Staple-42"
SECRET = "whsec_YmVuY2gtaG9vay1zZWNyZXQtMDEyMzQ1Njc4OWFi"


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm
    # holds the body for the client's delayed ACK (40 ms) and that is all one measures.
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps({"allow": True} if self.path == "/signup" else {"claims": {"tenant": "bench"}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(extra_env):
    data = tempfile.mkdtemp(prefix="authql-hooks-bench-")
    env = {"PATH": os.environ["PATH"], "DATA_DIR": data, "LISTEN_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json",
           "RATE_LIMITS": "false", "REQUIRE_EMAIL_CONFIRMATION": "false", "PWNED_PASSWORDS_URL": "off",
           "PASSWORD_HASH_MEMORY_KIB": "256", "PASSWORD_HASH_ITERATIONS": "1", "NEW_DEVICE_NOTICES": "false",
           **extra_env}
    proc = subprocess.Popen([BIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        found = re.search(r'"message":"authql is serving","port":(\d+)', line)
        if found:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, f"http://127.0.0.1:{found.group(1)}"
    raise SystemExit("authql did not start")


def gql(url, query, variables):
    req = urllib.request.Request(url + "/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
                                 headers={"content-type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(req) as resp:
        answer = json.load(resp)
    assert "errors" not in answer, answer
    return time.perf_counter() - started


def timings(url, tag):
    signup = "mutation($i: SignupInput!) { signup(input: $i) { auth { accessToken } } }"
    login = "mutation($i: LoginInput!) { login(input: $i) { auth { accessToken } } }"
    ups = [gql(url, signup, {"i": {"email": f"{tag}{n}@example.com", "password": PASSWORD}}) for n in range(ROUNDS)]
    ins = [gql(url, login, {"i": {"email": f"{tag}{n}@example.com", "password": PASSWORD}}) for n in range(ROUNDS)]
    return ups, ins


def ms(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main():
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{hook.server_address[1]}"
    rows = []
    for name, env in [("no hooks", {}),
                      ("both hooks", {"HOOK_BEFORE_SIGNUP_URL": base + "/signup",
                                      "HOOK_ACCESS_TOKEN_URL": base + "/token", "HOOK_SECRET": SECRET})]:
        proc, url = serve(env)
        try:
            timings(url, "warm")  # connections, caches, the first key load
            rows.append((name, *timings(url, "n")))
        finally:
            proc.kill()
            proc.wait()
    print(f"{BIN}, {ROUNDS} sequential requests each")
    print(f"{'':12} {'sign-up p50':>12} {'p90':>8} {'login p50':>10} {'p90':>8}  (ms)")
    for name, ups, ins in rows:
        print(f"{name:12} {ms(ups, 50):12.2f} {ms(ups, 90):8.2f} {ms(ins, 50):10.2f} {ms(ins, 90):8.2f}")
    (_, ups0, ins0), (_, ups1, ins1) = rows
    print(f"{'added':12} {ms(ups1, 50) - ms(ups0, 50):12.2f} {'':8} {ms(ins1, 50) - ms(ins0, 50):10.2f}")


if __name__ == "__main__":
    main()
