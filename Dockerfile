# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the full dev toolchain.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm run build

# Runtime stage: production dependencies and compiled output only, as a non-root user.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/spool/pandora/data_in /etc/pandora && chown -R node:node /var/spool/pandora
# The spool (queued files, remote configuration folders) outlives the container; the
# configuration (pandora_server.conf, tentacle_server.conf, certificates) comes from outside.
VOLUME ["/var/spool/pandora", "/etc/pandora"]
USER node
# 41121: Tentacle; 8080: health, readiness, drain, status and metrics (http_port).
EXPOSE 41121 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8080/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "--max-old-space-size=256", "--max-semi-space-size=16", "--min-semi-space-size=16", "dist/src/main.js"]
CMD ["serve", "--incomingdir", "/var/spool/pandora/data_in", "--tentacle-address", "0.0.0.0", "--http-address", "0.0.0.0", "--http-port", "8080"]
