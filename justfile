# authql tasks. `just --list` shows them all.

pg_url := env_var_or_default("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
mysql_url := env_var_or_default("MYSQL_URL", "mysql://root@127.0.0.1:3306/test")

# Serve on 127.0.0.1:8080 with SQLite in ./data.
run:
    cargo run --release

# The test suite on SQLite.
test:
    cargo test --workspace

# The test suite on SQLite, PostgreSQL and MariaDB.
test-all: test
    TEST_DATABASE_URL={{pg_url}} cargo test --workspace
    TEST_DATABASE_URL={{mysql_url}} cargo test --workspace

# Formatting and clippy, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Regenerate schema.graphql from the code.
schema:
    cargo run -q -- schema > schema.graphql

# Apply database migrations (DATABASE_URL, or SQLite in ./data).
migrate:
    cargo run --release -- migrate

# Everything CI runs.
ci:
    bash .ci/run

# Benchmarks with wrk (installed if missing); BENCH_DATABASE_URL adds a PostgreSQL run.
bench:
    command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
    cargo build --release --bin authql --example argon2_rate --example passkey_load
    python3 bench/run.py

# The example browser app (examples/spa) at http://localhost:5173, beside authql
# at http://localhost:8080 in cookie mode (mail in ./data/outbox, links in the log).
# localhost, not 127.0.0.1: passkeys need a domain. Sign-in providers come from
# the environment (OIDC_PROVIDERS=…, GOOGLE_CLIENT_ID=…, see README).
spa:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release --bin authql
    PUBLIC_URL=http://localhost:8080 FRONTEND_URL=http://localhost:5173 CORS_ALLOWED_ORIGINS=http://localhost:5173 \
      REFRESH_TOKEN_TRANSPORT=cookie target/release/authql &
    trap 'kill $!' EXIT
    AUTHQL_URL=http://localhost:8080 python3 examples/spa/serve.py 5173

# Check authql against third-party clients and servers (installs them under target/interop).
interop:
    bash interop/run.sh
