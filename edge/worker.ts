/**
 * The edge on Cloudflare Workers: binds the app's ports and nothing else. Store: libSQL over
 * HTTP (Turso or sqld) behind a short timeout; counters and lease hubs: Durable Objects; logs
 * as JSON lines. The bindings are validated once per isolate; a bad one fails every request
 * loudly with the binding's name in the log. Migrations are applied by `scripts/migrate.ts`,
 * not here (see docs/deploy.md).
 */
import { createApp } from './app.ts';
import { dohMailDomains } from './adapters/doh-mail-domains.ts';
import { memoryMetrics } from './metrics.ts';
import { sharedDeps, type WorkerBindings } from './durable/env.ts';
import { DurableCounters } from './durable/counters-client.ts';
import { DurableHubs } from './durable/hub-client.ts';

export { RateCounter } from './durable/rate-counter.ts';
export { LeaseHubObject } from './durable/lease-hub.ts';

interface Bound {
  app: ReturnType<typeof createApp>;
  hubs: DurableHubs;
}

let bound: Promise<Bound> | null = null;

async function bind(env: WorkerBindings): Promise<Bound> {
  const deps = await sharedDeps(env, 'edge');
  const hubs = new DurableHubs(env.LEASE_HUB, deps.settings.REGIONS, deps.store, deps.logger);
  const app = createApp({
    store: deps.store,
    counters: new DurableCounters(env.RATE_COUNTER),
    hub: hubs,
    secrets: deps.secrets,
    config: deps.config,
    logger: deps.logger,
    metrics: memoryMetrics(),
    ...(deps.settings.DOH_URL === 'off' ? {} : { mailDomains: dohMailDomains({ endpoint: deps.settings.DOH_URL }) }),
  });
  return { app, hubs };
}

export default {
  async fetch(request: Request, env: WorkerBindings, ctx: ExecutionContext): Promise<Response> {
    let current: Bound;
    try {
      current = await (bound ??= bind(env));
    } catch (error) {
      bound = null;
      console.error(String((error as Error).message ?? error));
      return Response.json({ error: { code: 'internal', message: 'the edge is misconfigured; see its log', action: 'Fix the Worker bindings named in the log.' } }, { status: 500 });
    }
    const response = await current.app.fetch(request, env, ctx);
    const notifies = current.hubs.inFlight();
    if (notifies) ctx.waitUntil(notifies);
    return response;
  },
};
