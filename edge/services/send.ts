/**
 * The send path shared by `POST /v1/messages`, `/v1/messages/batch` and the compatibility
 * endpoint: rate limit, admission, validation, one atomic commit with the idempotency record,
 * then a wake-up for the lease hub. A 202 leaves here only after the commit.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import type { NewMessage } from '../ports/store.ts';
import type { SendMessage } from '../../shared/api.ts';
import { ApiError, invalid } from '../../shared/errors.ts';
import { sha256Hex } from '../../shared/ids.ts';
import { prepareMessage, type AcceptContext } from './accept.ts';
import { policyFor } from './policy.ts';
import { verifyRecipient } from '../../shared/policy/constraints.ts';
import type { Lane } from '../../shared/policy/scheduler.ts';
import { applySuppressions } from './suppression.ts';
import { OTHER_PROVIDER, providerFor } from '../../shared/policy/providers.ts';
import { assertOutreachNotPaused } from './feedback.ts';
import { messageEvent } from '../../shared/events/index.ts';
import { applyQuotaGuards, recordQuotaUsage } from './quotas.ts';
import { publicBaseOf, unsubscribeLinks } from './unsubscribe.ts';
import { trackHtml, trackingPlan } from './tracking.ts';
import { writeRateLimit } from './rate-limit-headers.ts';

const IDEMPOTENCY_WINDOW_MS = 24 * 3600_000;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,256}$/;
const POOLS_CACHE_MS = 5_000;
const BACKLOG_CACHE_MS = 1_000;

interface SendCaches {
  pools: { at: number; pools: Map<string, { tenantId: string | null }> } | null;
  backlog: Map<string, { at: number; byLane: Map<string, number> }>;
  /** Recipient domain → provider, by the configured table (fixed for the app's life). */
  providers: Map<string, string>;
  /** Registered sending domains by tenant and domain; a new domain is seen within the TTL. */
  domains: Map<string, { at: number; row: Awaited<ReturnType<AcceptContext['domain']>> }>;
  /** The tenant holding a domain verified (null: none), by domain; a new claim is seen within the TTL. */
  owners: Map<string, { at: number; tenantId: string | null }>;
}
const DOMAINS_CACHE_MS = 5_000;
/** Short-lived read caches, one set per app instance. */
const cachesByDeps = new WeakMap<object, SendCaches>();
function caches(c: Context<AppEnv>): SendCaches {
  const deps = c.get('deps');
  let entry = cachesByDeps.get(deps);
  if (!entry) cachesByDeps.set(deps, (entry = { pools: null, backlog: new Map(), domains: new Map(), providers: new Map(), owners: new Map() }));
  return entry;
}

/**
 * Drops a removed sending domain from this instance's accept cache, so its next send is refused
 * at once (other instances, e.g. Worker isolates, refuse it within DOMAINS_CACHE_MS).
 */
export function forgetSendingDomain(deps: object, tenantId: string, domain: string) {
  cachesByDeps.get(deps)?.domains.delete(`${tenantId}\n${domain}`);
}

export interface SendOutcome {
  status: number;
  body: unknown;
  replayed: boolean;
}

/** A pool was created, assigned or deleted through the API: the next send reads them again. */
export function forgetPools(deps: object) {
  const entry = cachesByDeps.get(deps);
  if (entry) entry.pools = null;
}

async function poolsFor(c: Context<AppEnv>, now: number) {
  const cache = caches(c);
  if (!cache.pools || now - cache.pools.at > POOLS_CACHE_MS) {
    const rows = await c.get('deps').store.knownPools();
    cache.pools = { at: now, pools: new Map(rows.map((r) => [r.name, { tenantId: r.tenantId }])) };
  }
  return cache.pools.pools;
}

/** Admission control: a lane whose backlog is over its bound takes no more until it drains. */
async function admit(c: Context<AppEnv>, tenantId: string, lanes: string[], now: number) {
  const { store, config } = c.get('deps');
  const backlog = caches(c).backlog;
  let entry = backlog.get(tenantId);
  if (!entry || now - entry.at > BACKLOG_CACHE_MS) {
    const rows = await store.backlog(tenantId);
    entry = { at: now, byLane: new Map(rows.map((r) => [r.lane, r.queued])) };
    backlog.set(tenantId, entry);
  }
  for (const lane of new Set(lanes)) {
    const queued = entry.byLane.get(lane) ?? 0;
    if (queued >= config.laneBacklogLimit) {
      writeRateLimit(c, { limit: config.laneBacklogLimit, remaining: 0, resetSeconds: 30 });
      throw new ApiError(
        'rate_limited',
        `lane ${lane} has ${queued} undelivered recipients queued, over its bound of ${config.laneBacklogLimit}`,
        { limit: `lane_backlog:${lane}`, queued, bound: config.laneBacklogLimit },
        30,
      );
    }
  }
}

