# The Community Solid Server, exactly the version the tests use (package-lock.json), as the
# image's unprivileged `node` user. Build from the repository root:
#   docker build -f docker/css.Dockerfile -t datacage-css .

# The base: the official image by default; tests/support/container_base.py builds on a
# Debian bookworm base made locally instead (no image registry is reachable there).
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /opt/css
COPY package.json package-lock.json ./
# Azurite is the test bed's blob-storage emulator, not part of a deployment.
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
 && npm uninstall --no-save --no-audit --no-fund azurite

FROM ${BASE_IMAGE}
COPY --from=build /opt/css /opt/css
# The official image has a `node` user (uid 1000); a plain Debian base with Debian's nodejs
# has not, so it is made here with the same uid.
RUN id node > /dev/null 2>&1 \
 || useradd --uid 1000 --user-group --no-create-home --shell /usr/sbin/nologin node \
 && install -d -o node -g node -m 0700 /data
USER node
WORKDIR /opt/css
EXPOSE 3000
# CSS's base URL is its public (nginx) URL, so the probe names it as nginx would. Not a
# CSS_* variable: CSS turns every one of those into an option and exits on unknown ones.
ENV POD_PUBLIC_HOST=localhost:3000 POD_PUBLIC_PROTO=http
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get({host: '127.0.0.1', port: 3000, path: '/.well-known/openid-configuration', headers: {host: process.env.POD_PUBLIC_HOST, 'x-forwarded-proto': process.env.POD_PUBLIC_PROTO}}, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
ENTRYPOINT ["node", "node_modules/@solid/community-server/bin/server.js"]
CMD ["-c", "@css:config/file.json", "-f", "/data", "-p", "3000", "-b", "http://localhost:3000/"]
