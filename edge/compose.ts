/**
 * The composition root: how the parts of an edge fit together, written once for both runtimes.
 * The entries bind what is runtime-specific (the store and its transport, the counters, secrets,
 * logs, metrics, DNS, how a hub learns which regions have nodes) and call these:
 *
 *   composeHub   a region's lease hub: WarmupGate, Shaper over the counters, LeaseHub with the
 *                settings' lease times and retry bounds. The Node edge runs one in process; on
 *                Workers each region's LeaseHubObject runs one.
 *   hubPort      the LeaseHubPort over one composed hub (the Node edge's; the Durable Object's
 *                RPC methods answer from it too).
 *   composeApp   the deps `createApp` takes, the AppConfig mapped from the settings.
 *   composeEdge  both, in one process (Node): the hub's lane budgets read the API's policy cache.
 *   composeWebhooks  the webhook sender over the runtime's DNS and HTTP, and the URL check the
 *                API uses (Node: in process, on a timer; Workers: in WebhookSenderObject, on alarms).
 */
import { LeaseHub } from './hub/hub.ts';
import { Shaper, type ShaperOptions } from './hub/shaping.ts';
import { WarmupGate } from './hub/warmup.ts';
import { policyFor } from './services/policy.ts';
import { poolHealthState } from './services/stats.ts';
import { appConfig, retryOverride, type Settings } from './settings.ts';
import { classifierFor } from '../shared/policy/classifier.ts';
import type { AppDeps } from './ports/app.ts';
import type { Counters } from './ports/counters.ts';
import type { LeaseHubPort } from './ports/lease-hub.ts';
import type { MailDomains } from './ports/mail-domains.ts';
import type { DnsRecords } from './ports/dns-records.ts';
import type { Secrets } from './ports/secrets.ts';
import type { Store } from './ports/store.ts';
import type { Logger } from './logger.ts';
import type { WebhookConfig } from './ports/webhooks.ts';
import { WebhookSender, type WebhookTransport } from './webhooks/sender.ts';
import { checkTarget, parseCidr, type Resolve } from './webhooks/ssrf.ts';
import type { Metrics } from './metrics.ts';

/** What every runtime binds for both the API and the hub. */
export interface RuntimeBindings {
  store: Store;
  counters: Counters;
  secrets: Secrets;
  logger: Logger;
  metrics: Metrics;
}

/** The policies lane budgets are read from: the API's deps (one cache) or the store alone. */
type PolicyHolder = Parameters<typeof policyFor>[0];

export interface HubBindings extends RuntimeBindings {
  /**
   * Regions with a connected node anywhere. Absent: this hub's own sessions (one hub for every
   * region, as on Node). A region's Durable Object asks its peers.
   */
  connectedRegions?: () => Promise<string[]>;
  /** Where lane budgets read tenant policies; default: the store, with a cache of the hub's own. */
  policies?: () => PolicyHolder | null;
  /**
   * Shaping beyond the settings (bench and tests: provider table, AIMD, breaker settings); the
   * counters are always the runtime's. `false`: no Shaper, leases go as fast as nodes pull (the
   * bench's naive baseline, never a setting).
   */
  shaping?: Omit<ShaperOptions, 'counters'> | false;
}

export interface ComposedHub {
  hub: LeaseHub;
  shaper: Shaper | null;
  warmup: WarmupGate;
  /** How often the hub's tick runs (a timer on Node, the object's alarm on Workers). */
  tickMs: number;
}

/** The port methods every hub answers, whatever the runtime. */
export type LeaseHubPortFull = Required<LeaseHubPort>;

const NO_REPUTATION = { breakers: [], rates: [], suspended_ips: [] };

export function composeHub(settings: Settings, b: HubBindings): ComposedHub {
  // Warm-ups of pools and IPs, enforced by the Shaper; counts written back on the hub's tick.
  const warmup = new WarmupGate({
    store: b.store,
    logger: b.logger.child({ component: 'warmup' }),
    // A pool bad against its trailing baseline holds its warm-up day instead of growing it.
    poolHealth: (pool, now) => poolHealthState(b.store, pool, now, settings.POSTLANE_BASELINE_DAYS),
  });
  const own: PolicyHolder = { store: b.store };
  // The policy in force: a bench's or test's table, else the operator's (settings), else the shipped one.
  const policy = (b.shaping ? b.shaping.policy : undefined) ?? settings.shapingPolicy;
  const shaper =
    b.shaping === false
      ? null
      : new Shaper({
          warmup,
          ...(settings.shapingPolicy ? { policy: settings.shapingPolicy } : {}),
          lanePolicy: (at, now) => policyFor(b.policies?.() ?? own, at, now),
          ...b.shaping,
          counters: b.counters,
        });
  const hub = new LeaseHub({
    ...(shaper ? { shaper } : {}),
    store: b.store,
    secrets: b.secrets,
    logger: b.logger.child({ component: 'hub' }),
    metrics: b.metrics,
    leaseTtlMs: settings.POSTLANE_LEASE_TTL_MS,
    heartbeatMs: settings.POSTLANE_HEARTBEAT_MS,
    retryOverride: retryOverride(settings),
    // Its reply rules and retry schedules classify every result, on both runtimes.
    classifier: classifierFor(policy),
    ...(b.connectedRegions ? { connectedRegions: b.connectedRegions } : {}),
  });
  return { hub, shaper, warmup, tickMs: settings.POSTLANE_HUB_TICK_MS };
}