export async function sendMessages(
  c: Context<AppEnv>,
  bodies: SendMessage[],
  shape: 'single' | 'batch',
  render: (accepted: NewMessage[]) => unknown = defaultRender(shape),
): Promise<SendOutcome> {
  const deps = c.get('deps');
  const { tenantId } = c.get('caller');
  const now = deps.now?.() ?? Date.now();

  const idempotencyKey = idempotencyKeyOf(c);
  // A retry of an accepted request gets its first answer, first, and costs nothing: the key is
  // looked up before any rate token, backlog bound, validation or cap (the commit still guards
  // the race of two first requests).
  const requestHash = idempotencyKey ? await requestHashOf(c, bodies) : null;
  if (idempotencyKey) {
    const existing = await deps.store.findIdempotent(tenantId, idempotencyKey);
    if (existing && existing.createdAt >= now - IDEMPOTENCY_WINDOW_MS) {
      if (existing.requestHash !== requestHash) throw idempotencyConflict();
      return { status: existing.status, body: JSON.parse(existing.response), replayed: true };
    }
  }
  await takeSendRate(c, tenantId, bodies.length);
  await admit(c, tenantId, bodies.map((b) => b.lane ?? 'transactional'), now);

  const ctx = await acceptContext(c, tenantId, now);
  const items: NewMessage[] = [];
  for (let i = 0; i < bodies.length; i++) items.push(await prepareMessage(bodies[i], ctx, shape === 'batch' ? i : null));
  await providersByMx(c, items);

  // Before the lane policies, so suppressed recipients count against no cap.
  const suppressed = await applySuppressions(deps, tenantId, items, now);
  await applyLanePolicies(c, tenantId, items, shape, now);
  // Daily caps (429) and rogue-batch holds, every lane (SPEC §7; the outreach cap is one of them).
  await applyQuotaGuards(deps, tenantId, items, now);

  const body = render(items);
  const idem = idempotencyKey ? idempotencyRecord(idempotencyKey, requestHash!, JSON.stringify(body), now) : null;
  const outcome = await deps.store.acceptMessages(tenantId, items, idem);
  if (outcome.kind === 'conflict') throw idempotencyConflict();
  if (outcome.kind === 'replay') return { status: outcome.status, body: JSON.parse(outcome.response), replayed: true };

  await recordQuotaUsage(deps, tenantId, items, now);
  for (const item of items) deps.metrics.inc('postlane_messages_accepted_total', { lane: item.message.lane });
  for (const s of suppressed) deps.metrics.inc('postlane_recipients_suppressed_total', { reason: s.reason });
  const regions = new Set(items.flatMap((i) => i.jobs.map((j) => j.region)));
  for (const region of regions) deps.hub.notifyWork(region);
  return { status: 202, body, replayed: false };
}

/** The request's Idempotency-Key, checked before anything is spent on the request. */
function idempotencyKeyOf(c: Context<AppEnv>): string | null {
  const key = c.req.header('idempotency-key') ?? null;
  if (key !== null && !IDEMPOTENCY_KEY.test(key)) {
    throw new ApiError('invalid_request', 'Idempotency-Key must be 1-256 visible ASCII characters', { field: 'Idempotency-Key', reason: 'invalid characters or length' });
  }
  return key;
}

/** The tenant's send rate: one token per message, taken from the shared counters. */
async function takeSendRate(c: Context<AppEnv>, tenantId: string, messages: number) {
  const { counters, config } = c.get('deps');
  const bucket = await counters.take(`tenant:${tenantId}:send`, messages, {
    ratePerSec: config.tenantRatePerSec,
    burst: config.tenantBurst,
  });
  const retryAfter = Math.max(1, Math.ceil(bucket.retryAfterMs / 1000));
  // Reset: until the bucket is full again at its refill rate (or, refused, until the take fits).
  const refill = (config.tenantBurst - bucket.remaining) / config.tenantRatePerSec;
  writeRateLimit(c, { limit: config.tenantBurst, remaining: bucket.granted ? bucket.remaining : 0, resetSeconds: bucket.granted ? refill : Math.max(retryAfter, refill) });
  if (!bucket.granted) {
    throw new ApiError(
      'rate_limited',
      `tenant send rate of ${config.tenantRatePerSec} messages/s is exhausted`,
      { limit: 'tenant_send_rate', rate_per_sec: config.tenantRatePerSec },
      retryAfter,
    );
  }
}

