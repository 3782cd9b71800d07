/**
 * The edge on Cloudflare Workers: binds the runtime pieces and hands them to the composition
 * root (edge/compose.ts). Store: libSQL over HTTP (Turso or sqld) behind a short timeout;
 * counters and lease hubs: Durable Objects; logs as JSON lines; DNS over HTTPS. The bindings
 * are validated once per isolate; a bad one fails every request loudly with the binding's name
 * in the log. Migrations are applied by `scripts/migrate.ts`, not here (see docs/deploy.md).
 */
import { createApp } from './app.ts';
import { composeApp, composeWebhooks } from './compose.ts';
import { dohMailDomains } from './adapters/doh-mail-domains.ts';
import { dohDnsRecords } from './adapters/doh-dns-records.ts';
import { memoryMetrics } from './metrics.ts';
import { workerRuntime, type WorkerBindings } from './durable/env.ts';
import { DurableCounters } from './durable/counters-client.ts';
import { DurableHubs } from './durable/hub-client.ts';
import { WORKER_UPLOT } from './ui/worker-assets.ts';
import { fetchTransport, resolveWith } from './webhooks/fetch-transport.ts';

export { RateCounter } from './durable/rate-counter.ts';
export { LeaseHubObject } from './durable/lease-hub.ts';
export { WebhookSenderObject } from './durable/webhook-sender.ts';

interface Bound {
  app: ReturnType<typeof createApp>;
  hubs: DurableHubs;
  /** Starts the webhook sender's alarms if they are not running (they keep themselves going). */
  startWebhooks: () => Promise<void>;
}

let bound: Promise<Bound> | null = null;
const ENSURE_WEBHOOKS_MS = 10_000;

async function bind(env: WorkerBindings): Promise<Bound> {
  const rt = await workerRuntime(env, 'edge');
  const { settings } = rt;
  const hubs = new DurableHubs(env.LEASE_HUB, settings.POSTLANE_REGIONS, rt.store, rt.logger);
  const dnsRecords = settings.POSTLANE_DOH_URL === 'off' ? undefined : dohDnsRecords({ endpoint: settings.POSTLANE_DOH_URL });
  const deps = composeApp(settings, {
    ...rt,
    counters: new DurableCounters(env.RATE_COUNTER),
    hub: hubs,
    metrics: memoryMetrics(),
    ...(settings.POSTLANE_DOH_URL === 'off' ? {} : { mailDomains: dohMailDomains({ endpoint: settings.POSTLANE_DOH_URL }) }),
    ...(dnsRecords ? { dnsRecords } : {}),
  });
  // The API's URL check; the sender itself runs in WebhookSenderObject with the same settings.
  deps.webhooks = composeWebhooks(settings, { ...rt, resolve: resolveWith(dnsRecords), transport: fetchTransport() }).config;
  // Asked again every ENSURE_WEBHOOKS_MS, not once: an alarm lost with the object's storage is set again.
  let ensuredAt = -Infinity;
  const startWebhooks = async () => {
    const now = Date.now();
    if (now - ensuredAt < ENSURE_WEBHOOKS_MS) return;
    ensuredAt = now;
    await env.WEBHOOK_SENDER.get(env.WEBHOOK_SENDER.idFromName('all'))
      .ensureRunning()
      .catch((error) => {
        ensuredAt = -Infinity;
        rt.logger.warn({ err: String(error) }, 'webhook sender not started; the next request retries');
      });
  };
  return { app: createApp(deps, { uplot: WORKER_UPLOT }), hubs, startWebhooks };
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
    ctx.waitUntil(current.startWebhooks());
    return response;
  },
};
