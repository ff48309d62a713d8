#!/usr/bin/env bash
# Interop: authql against clients and servers that others wrote. `just interop`.
#
# Installs its peers under target/interop (npm packages, a Python venv) and
# Debian's chromium if missing, starts two aiosmtpd mail servers (plain, and
# STARTTLS + AUTH) each with an authql on loopback, then runs one check per
# protocol and prints a line for each.
# Exits non-zero if any check fails. A new peer is one more `check` line.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/interop
WORK=$ROOT/target/interop
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/authql
mkdir -p "$WORK"

say() { printf '%s\n' "$*" >&2; }

install() {
  if [ ! -d "$WORK/node_modules" ] || ! cmp -s "$HERE/package-lock.json" "$WORK/package-lock.json"; then
    say "installing npm packages into $WORK"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$WORK/"
    (cd "$WORK" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || return 1
  fi
  if [ ! -x "$WORK/venv/bin/python" ] || ! cmp -s "$HERE/requirements.txt" "$WORK/requirements.txt"; then
    say "installing Python packages into $WORK/venv"
    python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q -r "$HERE/requirements.txt" || return 1
    cp "$HERE/requirements.txt" "$WORK/"
  fi
  if ! command -v chromium >/dev/null; then
    say "installing Debian's chromium"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || return 1
  fi
}

install || { echo "FAIL installing the interop peers"; exit 1; }
# The binary the integration tests use: right after `cargo test --workspace` (as in CI)
# this builds nothing, where `cargo build --bin authql` would rebuild with other features.
(cd "$ROOT" && cargo test --workspace --no-run --quiet >"$WORK/build.log" 2>&1) \
  || { echo "FAIL building authql"; cat "$WORK/build.log"; exit 1; }

RUN=$(mktemp -d "$WORK/run.XXXXXX")
PIDS=()
cleanup() {
  [ "${#PIDS[@]}" -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT

# start_sink NAME [--starttls]: an aiosmtpd mail server; sets PORT.
start_sink() {
  local name=$1; shift
  "$WORK/venv/bin/python" "$HERE/smtp_sink.py" "$RUN/$name" "$RUN/$name.port" "$@" >"$RUN/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$RUN/$name.port" ] && break; sleep 0.1; done
  [ -s "$RUN/$name.port" ] || { echo "FAIL starting aiosmtpd ($name)"; cat "$RUN/$name.log"; return 1; }
  PORT=$(cat "$RUN/$name.port")
}

# start_authql NAME VAR=VALUE...: an authql on a free port with its own data; sets URL.
start_authql() {
  local name=$1 port=; shift
  env -i PATH="$PATH" HOME="${HOME:-/root}" \
    LISTEN_ADDR=127.0.0.1:0 DATA_DIR="$RUN/$name" LOG_FORMAT=json RUST_LOG=info MAIL_POLL_INTERVAL=200ms PWNED_PASSWORDS_URL=off "$@" \
    "$BIN" >"$RUN/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    port=$(grep -so '"message":"authql is serving","port":[0-9]*' "$RUN/$name.log" | grep -o '[0-9]*$' | head -n1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "FAIL starting authql ($name)"; cat "$RUN/$name.log"; return 1; }
  URL=http://127.0.0.1:$port
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export MAILDIR=$RUN/mail MAILDIR_TLS=$RUN/mail-tls
start_sink mail || exit 1
MAIL_PORT=$PORT
# Metrics live on a management listener of their own, as in a deployment.
METRICS_PORT=$(free_port)
start_authql authql SMTP_URL="smtp://127.0.0.1:$PORT" METRICS_ADDR="127.0.0.1:$METRICS_PORT" || exit 1
export AUTHQL_URL=$URL AUTHQL_LOG=$RUN/authql.log AUTHQL_METRICS_URL=http://127.0.0.1:$METRICS_PORT
start_sink mail-tls --starttls || exit 1
start_authql authql-tls SMTP_URL="smtp://mailer:interop-sink-password@127.0.0.1:$PORT" \
  SMTP_CA_FILE="$MAILDIR_TLS/ca.pem" || exit 1
export AUTHQL_TLS_URL=$URL
# npm oidc-provider, and an authql that signs in with it (both on ports chosen here:
# each must know the other's address before it starts).
# The example app's authql signs in with the same provider.
OP_PORT=$(free_port); OIDC_AUTHQL_PORT=$(free_port); SPA_AUTHQL_PORT=$(free_port)
export OIDC_OP_URL=http://127.0.0.1:$OP_PORT
OP_SETTINGS=(OIDC_PROVIDERS=op OIDC_OP_ISSUER="$OIDC_OP_URL" OIDC_OP_CLIENT_ID=authql-interop OIDC_OP_CLIENT_SECRET=interop-provider-secret)
cp "$HERE"/oidc_op.mjs "$WORK/"
node "$WORK/oidc_op.mjs" "$OP_PORT" \
  "http://127.0.0.1:$OIDC_AUTHQL_PORT/auth/op/callback,http://localhost:$SPA_AUTHQL_PORT/auth/op/callback" >"$RUN/oidc-op.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q ready "$RUN/oidc-op.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$RUN/oidc-op.log" || { echo "FAIL starting oidc-provider"; cat "$RUN/oidc-op.log"; exit 1; }
start_authql authql-oidc LISTEN_ADDR=127.0.0.1:$OIDC_AUTHQL_PORT "${OP_SETTINGS[@]}" || exit 1
export AUTHQL_OIDC_URL=$URL

# The fuzzer gets an instance of its own: its thousands of logins from
# loopback would otherwise empty the rate-limit buckets later checks use.
start_authql authql-fuzz SMTP_URL="smtp://127.0.0.1:$MAIL_PORT" || exit 1
FUZZ_URL=$URL

# The example browser app on its own origin, beside an authql in cookie mode
# that signs in with the provider above. Both on localhost: passkeys need a
# domain (the RP ID is then localhost), never an IP address.
SPA_PORT=$(free_port)
export SPA_URL=http://localhost:$SPA_PORT AUTHQL_SPA_URL=http://localhost:$SPA_AUTHQL_PORT
start_authql authql-spa LISTEN_ADDR=127.0.0.1:$SPA_AUTHQL_PORT PUBLIC_URL="$AUTHQL_SPA_URL" \
  SMTP_URL="smtp://127.0.0.1:$MAIL_PORT" FRONTEND_URL="$SPA_URL" CORS_ALLOWED_ORIGINS="$SPA_URL" \
  REFRESH_TOKEN_TRANSPORT=cookie "${OP_SETTINGS[@]}" || exit 1
AUTHQL_URL=$AUTHQL_SPA_URL python3 "$ROOT/examples/spa/serve.py" "$SPA_PORT" >"$RUN/spa.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q "example app at" "$RUN/spa.log" 2>/dev/null && break; sleep 0.1; done
export SPA_SCREENSHOT=$ROOT/target/interop/spa.png SPA_PASSKEYS_SCREENSHOT=$ROOT/target/interop/spa-passkeys.png

# Webhooks: an instance that may send to loopback, and an administrator made by
# the CLI on its database (second factors not required of administrators here).
start_authql authql-hooks SMTP_URL="smtp://127.0.0.1:$MAIL_PORT" WEBHOOK_ALLOW_PRIVATE=true \
  WEBHOOK_POLL_INTERVAL=200ms REQUIRE_MFA=off || exit 1
export AUTHQL_HOOKS_URL=$URL HOOKS_ADMIN=hooks-admin@example.com WEBHOOKS_DUMP=$RUN/webhooks.json
printf '%s\n' "Correct-Horse-Battery-Staple-42" | env -i PATH="$PATH" HOME="${HOME:-/root}" \
  DATA_DIR="$RUN/authql-hooks" REQUIRE_MFA=off PWNED_PASSWORDS_URL=off "$BIN" create-admin "$HOOKS_ADMIN" \
  >"$RUN/create-admin.log" 2>&1 || { echo "FAIL making the webhooks administrator"; cat "$RUN/create-admin.log"; exit 1; }

# ES modules resolve packages next to the script: run the Node checks from $WORK.
cp "$HERE"/*.mjs "$WORK/"
export SCREENSHOT=$ROOT/target/interop/graphiql.png

failures=0
# check NAME COMMAND...: one line per check; the command's output is shown when it fails.
# INTEROP_ONLY=text runs only the checks whose name contains it (e.g. INTEROP_ONLY=Chromium).
check() {
  local name=$1 out; shift
  [[ -z "${INTEROP_ONLY:-}" || "$name" == *"$INTEROP_ONLY"* ]] || return 0
  if out=$(cd "$HERE" && "$@" 2>&1); then
    echo "PASS $name — $(printf '%s' "$out" | tail -n1)"
    printf '%s\n' "$out" | grep '^  SHOULD' || true
  else
    echo "FAIL $name"
    printf '%s\n' "$out" | sed 's/^/    /'
    failures=$((failures + 1))
  fi
}

node_check() { node "$WORK/$1"; }
py_check() { "$WORK/venv/bin/python" "$@"; }

check "GraphQL over HTTP: graphql-http serverAudits" node_check audit.mjs
check "JWT: PyJWT verifies with the JWKS alone; authql refuses after logout" py_check jwt_check.py
check "Mail: aiosmtpd receives a well-formed confirmation whose link confirms" py_check mail_check.py
check "Mail over STARTTLS + AUTH: aiosmtpd with Python's ssl, private CA via SMTP_CA_FILE" py_check mail_tls_check.py
check "Uploads: PyPI gql sends an avatar by the multipart spec; Pillow reads the served PNG" py_check upload_check.py
check "TOTP: PyPI pyotp reads the otpauth URI; its codes enable MFA and finish a login once" py_check totp_check.py
check "GraphQL client: graphql-request signup → confirm → login → me → refresh → logout" node_check client_flow.mjs
check "GraphiQL in headless Chromium, outside requests blocked" node_check graphiql.mjs
check "Fuzzing: PyPI schemathesis loads the schema by introspection and fuzzes every operation" \
  env AUTHQL_URL="$FUZZ_URL" AUTHQL_LOG="$RUN/authql-fuzz.log" "$WORK/venv/bin/python" fuzz_check.py
check "Metrics: PyPI prometheus-client parses /metrics; logins and mail counted, client names never labels" py_check metrics_check.py
check "OpenID Connect: Chromium signs in at npm oidc-provider (login, consent) into an authql session" node_check oidc_signin.mjs
check "Example app: Chromium drives examples/spa through every step; the refresh cookie is out of script's reach; provider sign-in and linking with PKCE" node_check spa.mjs
check "Passkeys: Chromium's virtual authenticator (CDP) adds passkeys in examples/spa and signs in with one, by button and by autofill" node_check spa_passkeys.mjs
check "Subscriptions: npm graphql-ws hears SESSION_ENDED within a second of a logoutAll elsewhere; a bad token gets 4403" node_check session_events.mjs
check "Webhooks: PyPI standardwebhooks verifies real deliveries and refuses a tampered body, id, timestamp or secret" \
  env AUTHQL_URL="$AUTHQL_HOOKS_URL" "$WORK/venv/bin/python" webhook_check.py
check "Webhooks: npm svix verifies the same deliveries and refuses a tampered body" node_check svix_check.mjs
check "App metadata: PyJWT verifies the app_metadata claim an administrator set, from the next refresh, with the JWKS alone" \
  env AUTHQL_URL="$AUTHQL_HOOKS_URL" "$WORK/venv/bin/python" app_metadata_check.py

[ "$failures" -eq 0 ] || { echo "$failures interop check(s) failed; logs in $RUN"; exit 1; }
echo "all interop checks passed"
