# The fleet's broker (docker/compose.yaml, profile `fleet`): Debian's redis-server on the same
# Debian base as the other images, so a machine that reaches only a Debian mirror (no image
# registry) can run the fleet. It carries identifiers only (docs/operations.md, "Scaling out").
# Build from the repository root (docker/compose.yaml does):
#   docker build -f docker/broker.Dockerfile -t datacage-broker .

# The base: the official image by default; tests/support/containers.py builds on a
# Debian bookworm base made locally instead (no image registry is reachable there).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE}
# redis-tools brings redis-cli for the health check. Debian's package makes a `redis` user;
# the compose file runs the server as that user, read-only, with its data on a volume.
RUN { command -v redis-server && command -v redis-cli; } > /dev/null \
 || { apt-get update \
      && apt-get install -y --no-install-recommends redis-server redis-tools \
      && rm -rf /var/lib/apt/lists/*; } \
 && mkdir -p /data && chown redis:redis /data
COPY docker/broker/redis.conf /etc/datacage-broker/redis.conf
USER redis
WORKDIR /data
EXPOSE 6379
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["redis-cli", "ping"]
CMD ["redis-server", "/etc/datacage-broker/redis.conf"]
