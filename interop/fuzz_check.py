"""PyPI schemathesis loads authql's schema by introspection from the live
endpoint and fuzzes every operation, without a token and with a valid one,
for a bounded time: no 5xx, no INTERNAL error (st_hooks.py), and no panic or
ERROR line in the server's log."""

import os
import subprocess
import sys

from common import URL, login, signup_and_confirm

signup_and_confirm("fuzz@example.com")
token = login("fuzz@example.com")["accessToken"]
seconds = os.environ.get("FUZZ_SECONDS", "30")
env = dict(os.environ, SCHEMATHESIS_HOOKS="st_hooks", PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
st = os.path.join(os.path.dirname(sys.executable), "st")
generated = 0
for headers in ([], ["-H", f"Authorization: Bearer {token}"]):
    run = subprocess.run(
        [st, "run", URL + "/graphql", "--max-time", seconds, "--checks", "no_server_failure", "--no-color", *headers],
        env=env, capture_output=True, text=True, timeout=int(seconds) + 120,
    )
    if run.returncode != 0:
        raise SystemExit(run.stdout[-4000:] + run.stderr[-2000:])
    for line in run.stdout.splitlines():
        if "generated" in line and "passed" in line:
            generated += int(line.split()[0])
with open(os.environ["AUTHQL_LOG"], encoding="utf-8") as log:
    bad = [line for line in log if '"level":"ERROR"' in line or "panicked" in line]
assert not bad, "".join(bad[:5])
print(f"{generated} fuzzed requests, with and without a token: no 5xx, no INTERNAL, no ERROR in the log")
