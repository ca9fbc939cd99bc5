# The Community Solid Server, exactly the version the tests use (package-lock.json), as the
# image's unprivileged `node` user. Build from the repository root:
#   docker build -f docker/css.Dockerfile -t datacage-css .

# The base: the official image by default; tests/support/container_base.py builds on a
# Debian bookworm base made locally instead (no image registry is reachable there).
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
# npm: the official image has it. A plain Debian base has Debian's nodejs without npm, whose
# Debian package pulls some 350 more packages into the base every image shares: there, npm is
# taken from the npm registry instead, this exact release, checked against its published
# digest. It is used in this build stage only.
ARG NPM_VERSION=10.8.2
ARG NPM_SHA512=c7f0088c520a46596b85c6f8f1da943400199748a0f7ea8cb8df75469668dc26f6fb3ba26df87e2884a5ebe91557292d0f3db7d0929cdb4f14910c3032ac81fb
RUN command -v npm > /dev/null || { \
      wget -q -O /tmp/npm.tgz "https://registry.npmjs.org/npm/-/npm-${NPM_VERSION}.tgz" \
   && echo "${NPM_SHA512}  /tmp/npm.tgz" | sha512sum -c --quiet - \
   && mkdir -p /opt/npm && tar -xzf /tmp/npm.tgz -C /opt/npm --strip-components=1 \
   && rm /tmp/npm.tgz && ln -s /opt/npm/bin/npm-cli.js /usr/local/bin/npm; }
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