/** What prepareMessage looks up, over this app instance's short-lived caches. */
async function acceptContext(c: Context<AppEnv>, tenantId: string, now: number): Promise<AcceptContext> {
  const deps = c.get('deps');
  const { domains, providers, owners } = caches(c);
  return {
    tenantId,
    now,
    maxMessageBytes: deps.config.maxMessageBytes,
    requireVerifiedDomain: deps.config.requireVerifiedDomain,
    pools: await poolsFor(c, now),
    // Links point at the platform's public address (POSTLANE_PUBLIC_URL), else where this request came in.
    unsubscribe: (claim) => unsubscribeLinks(deps, claim, { publicUrl: publicBaseOf(deps.config, c.req.url), intakeHost: deps.config.domainAuth?.intakeHost ?? null }),
    template: (id, version) => deps.store.getTemplateVersion(tenantId, id, version),
    async track(html, m) {
      const policy = await policyFor(deps, { tenantId, lane: m.lane, domain: m.senderDomain }, now);
      const plan = await trackingPlan(deps, policy, { tenantId, lane: m.lane, recipients: m.recipients, base: deps.config.trackingBase ?? publicBaseOf(deps.config, c.req.url) });
      return plan ? trackHtml(deps, html, plan, { tenantId, messageId: m.messageId, recipient: m.recipients[0] }, m.unsubscribeUrl) : html;
    },
    providerOf(domain) {
      let provider = providers.get(domain);
      if (provider === undefined) {
        provider = providerFor(domain, null, deps.config.shapingPolicy);
        if (providers.size > 50_000) providers.clear();
        providers.set(domain, provider);
      }
      return provider;
    },
    async domain(name) {
      const key = `${tenantId}\n${name}`;
      let hit = domains.get(key);
      if (!hit || now - hit.at > DOMAINS_CACHE_MS) {
        hit = { at: now, row: await deps.store.findDomain(tenantId, name) };
        // Only known domains are cached, so a domain added a moment ago is usable at once.
        if (hit.row) domains.set(key, hit);
        if (domains.size > 10_000) domains.delete(domains.keys().next().value!);
      }
      return hit.row;
    },
    async verifiedOwner(name) {
      let hit = owners.get(name);
      if (!hit || now - hit.at > DOMAINS_CACHE_MS) {
        hit = { at: now, tenantId: (await deps.store.verifiedOwner(name))?.tenantId ?? null };
        owners.set(name, hit);
        if (owners.size > 10_000) owners.delete(owners.keys().next().value!);
      }
      return hit.tenantId;
    },
  };
}

function idempotencyConflict() {
  return new ApiError('idempotency_conflict', 'this Idempotency-Key was used with a different request body', { field: 'Idempotency-Key', reason: 'body differs from the first request' });
}

/** What a retry must repeat to be the same request: route and body. */
function requestHashOf(c: Context<AppEnv>, bodies: SendMessage[]) {
  return sha256Hex(`${c.req.method} ${c.req.path}\n${JSON.stringify(bodies)}`);
}

/** The record committed with the messages: a retry with the same key and body replays `response`. */
function idempotencyRecord(key: string, requestHash: string, response: string, now: number) {
  return {
    key,
    requestHash,
    status: 202,
    response,
    expiresBefore: now - IDEMPOTENCY_WINDOW_MS,
  };
}

const WEEKDAY_NUMBER = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } as const;

/**
 * Recipients whose domain no provider record names (`other`) are matched by their MX hosts
 * against the records' `mxSuffixes`: a Google Workspace domain (MX aspmx.l.google.com) is shaped
 * as `gmail`, a Microsoft 365 one as `microsoft`. Distinct domains are asked in parallel through
 * the MailDomains port (whose adapters cache the answers for their TTL); a DNS failure or
 * timeout leaves the domain-based provider, and never refuses mail.
 */
async function providersByMx(c: Context<AppEnv>, items: NewMessage[]) {
  const { mailDomains, config } = c.get('deps');
  if (!mailDomains?.mxHosts) return;
  const jobs = items.flatMap((i) => i.jobs).filter((j) => j.provider === OTHER_PROVIDER);
  const byDomain = new Map<string, string>();
  await Promise.all(
    [...new Set(jobs.map((j) => j.domain.toLowerCase()))].map(async (domain) => {
      const hosts = await mailDomains.mxHosts!(domain).catch(() => null);
      const provider = hosts?.[0] ? providerFor(domain, hosts[0], config.shapingPolicy) : OTHER_PROVIDER;
      if (provider !== OTHER_PROVIDER) byDomain.set(domain, provider);
    }),
  );
  for (const j of jobs) j.provider = byDomain.get(j.domain.toLowerCase()) ?? j.provider;
}

