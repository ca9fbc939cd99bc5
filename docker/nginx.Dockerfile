# nginx for the compose file's two nginx services (the entrance and the gateway): Debian's
# nginx package, with an entrypoint that renders docker/nginx/<service>/*.template into
# conf.d as the official nginx image does. Built on the same Debian base as the other images,
# so a machine that reaches only a Debian mirror (no image registry) can run the stack.
# Build from the repository root (docker/compose.yaml does):
#   docker build -f docker/nginx.Dockerfile -t datacage-nginx .

# The base: the official image by default; tests/support/containers.py builds on a
# Debian bookworm base made locally instead (no image registry is reachable there).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE}
# gettext-base: envsubst; wget: the health check (a base that has all three already, as the
# test bed's does, needs no package index). Debian's default site is removed: only the
# rendered templates serve. Logs go to the container's output.
RUN { command -v nginx && command -v envsubst && command -v wget; } > /dev/null \
 || { apt-get update \
      && apt-get install -y --no-install-recommends nginx gettext-base wget ca-certificates \
      && rm -rf /var/lib/apt/lists/*; } \
 && rm -rf /etc/nginx/sites-enabled/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
COPY docker/nginx/render-templates.sh /usr/local/bin/render-templates
EXPOSE 8443
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/render-templates"]
CMD ["nginx", "-g", "daemon off;"]
