# The hapress image: the controller, the per-instance agent (init + backup-stream sidecar), and the
# optional mysqld_exporter sidecar (Debian's prometheus-mysqld-exporter).
# mariadb-backup and the client come from Debian bookworm, MariaDB 10.11, the same major version as
# the server image (mariadb:10.11): a backup must be prepared by the version that made it.
# The base: any Debian bookworm image with Node.js 20 (scripts/build-images.sh builds it FROM its own
# Debian tree, with no registry).
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends mariadb-backup mariadb-client prometheus-mysqld-exporter \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# Never root: the same uid as the mariadb image's mysql, so the init step and the backup agent share
# the server's data (the rendered pods also set runAsUser 999 and runAsNonRoot).
USER 999:999
ENTRYPOINT ["node", "/app/bin/hapress"]
