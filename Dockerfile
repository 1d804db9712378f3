# syntax=docker/dockerfile:1

# ---- build ----------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /app

# Dependency layer: build every dependency against stub targets so that this
# layer stays cached until Cargo.toml / Cargo.lock change. SQLite, libpq and
# aws-lc are compiled from bundled C sources with cc (gcc/make/perl are in the
# base image; cmake is not needed).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src \
           target/release/.fingerprint/gatehouse-* \
           target/release/deps/gatehouse-* \
           target/release/deps/libgatehouse-* \
           target/release/gatehouse

# The real sources. migrations/ (diesel embed_migrations!), templates/ (askama)
# and static/ are read at compile time, so they must be in the builder. They are
# copied with the whole (.dockerignore-filtered) context rather than one by one
# because Git does not keep empty directories: an explicit `COPY static static`
# would fail on a checkout where one of them has no files yet.
COPY . .
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && install -m 0755 target/release/gatehouse /usr/local/bin/gatehouse

# ---- runtime --------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid gatehouse --home-dir /var/lib/gatehouse \
            --no-create-home --shell /usr/sbin/nologin gatehouse \
 && install -d -o gatehouse -g gatehouse -m 0750 /var/lib/gatehouse

COPY --from=builder /usr/local/bin/gatehouse /usr/local/bin/gatehouse

USER gatehouse:gatehouse
WORKDIR /var/lib/gatehouse

ENV GATEHOUSE_BIND=0.0.0.0:8080
EXPOSE 8080

# No HEALTHCHECK: the slim image has no HTTP client; docker-compose.yml covers
# readiness of its dependencies.
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
