# Both binaries in one image (the Deployments pick one with `command`).
# Not built in this repository's CI: the development machines have no Docker
# engine. Build with `docker build -t supabase-operator:0.1.0 .`.
#
# Stage 1: static musl binaries, so the runtime image needs no libc.
FROM rust:1.95-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl \
 && apt-get update && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
      -p supabase-webhook -p supabase-reconciler -p supabase-certs \
 && mkdir /out \
 && cp target/x86_64-unknown-linux-musl/release/webhook \
       target/x86_64-unknown-linux-musl/release/reconciler \
       target/x86_64-unknown-linux-musl/release/certgen /out/

# Stage 2: distroless static, non-root (uid 65532), nothing but the binaries and CA roots.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /
USER 65532:65532
ENTRYPOINT ["/webhook"]
