# A plain multi-stage build of the scim-server binary, mirroring the install
# steps of docs/operations.md (build with cargo, run as an unprivileged user,
# data in one volume). Not built in this project's CI.
#
#   docker build -t scim-server .
#   docker run -p 8080:8080 -v scim-data:/data \
#     -e SCIM_PUBLIC_URL=https://scim.example.net scim-server

FROM rust:1.89-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p scim-server \
 && install -m 0755 target/release/scim-server /usr/local/bin/scim-server

FROM debian:bookworm-slim
# libpq5 for PostgreSQL (SQLite is compiled in); CA certificates for TLS to
# PostgreSQL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /data --shell /usr/sbin/nologin scim \
 && install -d -o scim -g scim -m 0700 /data
COPY --from=build /usr/local/bin/scim-server /usr/local/bin/scim-server
USER scim
WORKDIR /data
VOLUME ["/data"]
ENV DATABASE_URL=sqlite:///data/scim-server.db \
    SCIM_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/scim-server"]
CMD ["serve"]
