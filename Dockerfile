# syntax=docker/dockerfile:1
# The bulk-enroll image: a build stage compiles the TypeScript with the dev dependencies,
# the runtime stage carries only the production dependencies and the compiled code, runs
# as the unprivileged `node` user, and reports its health from the worker's /healthz.
#
#   docker build -t bulk-enroll .
#   docker run --rm --env-file .env bulk-enroll              # a worker (the default command)
#   docker run --rm --env-file .env bulk-enroll status --json
# See docs/deploy.md.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: `prepare` (tsc) needs the sources, copied below; nothing else needs an install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY jobs ./jobs
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The sample files (the simulator's directory, a demo input) and where reports and log
# files go: owned by the runtime user, so named volumes mounted there are writable.
COPY samples ./samples
RUN mkdir -p reports logs && chown node:node reports logs
USER node
# /metrics and /healthz of `worker` and `run`. Inside a container the process listens on
# every interface of the container's own network; publish the port only where a scraper
# or a probe needs it.
ENV BULK_ENROLL_METRICS_PORT=9464 \
    BULK_ENROLL_METRICS_HOST=0.0.0.0
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "dist/src/metrics/probe.js"]
# The workers stop on SIGTERM within --close-timeout-ms (25 s): give `docker stop` -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["worker"]
