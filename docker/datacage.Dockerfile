# The datacage (data plane): `datacage worker`, with bubblewrap for the algorithm sandbox.
# Build from the repository root (docker/compose.yaml does):
#   docker build -f docker/datacage.Dockerfile -t datacage-worker .
#
# It runs as root *inside the container*, and that is not an oversight: the sandbox hands the
# run's folders to uid 65534, makes a private mount namespace to stage them and drops to
# 65534 before starting bwrap (server/datacage/sandbox/launch.py), which needs CAP_CHOWN,
# CAP_SYS_ADMIN, CAP_SETUID/SETGID. As a non-root user every run is REFUSED. docker/compose.yaml
# drops every other capability; docs/deployment.md says exactly what is needed and why, and
# how to map this container's root to an unprivileged host user (userns-remap, rootless).

# The base: the official image by default; tests/support/container_base.py builds on a
# Debian bookworm base made locally instead (no image registry is reachable there).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server/ server/
COPY connectors/ connectors/
COPY vocab/ vocab/
COPY datafuse/ datafuse/
COPY datacage_sdk/ datacage_sdk/
# Up to here, word for word the control plane's build stage: the engine's layer cache builds
# the shared install once for both images (docs/deployment.md, "Build time").
RUN python3 -m venv /opt/datacage \
 && /opt/datacage/bin/pip install --upgrade pip \
 && /opt/datacage/bin/pip install .
# The worker's own dependencies (OpenDP), push connectors' SDKs (docs/push.md) and the fleet's
# Celery client (docs/operations.md); add ",parquet" for Parquet datasets (~170 MB more).
ARG EXTRAS=worker,s3,azure-blob,fleet
RUN /opt/datacage/bin/pip install ".[${EXTRAS}]" \
 && /opt/datacage/bin/datacage worker --help > /dev/null

FROM ${BASE_IMAGE}
# bubblewrap: the sandbox; libseccomp2: its seccomp filter (pyseccomp loads it with ctypes).
# The sandbox hides the stdlib's site-packages under a tmpfs, on a read-only root: the
# folder must exist. The official image has it; Debian's python3 (dist-packages) has not.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap libseccomp2 \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -m 0700 /var/lib/datacage-worker \
 && python3 -c "import os, sysconfig; \
      os.makedirs(sysconfig.get_paths()['stdlib'] + '/site-packages', exist_ok=True)"
COPY --from=build /opt/datacage /opt/datacage
COPY docker/healthcheck.py /usr/local/bin/datacage-healthcheck
ENV PATH=/opt/datacage/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATACAGE_WORKER_DIR=/var/lib/datacage-worker
WORKDIR /var/lib/datacage-worker
# The worker touches <data dir>/heartbeat after every loop that reached the control plane; a
# run (pulls, sandbox, gate) can hold the loop for minutes, hence the generous age.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "/usr/local/bin/datacage-healthcheck", "heartbeat", \
       "/var/lib/datacage-worker/heartbeat", "--max-age", "600"]
CMD ["datacage", "worker"]
