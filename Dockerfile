# syntax=docker/dockerfile:1
#
# The production image: TypeScript compiled in a build stage, production dependencies installed
# (and better-sqlite3 compiled) in a stage of their own, and a slim runtime with neither the
# compiler nor the dev dependencies. `npm run verify:prod` repeats these steps without Docker.
#
#   docker build -t auth-qr-service .
#   docker run --rm -p 8000:8000 -e JWT_SECRET="$(openssl rand -base64 48)" -v authqr-data:/app/data auth-qr-service
#
# Keep in step with scripts/verify-prod.sh.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- toolchain: what native modules need to compile -------------------------------------------
# better-sqlite3 downloads a prebuilt binary when it can reach one and otherwise compiles from
# source with node-gyp (about two minutes): python3, make and g++. node-gyp takes the Node headers
# that the image ships (/usr/local/include/node) instead of downloading them.
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local \
    npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
WORKDIR /app

# ---- build: every dependency, then tsc to dist/src (the CLIs) and esbuild to dist/server ------
FROM toolchain AS build
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
RUN npm run build

# ---- prod-deps: production dependencies only (native modules compiled here) -------------------
FROM toolchain AS prod-deps
COPY package.json package-lock.json ./
COPY scripts/prune-native-build.sh ./scripts/
RUN npm ci --omit=dev \
    && sh scripts/prune-native-build.sh node_modules \
    && npm cache clean --force

# ---- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# ca-certificates: MongoDB Atlas and managed PostgreSQL speak TLS (Node bundles its own CAs; the
# system store is there for NODE_EXTRA_CA_CERTS and --use-openssl-ca). tini is PID 1: it forwards
# SIGTERM to Node (which drains and exits 0) and reaps zombies.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's `node` user (uid 1000) runs the service; it owns only the data folder. A fresh named
# volume mounted there inherits this ownership.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 8000
# Liveness only: readiness (database reachable) belongs to the orchestrator's own check
# (Render: healthCheckPath /health/ready). No curl in the slim image: Node's fetch does it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["tini", "--"]
# Not `npm start`: npm would rebuild and would not pass signals on; the bundled server runs directly.
CMD ["node", "dist/server/main.mjs"]
