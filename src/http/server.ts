import type { AddressInfo } from 'node:net';
import Fastify, { LogController } from 'fastify';
import type { Logger, Registry } from '../core/index.js';
import { decideDrain, drainAuthFor, type DrainAuth } from './drain-auth.js';
import { createRateMeter, type RateMeter } from './rates.js';
import { STATUS_PAGE_HTML } from './status-page.js';
import type { HttpStateSource } from './types.js';

export interface HttpServerConfig {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Who may POST /drain (drain-auth.ts); default: from `host` with no token. */
  readonly drainAuth?: DrainAuth;
}

export interface HttpServer {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/**
 * The operations side on its own port: `/livez`, `/readyz`, `POST /drain`, `/status`,
 * `/metrics` and the status page at `/`. It reads everything through `state` and `registry`.
 */
export function createHttpServer(
  config: HttpServerConfig,
  deps: { log: Logger; registry: Registry; state: HttpStateSource },
): HttpServer {
  const { registry, state } = deps;
  const app = createApp(deps.log);
  const meter = createRateMeter(async () => (await state.status()).totals);
  const drainAuth = config.drainAuth ?? drainAuthFor(config.host, undefined);
  addProbeRoutes(app, state);
  addDrainRoute(app, state, drainAuth);
  addStatusRoutes(app, { state, registry, meter });

  let closing: Promise<void> | undefined;
  return {
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      if (drainAuth.kind === 'refused') {
        deps.log.warn(
          { httpAddress: config.host },
          'POST /drain is refused: http_address is not loopback and http_drain_token is unset',
        );
      }
      const address = app.server.address() as AddressInfo;
      return { host: address.address, port: address.port };
    },
    close: () =>
      (closing ??= (async () => {
        meter.close();
        await app.close();
      })()),
  };
}

function createApp(log: Logger) {
  return Fastify({
    loggerInstance: log.child({ component: 'http' }),
    // Balancers poll often; request lines at info would drown the log.
    logController: new LogController({ disableRequestLogging: true }),
    // While closing, readiness must already say 503 (STYLE.md §13).
    return503OnClosing: true,
  });
}

type App = ReturnType<typeof createApp>;

/** What a balancer or supervisor polls: liveness and readiness. */
function addProbeRoutes(app: App, state: HttpStateSource): void {
  app.get('/livez', async () => ({ live: true, server: (await state.status()).server }));

  app.get('/readyz', async (_request, reply) => {
    const readiness = await state.readiness();
    const status = await state.status();
    return reply.code(readiness.ready ? 200 : 503).send({
      ready: readiness.ready,
      reasons: readiness.reasons,
      server_name: status.server,
      is_master: status.role === 'master',
      epoch: status.epoch,
      queue_depth: status.queue_depth,
    });
  });
}

/** `POST /drain`, for callers the drain rule allows (drain-auth.ts). */
function addDrainRoute(app: App, state: HttpStateSource, drainAuth: DrainAuth): void {
  app.post('/drain', async (request, reply) => {
    const decision = decideDrain(drainAuth, request.headers.authorization);
    if (!decision.allowed) {
      request.log.warn({ remote: request.ip, code: decision.code }, 'POST /drain refused');
      return reply.code(decision.code).send({ error: decision.error });
    }
    await state.drain();
    return reply.code(202).send({ draining: true, server: (await state.status()).server });
  });
}

/** What an operator reads: `/status`, `/metrics` and the status page. */
function addStatusRoutes(
  app: App,
  deps: { state: HttpStateSource; registry: Registry; meter: RateMeter },
): void {
  const { state, registry, meter } = deps;
  app.get('/status', async () => {
    const status = await state.status();
    const readiness = await state.readiness();
    return {
      server: status.server,
      role: status.role,
      master: status.master,
      master_kind: status.master_kind,
      epoch: status.epoch,
      peers: status.peers,
      queue_depth: status.queue_depth,
      draining: status.draining,
      ready: readiness.ready,
      not_ready_reasons: readiness.reasons,
      rates: await meter.rates(),
      totals: status.totals,
      ...(status.queue ? { queue: status.queue } : {}),
    };
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(body);
  });

  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(STATUS_PAGE_HTML));
}
