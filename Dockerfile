# authql in a container: built in one stage, run from a slim image as a
# non-root user with its data (SQLite, mail files) in the /data volume.
#   docker build -t authql .
#   docker run -p 8080:8080 -v authql-data:/data authql
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
ENV LISTEN_ADDR=0.0.0.0:8080 DATA_DIR=/data LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/authql"]
CMD ["serve"]
