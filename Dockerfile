# sessiond: built with the dev dependencies, run with the runtime ones only, as the unprivileged user
# `node`. The server is started by node itself: npm and npx do not forward SIGTERM, and sessiond drains on
# SIGTERM (open transactions end UNAVAILABLE, nothing of them written) before it exits 0.
#
#   docker build -t sessiond .
#   docker run -p 50051:50051 -e SESSIOND_MEMCACHED=memcached-host:11211 sessiond
#
# Set the port with SESSIOND_LISTEN (not --listen): the HEALTHCHECK probe reads it too.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY gen ./gen
COPY server ./server
COPY client ./client
COPY rpc ./rpc
RUN npm run build

# The runtime runs on glibc, not Alpine's musl: sealed storage (--data-keys) needs libsodium, whose
# sodium-native binary links glibc (on musl sessiond refuses --data-keys and names the platform).
FROM node:20-bookworm-slim AS runtime-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SESSIOND_LISTEN=0.0.0.0:50051
WORKDIR /app
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "dist/server/health-probe.js"]
# The default --grace is 10 s: give `docker stop` more than that (docker stop -t 15, compose stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/server/main.js"]
CMD ["serve"]