/** Node: the upgrade is taken by the `ws` server before Hono sees the request. */
const upgradeElsewhere = async () => new Response('WebSocket upgrade required', { status: 426, headers: { Upgrade: 'websocket' } });

/** The LeaseHubPort over one hub in this process. */
export function hubPort(c: ComposedHub, connect: LeaseHubPort['connect'] = upgradeElsewhere): LeaseHubPortFull {
  return {
    notifyWork: () => c.hub.notifyWork(),
    connect,
    nodes: async () => c.hub.summaries(),
    reputation: async () => c.shaper?.snapshot(Date.now()) ?? NO_REPUTATION,
    warmups: async () => c.warmup.snapshot(),
    warmupsChanged: async () => c.warmup.reload(Date.now(), true),
    feedback: (signal) => c.hub.feedback(signal),
  };
}

export interface AppBindings extends RuntimeBindings {
  hub: LeaseHubPort;
  /** Recipient-domain checks at accept; absent: not checked. */
  mailDomains?: MailDomains;
  /** Sending-domain verification lookups; absent: domains cannot be verified. */
  dnsRecords?: DnsRecords;
  /** A provider table that replaces the settings' (bench and tests, with `shaping.policy`). */
  shapingPolicy?: Settings['shapingPolicy'];
}

export function composeApp(settings: Settings, b: AppBindings): AppDeps {
  return {
    store: b.store,
    counters: b.counters,
    hub: b.hub,
    secrets: b.secrets,
    logger: b.logger,
    metrics: b.metrics,
    ...(b.mailDomains ? { mailDomains: b.mailDomains } : {}),
    ...(b.dnsRecords ? { dnsRecords: b.dnsRecords } : {}),
    config: appConfig(settings, { shapingPolicy: b.shapingPolicy }),
  };
}

export interface EdgeBindings extends RuntimeBindings {
  mailDomains?: MailDomains;
  dnsRecords?: DnsRecords;
  shaping?: HubBindings['shaping'];
}

/** API and hub in one process: the hub's lane budgets share the API's tenant-policy cache. */
export function composeEdge(settings: Settings, b: EdgeBindings): { deps: AppDeps; hub: ComposedHub } {
  let deps: AppDeps | null = null;
  const hub = composeHub(settings, { ...b, policies: () => deps });
  deps = composeApp(settings, {
    ...b,
    hub: hubPort(hub),
    ...(b.shaping ? { shapingPolicy: b.shaping.policy } : {}),
  });
  return { deps, hub };
}

export interface WebhookBindings extends Pick<RuntimeBindings, 'store' | 'secrets' | 'logger'> {
  resolve: Resolve;
  transport: WebhookTransport;
}

/** The webhook sender (not started) and the URL check and secret overlap the API applies. */
export function composeWebhooks(settings: Settings, b: WebhookBindings): { sender: WebhookSender; config: WebhookConfig } {
  const allow = settings.POSTLANE_WEBHOOK_ALLOW.map((c) => parseCidr(c)!);
  const sender = new WebhookSender({
    store: b.store,
    secrets: b.secrets,
    logger: b.logger.child({ component: 'webhooks' }),
    traceLogger: b.logger.child({ component: 'trace' }),
    resolve: b.resolve,
    transport: b.transport,
    allow,
    retryWindowMs: settings.POSTLANE_WEBHOOK_RETRY_WINDOW_MS,
    retryInitialMs: settings.POSTLANE_WEBHOOK_RETRY_INITIAL_MS,
    retryMaxMs: settings.POSTLANE_WEBHOOK_RETRY_MAX_MS,
    disableAfter: settings.POSTLANE_WEBHOOK_DISABLE_AFTER,
    concurrency: settings.POSTLANE_WEBHOOK_CONCURRENCY,
  });
  const config: WebhookConfig = {
    checkUrl: async (url) => void (await checkTarget(url, b.resolve, allow)),
    secretOverlapMs: settings.POSTLANE_WEBHOOK_SECRET_OVERLAP_MS,
  };
  return { sender, config };
}
