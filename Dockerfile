# authql in a container: built in one stage, run from a slim image as a
# non-root user with its data (mail files, a single instance's SQLite) in the
# /data volume. The image runs in production mode (APP_ENV=production): no
# GraphiQL or introspection, no generated key, no links in the logs, and it
# refuses to start until a deployment gives it what production needs:
#   docker build -t authql .
#   docker run -p 8080:8080 -v authql-data:/data \
#     -e PUBLIC_URL=https://auth.example.com -e SECRET_KEY="$(authql keygen --secret)" \
#     -e DATABASE_URL=postgres://authql:PASSWORD@db:5432/authql \
#     -e SMTP_URL=smtps://USER:PASSWORD@smtp.example.com -e MAIL_FROM='authql <noreply@example.com>' \
#     authql
# Metrics are on the management port 9100 (METRICS_ADDR), which is not
# exposed: reach it from inside your network only.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin authql

FROM debian:bookworm-slim
# ca-certificates: TLS to SMTP, Redis and sign-in providers; curl: the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin authql \
 && mkdir -p /data && chown authql /data
COPY --from=build /src/target/release/authql /usr/local/bin/authql
USER authql
WORKDIR /data
ENV APP_ENV=production LISTEN_ADDR=0.0.0.0:8080 METRICS_ADDR=0.0.0.0:9100 DATA_DIR=/data LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/authql"]
CMD ["serve"]
