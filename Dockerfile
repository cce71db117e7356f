# One image, two processes: `node dist/main.js` (API, default) and `node dist/worker.js`
# (BullMQ worker). Migrations: `node dist/cli.js migrate`.
ARG NODE_IMAGE=node:22-bookworm-slim

# The build needs devDependencies (typescript); none of them reach the runtime stage.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The workspaces' manifests first (the SDK and the CLI, packages/), so npm ci can link them.
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
COPY packages/cli/package.json ./packages/cli/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.migrations.json ./
COPY scripts ./scripts
COPY migrations ./migrations
COPY src ./src
COPY packages ./packages
# The dashboard's sources; the build bundles them into dist/web.
COPY web ./web
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Production dependencies only; install scripts stay off because nothing at run time needs
# a native build, and it keeps a compromised package's postinstall out of the image.
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
COPY packages/cli/package.json ./packages/cli/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The command line too, for `docker compose exec api npx tokenpool status`.
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY --from=build /app/packages/cli/dist ./packages/cli/dist
COPY --from=build /app/packages/cli/bin ./packages/cli/bin
# The image's `node` user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# PORT (API), WORKER_PORT (worker health and metrics), METRICS_PORT (API metrics, not public).
EXPOSE 3000 3001 9464
# The slim image has no curl; Node 22's fetch does the probe. The worker listens on
# WORKER_PORT instead, so its container overrides this (see docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# A larger young generation for the API (V8 default 16 MiB per semi-space): a request
# allocates short-lived objects, and fewer scavenges gave 5-10% more requests per core.
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
