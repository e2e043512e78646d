# Handover: the appservice (appservice/dist) and the built portal (portal/dist) in one image.
#   docker build -t handover:local .      (docker-compose.yml builds it for you)
# The image runs as the unprivileged user handover (uid 10001). See docs/install.md.

# Same Node as scripts/with-node22.sh. Pinned to a patch release: bump it deliberately.
ARG NODE_IMAGE=node:22.23.3-bookworm-slim

# ---- build: every dependency, then both workspaces ----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first, so the dependency layer is reused while only source changes.
COPY package.json package-lock.json ./
COPY appservice/package.json appservice/
COPY portal/package.json portal/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY appservice/ appservice/
COPY portal/ portal/
RUN npm run build -w appservice && npm run build -w portal

# ---- runtime: production dependencies and the build output only --------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HANDOVER_CONFIG=/config/config.yaml
WORKDIR /app
RUN groupadd --system --gid 10001 handover \
 && useradd --system --uid 10001 --gid handover --home-dir /app --no-create-home --shell /usr/sbin/nologin handover \
 && mkdir -p /config /data \
 && chown handover:handover /data
# A new named volume mounted at /data starts owned by handover, as this directory is.
COPY package.json package-lock.json ./
COPY appservice/package.json appservice/
COPY portal/package.json portal/
# Only the appservice's runtime dependencies: the portal is served as built files, so its
# packages (Vue, nhsuk-frontend) are not needed here.
RUN npm ci --omit=dev --workspace=appservice --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/appservice/dist appservice/dist
COPY --from=build /app/portal/dist portal/dist
# The compose deployment's first-run step (docker-compose.yml, service init).
COPY deploy/init/first-run.ts deploy/init/first-run.ts

USER handover
# 8090: portal, admin API (/api/v1), /healthz, /readyz, /metrics. 9000: appservice transactions.
EXPOSE 8090 9000
# Liveness only; docker-compose.yml checks readiness (/readyz). Assumes web.port 8090.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# A smaller young generation keeps the resident set within the ingest target (docs/performance.md).
ENTRYPOINT ["node", "--max-semi-space-size=2", "--optimize-for-size", "appservice/dist/cli.js"]
# docker-compose.yml adds --migrate, which applies pending database migrations before serving.
CMD ["serve", "--config", "/config/config.yaml"]
