# The control plane: `datacage serve --production` (gunicorn), as an unprivileged user.
# Build from the repository root (docker/compose.yaml does):
#   docker build -f docker/control-plane.Dockerfile -t datacage-control-plane .
# Its state (registry, bundles, the session key) is in DATACAGE_DATA_DIR, a volume.

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
# A non-editable install in its own virtual environment: the runtime stage copies only that.
# The datacage's build stage repeats this stage word for word up to here, so the layer cache
# makes the install once for both images.
RUN python3 -m venv /opt/datacage \
 && /opt/datacage/bin/pip install --upgrade pip \
 && /opt/datacage/bin/pip install .
RUN /opt/datacage/bin/datacage --help > /dev/null

FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 datacage \
 && useradd --system --uid 10001 --gid datacage --home-dir /var/lib/datacage \
      --shell /usr/sbin/nologin datacage \
 && install -d -o datacage -g datacage -m 0700 /var/lib/datacage \
 && install -d -o datacage -g datacage -m 0755 /etc/datacage/certs \
 && install -d -o datacage -g datacage -m 0700 /var/lib/datacage-identity
COPY --from=build /opt/datacage /opt/datacage
COPY docker/healthcheck.py /usr/local/bin/datacage-healthcheck
COPY docker/make_certs.py /opt/datacage/share/make_certs.py
COPY docker/bootstrap_identity.py /opt/datacage/share/bootstrap_identity.py
ENV PATH=/opt/datacage/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATACAGE_DATA_DIR=/var/lib/datacage \
    DATACAGE_LOG_FORMAT=json
USER datacage
WORKDIR /var/lib/datacage
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=6s --start-period=20s --retries=3 \
  CMD ["python", "/usr/local/bin/datacage-healthcheck", "http", "http://127.0.0.1:5000/healthz"]
# One gunicorn process with threads: the embedded registry is opened by one process only
# (server/production.py). Several processes need the registry in a SPARQL endpoint.
CMD ["datacage", "serve", "--production", "--host", "0.0.0.0", "--port", "5000"]
