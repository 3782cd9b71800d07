/**
 * The edge on Cloudflare Workers: binds the runtime pieces and hands them to the composition
 * root (edge/compose.ts). Store: libSQL over HTTP (Turso or sqld) behind a short timeout;
 * counters and lease hubs: Durable Objects; logs as JSON lines; DNS over HTTPS. The bindings
 * are validated once per isolate; a bad one fails every request loudly with the binding's name
 * in the log. Migrations are applied by `scripts/migrate.ts`, not here (see docs/deploy.md).
 */
import { createApp } from './app.ts';
import { composeApp } from './compose.ts';
import { dohMailDomains } from './adapters/doh-mail-domains.ts';
import { dohDnsRecords } from './adapters/doh-dns-records.ts';
import { memoryMetrics } from './metrics.ts';
import { workerRuntime, type WorkerBindings } from './durable/env.ts';
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
  const rt = await workerRuntime(env, 'edge');
  const { settings } = rt;
  const hubs = new DurableHubs(env.LEASE_HUB, settings.POSTLANE_REGIONS, rt.store, rt.logger);
  const deps = composeApp(settings, {
    ...rt,
    counters: new DurableCounters(env.RATE_COUNTER),
    hub: hubs,
    metrics: memoryMetrics(),
    ...(settings.POSTLANE_DOH_URL === 'off' ? {} : { mailDomains: dohMailDomains({ endpoint: settings.POSTLANE_DOH_URL }) }),
    ...(settings.POSTLANE_DOH_URL === 'off' ? {} : { dnsRecords: dohDnsRecords({ endpoint: settings.POSTLANE_DOH_URL }) }),
  });
  return { app: createApp(deps), hubs };
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
