/**
 * Quota guards at accept (SPEC §7): daily caps per tenant and per sending domain in each lane
 * (429 naming the cap, its limit and when it resets, counted from midnight in the tenant's time
 * zone), and rogue-batch detection: a send far above the trailing hourly pattern is accepted but
 * its jobs are written `held`, under a hold an operator approves or rejects (edge/services/holds.ts).
 *
 * Usage is counted per quarter hour after each commit (`recordQuotaUsage`); a crash between the
 * commit and the count under-counts that one request, as a check-then-commit cap would anyway.
 */
import type { AppDeps } from '../ports/app.ts';
import type { NewMessage } from '../ports/store.ts';
import type { HoldRecord, QuotaUsageRow } from '../ports/operator.ts';
import { ApiError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { messageEvent } from '../../shared/events/index.ts';
import { bucketOf, hourlyPattern, judgeRogue, localDay, p95, TRAILING_MS, USAGE_BUCKET_MS, type RoguePolicy } from '../../shared/policy/quota.ts';
import type { Lane } from '../../shared/policy/scheduler.ts';
import { policyFor } from './policy.ts';

/** How long an approval covers its scope: the burst it let through does not trip a new hold this hour. */
export const APPROVAL_COVERS_MS = 3600_000;
const PATTERN_CACHE_MS = 60_000;
const HOUR = 3600_000;

type Deps = Pick<AppDeps, 'store' | 'logger' | 'metrics'>;
interface Pattern {
  at: number;
  tenant: number;
  domains: Map<string, number>;
}
const patterns = new WeakMap<object, Map<string, Pattern>>();

/** The trailing week's p95 per hour, for the tenant and each of its sending domains (cached a minute). */
async function trailingPattern(deps: Deps, tenantId: string, now: number): Promise<Pattern> {
  let byTenant = patterns.get(deps);
  if (!byTenant) patterns.set(deps, (byTenant = new Map()));
  const hit = byTenant.get(tenantId);
  if (hit && now - hit.at < PATTERN_CACHE_MS) return hit;
  const until = bucketOf(now - HOUR);
  const rows = await deps.store.quotaUsage(tenantId, until - TRAILING_MS);
  const byDomain = new Map<string, Array<{ bucket: number; count: number }>>();
  for (const r of rows) {
    let list = byDomain.get(r.senderDomain);
    if (!list) byDomain.set(r.senderDomain, (list = []));
    list.push({ bucket: r.bucket, count: r.recipients });
  }
  const pattern: Pattern = {
    at: now,
    tenant: p95(hourlyPattern(rows.map((r) => ({ bucket: r.bucket, count: r.recipients })), until)),
    domains: new Map([...byDomain].map(([d, list]) => [d, p95(hourlyPattern(list, until))])),
  };
  byTenant.set(tenantId, pattern);
  if (byTenant.size > 10_000) byTenant.delete(byTenant.keys().next().value!);
  return pattern;
}

interface Group {
  lane: Lane;
  domain: string;
  recipients: number;
  items: NewMessage[];
  dailyCap: number | null;
  domainDailyCap: number | null;
  timeZone: string;
  rogue: RoguePolicy | null;
}

/** The recipients each message will queue, by lane and sending domain, with the policy of each. */
async function groupsOf(deps: Deps, tenantId: string, items: NewMessage[], now: number): Promise<Group[]> {
  const groups = new Map<string, Group>();
  for (const item of items) {
    const recipients = item.jobs.filter((j) => j.state === 'queued').length;
    if (recipients === 0) continue;
    const lane = item.message.lane as Lane;
    const domain = item.message.fromDomain;
    const key = `${lane}\n${domain}`;
    let g = groups.get(key);
    if (!g) {
      const { quota } = await policyFor(deps, { tenantId, lane, domain }, now);
      groups.set(key, (g = { lane, domain, recipients: 0, items: [], ...quota }));
    }
    g.recipients += recipients;
    g.items.push(item);
  }
  return [...groups.values()];
}

function capExceeded(limit: string, what: string, cap: number, used: number, requested: number, resetsAt: number, now: number) {
  return new ApiError(
    'rate_limited',
    `${what} daily cap of ${cap} recipients would be exceeded (${used} queued today, ${requested} in this request); it resets at ${new Date(resetsAt).toISOString()}`,
    { limit, cap, queued_today: used, requested, resets_at: new Date(resetsAt).toISOString() },
    Math.max(1, Math.ceil((resetsAt - now) / 1000)),
  );
}

/**
 * Checks the caps (throws 429) and holds a rogue batch: its queued jobs become `held` under an
 * open hold, each message with a `held` event. Returns the hold, if this request joined one.
 */
export async function applyQuotaGuards(deps: Deps, tenantId: string, items: NewMessage[], now: number): Promise<HoldRecord | null> {
  const groups = await groupsOf(deps, tenantId, items, now);
  if (groups.length === 0) return null;
  const earliest = Math.min(now - HOUR, ...groups.map((g) => localDay(g.timeZone, now).start));
  const recent = await deps.store.quotaUsage(tenantId, bucketOf(earliest));
  const sum = (since: number, match: (r: QuotaUsageRow) => boolean) => recent.reduce((n, r) => (r.bucket >= since && match(r) ? n + r.recipients : n), 0);

  for (const g of groups) {
    const day = localDay(g.timeZone, now);
    if (g.dailyCap !== null) {
      const requested = groups.filter((o) => o.lane === g.lane).reduce((n, o) => n + o.recipients, 0);
      const used = sum(day.start, (r) => r.lane === g.lane);
      if (used + requested > g.dailyCap) throw capExceeded(`${g.lane}_daily_cap`, `the tenant's ${g.lane}`, g.dailyCap, used, requested, day.resetsAt, now);
    }
    if (g.domainDailyCap !== null) {
      const used = sum(day.start, (r) => r.lane === g.lane && r.senderDomain === g.domain);
      if (used + g.recipients > g.domainDailyCap) {
        throw capExceeded(`${g.lane}_domain_daily_cap`, `${g.domain}'s ${g.lane}`, g.domainDailyCap, used, g.recipients, day.resetsAt, now);
      }
    }
  }

  const guarded = groups.filter((g) => g.rogue !== null);
  if (guarded.length === 0) return null;
  const active = await deps.store.activeHolds(tenantId, now - APPROVAL_COVERS_MS);
  const covered = (scope: 'tenant' | 'domain', key: string) => active.some((h) => h.scope === scope && h.key === key && h.status === 'approved');
  const pending = (scope: 'tenant' | 'domain', key: string) => active.find((h) => h.scope === scope && h.key === key && h.status === 'pending');
  const pattern = await trailingPattern(deps, tenantId, now);
  const lastHour = bucketOf(now - HOUR + USAGE_BUCKET_MS);

  // The tenant's pattern first: one hold covers the whole burst, whatever domains it spans.
  const strictest = guarded.map((g) => g.rogue!).reduce((a, b) => (b.multiple * 1e9 + b.minVolume < a.multiple * 1e9 + a.minVolume ? b : a));
  const tenantVerdict = judgeRogue(strictest, { trailingP95: pattern.tenant, lastHour: sum(lastHour, () => true), requested: guarded.reduce((n, g) => n + g.recipients, 0) });
  const open = pending('tenant', tenantId);
  // An approved tenant hold covers the burst on every one of its domains.
  const tenantCovered = covered('tenant', tenantId);
  if (open || (tenantVerdict.rogue && !tenantCovered)) {
    const hold = open ?? (await openHold(deps, tenantId, 'tenant', tenantId, tenantVerdict, now));
    return holdItems(hold, guarded, now);
  }
  for (const domain of new Set(guarded.map((g) => g.domain))) {
    const mine = guarded.filter((g) => g.domain === domain);
    const verdict = judgeRogue(mine[0].rogue!, { trailingP95: pattern.domains.get(domain) ?? 0, lastHour: sum(lastHour, (r) => r.senderDomain === domain), requested: mine.reduce((n, g) => n + g.recipients, 0) });
    const openForDomain = pending('domain', domain);
    if (openForDomain || (verdict.rogue && !tenantCovered && !covered('domain', domain))) {
      return holdItems(openForDomain ?? (await openHold(deps, tenantId, 'domain', domain, verdict, now)), mine, now);
    }
  }
  return null;
}

async function openHold(deps: Deps, tenantId: string, scope: 'tenant' | 'domain', key: string, v: ReturnType<typeof judgeRogue>, now: number) {
  const hold = await deps.store.openHold({
    id: newId('hold', now),
    tenantId,
    scope,
    key,
    status: 'pending',
    reason: v.reason,
    volume: v.volume,
    threshold: v.threshold,
    trailingP95: v.p95,
    createdAt: now,
    decidedAt: null,
    decidedBy: null,
    decisionReason: null,
  });
  if (hold.createdAt === now) {
    deps.logger.warn({ tenant: tenantId, hold: hold.id, scope, key, volume: v.volume, threshold: v.threshold }, 'rogue batch held for approval');
    deps.metrics.inc('postlane_holds_opened_total', { scope });
  }
  return hold;
}

function holdItems(hold: HoldRecord, groups: Group[], now: number): HoldRecord {
  for (const item of groups.flatMap((g) => g.items)) {
    for (const job of item.jobs) if (job.state === 'queued') job.state = 'held';
    item.events.push(messageEvent('held', { messageId: item.message.id, jobId: null, at: now, data: { hold_id: hold.id, scope: hold.scope, key: hold.key, reason: hold.reason } }));
  }
  return hold;
}

/** After the commit: the accepted recipients (queued or held) join their quarter hour. */
export async function recordQuotaUsage(deps: Deps, tenantId: string, items: NewMessage[], now: number) {
  const rows = new Map<string, QuotaUsageRow>();
  for (const item of items) {
    const recipients = item.jobs.filter((j) => j.state === 'queued' || j.state === 'held').length;
    if (recipients === 0) continue;
    const key = `${item.message.fromDomain}\n${item.message.lane}`;
    const row = rows.get(key) ?? { tenantId, senderDomain: item.message.fromDomain, lane: item.message.lane, bucket: bucketOf(now), recipients: 0 };
    row.recipients += recipients;
    rows.set(key, row);
  }
  try {
    await deps.store.addQuotaUsage([...rows.values()]);
  } catch (error) {
    // The messages are committed and must be answered 202; the cap under-counts them.
    deps.logger.error({ err: error, tenant: tenantId }, 'quota usage not recorded');
  }
}