/** MX answers for the outreach recipients' domains, asked in parallel (the adapters cache them). */
async function mailDomainsOf(c: Context<AppEnv>, domains: string[]): Promise<Map<string, boolean | null>> {
  const { mailDomains } = c.get('deps');
  const out = new Map<string, boolean | null>();
  if (!mailDomains) return out;
  await Promise.all([...new Set(domains)].map(async (d) => out.set(d, await mailDomains.acceptsMail(d))));
  return out;
}

/**
 * Per-lane policy at accept: outreach recipients are verified (role accounts, disposable
 * domains) and held to the tenant's daily cap; lanes with a send window (outreach's business
 * hours) carry it into the jobs' constraints unless the message set its own.
 */
async function applyLanePolicies(c: Context<AppEnv>, tenantId: string, items: NewMessage[], shape: 'single' | 'batch', now: number) {
  const deps = c.get('deps');
  let guard: NonNullable<Awaited<ReturnType<typeof policyFor>>['outreach']> | null = null;
  for (const [index, item] of items.entries()) {
    const lane = item.message.lane as Lane;
    const policy = await policyFor(deps, { tenantId, lane, domain: item.message.fromDomain }, now);
    const at = (field: string) => (shape === 'batch' ? `messages[${index}].${field}` : field);
    if (policy.outreach) {
      guard = policy.outreach;
      // Complaints paused this tenant's or sender domain's outreach (SPEC §4 guard-rails).
      if (item.jobs.some((j) => j.state === 'queued')) await assertOutreachNotPaused(deps, tenantId, item.message.fromDomain, now);
      // Suppressed recipients are never sent: no DNS lookup, no verdict for them.
      const sendable = item.jobs.filter((j) => j.state !== 'suppressed');
      const mx = await mailDomainsOf(c, sendable.map((j) => j.domain));
      for (const job of sendable) {
        const check = verifyRecipient(job.recipient, deps.mailDomains ? (mx.get(job.domain) ?? null) : true);
        if (check.ok && check.flags.length === 0) continue;
        if (!check.ok && guard.verification === 'reject') throw invalid(at(job.recipientKind), `${job.recipient}: ${check.reason} (outreach lane policy)`);
        // `flag`, or flags that do not fail the check (mx_unknown): queued, and the trace says so.
        item.events.push(messageEvent('recipient_flagged', { messageId: item.message.id, jobId: job.id, at: now, data: { recipient: job.recipient, flags: check.flags, reason: check.reason } }));
      }
    }
    const constraints = (item.message.constraints ?? {}) as Record<string, unknown>;
    if (policy.sendWindow && !constraints.send_window) {
      const hour = (hhmm: string) => Number(hhmm.slice(0, 2)) || (hhmm === '24:00' ? 24 : 0);
      item.message.constraints = {
        ...constraints,
        send_window: { timezone: 'UTC', start_hour: hour(policy.sendWindow.start), end_hour: hour(policy.sendWindow.end) || 24, days: policy.sendWindow.days.map((d) => WEEKDAY_NUMBER[d]) },
      };
    }
    if (policy.ipv4Only && !constraints.ipv4_only) item.message.constraints = { ...(item.message.constraints ?? {}), ipv4_only: true };
  }
}

/**
 * A message whose every recipient is suppressed is still accepted (202, status `suppressed`), as
 * hosted APIs answer: the request was valid, and the trace says why nothing was sent.
 */
function accepted(item: NewMessage) {
  const suppressed = item.jobs.filter((j) => j.state === 'suppressed').map((j) => j.recipient);
  const queued = item.jobs.length - suppressed.length;
  // A rogue batch's messages are accepted and held for approval (edge/services/quotas.ts).
  const held = item.jobs.some((j) => j.state === 'held');
  return {
    id: item.message.id,
    status: queued === 0 ? ('suppressed' as const) : held ? ('held' as const) : ('queued' as const),
    recipients: queued,
    ...(suppressed.length ? { suppressed } : {}),
  };
}

function defaultRender(shape: 'single' | 'batch') {
  return (items: NewMessage[]) => (shape === 'single' ? accepted(items[0]) : { data: items.map(accepted) });
}
