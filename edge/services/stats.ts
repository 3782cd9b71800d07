/**
 * GET /v1/stats and GET /v1/stats/health over the rollups (edge/store/libsql/rollups.ts): a few
 * grouped range reads by index, whatever the number of messages. The math is pure in
 * edge/stats/ (histogram percentiles, baseline deviation).
 */
import type { z } from '@hono/zod-openapi';
import { ApiError } from '../../shared/errors.ts';
import { CLASS_POLICY } from '../../shared/policy/classifier.ts';
import type { CodeShareSchema, HealthSchema, LatenciesSchema, OutcomeCountsSchema, StatsSchema, SubjectHealthSchema } from '../../shared/stats-api.ts';
import type { CountGroup, LatencyGroup, RollupFilter, StatsStore } from '../ports/stats.ts';
import { latencyHealth, rateHealth, worstState, type HealthThresholds } from '../stats/baseline.ts';
import { BUCKET_RESOLUTION, histogramOf, percentile } from '../stats/histogram.ts';
import { LATENCY_METRICS, MINUTE_MS, minuteOf } from '../stats/rollup.ts';
import { OPERATOR_TENANT } from './tenancy.ts';

export const BUCKET_MS = { minute: MINUTE_MS, hour: 3_600_000, day: 86_400_000 } as const;
export const DEFAULT_BASELINE_DAYS = 14;

type Outcomes = z.infer<typeof OutcomeCountsSchema>;
type Latencies = z.infer<typeof LatenciesSchema>;

/** Which tenant's rows a caller reads: the operator any one (or all), another tenant only its own. */
export function statsTenant(callerTenant: string, requested: string | undefined): string | undefined {
  if (callerTenant === OPERATOR_TENANT) return requested;
  if (requested !== undefined && requested !== callerTenant) {
    throw new ApiError('forbidden', 'tenant: only the operator reads another tenant’s statistics', { field: 'tenant' });
  }
  return callerTenant;
}

/** A time range from ISO bounds, to whole minutes (the rollups' grain); `to` is exclusive. */
export function rangeOf(from: string | undefined, to: string | undefined, now: number, defaultSpanMs = 86_400_000): { from: number; to: number } {
  const end = to ? Date.parse(to) : now;
  const start = from ? Date.parse(from) : end - defaultSpanMs;
  if (start >= end) throw new ApiError('invalid_request', 'from: must be before to', { field: 'from', reason: 'must be before to' });
  // The minute holding `to` counts when `to` is inside it: rollups are stamped with the minute's start.
  return { from: minuteOf(start), to: minuteOf(end - 1) + MINUTE_MS };
}

const share = (n: number, of: number) => (of > 0 ? Math.round((n / of) * 1e6) / 1e6 : null);

export function outcomesOf(groups: Iterable<{ outcome: string; count: number }>): Outcomes {
  const c = { delivered: 0, deferred: 0, bounced: 0, failed: 0, complained: 0 };
  for (const g of groups) if (g.outcome in c) c[g.outcome as keyof typeof c] += g.count;
  const attempts = c.delivered + c.deferred + c.bounced;
  return {
    ...c,
    attempts,
    rates: { delivered: share(c.delivered, attempts), deferred: share(c.deferred, attempts), bounced: share(c.bounced, attempts), complained: share(c.complained, c.delivered) },
  };
}

export function latenciesOf(groups: readonly LatencyGroup[]): Latencies {
  const out = {} as Latencies;
  for (const metric of LATENCY_METRICS) {
    const h = histogramOf(groups.filter((g) => g.metric === metric));
    let count = 0;
    for (const n of h.values()) count += n;
    out[metric] = { count, p50: percentile(h, 0.5), p90: percentile(h, 0.9), p95: percentile(h, 0.95), p99: percentile(h, 0.99) };
  }
  return out;
}

function codesOf(groups: readonly CountGroup[]): Array<z.infer<typeof CodeShareSchema>> {
  const totals = new Map<string, number>();
  for (const g of groups) totals.set(`${g.keys.provider}|${g.keys.outcome}`, (totals.get(`${g.keys.provider}|${g.keys.outcome}`) ?? 0) + g.count);
  return groups
    .map((g) => {
      const cls = String(g.keys.replyClass ?? '');
      return {
        provider: String(g.keys.provider),
        outcome: g.keys.outcome as 'deferred' | 'bounced',
        enhanced: g.keys.enhanced ? String(g.keys.enhanced) : null,
        code: g.keys.code ? Number(g.keys.code) : null,
        class: cls || null,
        hint: (cls && (CLASS_POLICY as Record<string, { note?: string }>)[cls]?.note) || null,
        count: g.count,
        share: share(g.count, totals.get(`${g.keys.provider}|${g.keys.outcome}`) ?? 0) ?? 0,
      };
    })
    .sort((a, b) => a.provider.localeCompare(b.provider) || a.outcome.localeCompare(b.outcome) || b.count - a.count);
}

export interface StatsRequest extends Omit<RollupFilter, 'from' | 'to'> {
  from: number;
  to: number;
  bucket?: keyof typeof BUCKET_MS;
}

export async function deliveryStats(store: StatsStore, q: StatsRequest): Promise<z.infer<typeof StatsSchema>> {
  const { bucket, ...filter } = q;
  const bucketMs = bucket ? BUCKET_MS[bucket] : null;
  const [totals, codes, latencies, seriesCounts, seriesLatencies] = await Promise.all([
    store.rollupCounts(filter, ['outcome'], null),
    store.rollupCounts({ ...filter }, ['provider', 'outcome', 'replyClass', 'enhanced', 'code'], null),
    store.rollupLatencies(filter, [], null),
    bucketMs ? store.rollupCounts(filter, ['outcome'], bucketMs) : Promise.resolve([]),
    bucketMs ? store.rollupLatencies(filter, [], bucketMs) : Promise.resolve([]),
  ]);
  const starts = [...new Set([...seriesCounts, ...seriesLatencies].map((g) => g.bucketStart!))].sort((a, b) => a - b);
  const filters: Record<string, string> = {};
  for (const [k, v] of Object.entries({ tenant: filter.tenantId, lane: filter.lane, pool: filter.pool, provider: filter.provider, domain: filter.domain, sender_domain: filter.senderDomain })) if (v !== undefined) filters[k] = v;
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    bucket: bucket ?? null,
    filters,
    histogram_bucket_factor: Math.round(BUCKET_RESOLUTION * 1e6) / 1e6,
    outcomes: outcomesOf(totals.map((g) => ({ outcome: String(g.keys.outcome), count: g.count }))),
    latency: latenciesOf(latencies),
    codes: codesOf(codes.filter((g) => g.keys.outcome === 'deferred' || g.keys.outcome === 'bounced')),
    series: starts.map((start) => ({
      start: new Date(start).toISOString(),
      outcomes: outcomesOf(seriesCounts.filter((g) => g.bucketStart === start).map((g) => ({ outcome: String(g.keys.outcome), count: g.count }))),
      latency: latenciesOf(seriesLatencies.filter((g) => g.bucketStart === start)),
    })),
  };
}

// --- Reputation health ------------------------------------------------------------------------

/** Absolute thresholds (shares) and ratios to the baseline; complaints follow the 0.1 % / 0.3 % that mailbox providers publish. */
export const HEALTH_THRESHOLDS: Record<'complaint' | 'hardBounce' | 'deferral', HealthThresholds> & { latency: Pick<HealthThresholds, 'watchRatio' | 'badRatio' | 'minVolume'> } = {
  complaint: { watch: 0.001, bad: 0.003, watchRatio: 2, badRatio: 4, minVolume: 100 },
  hardBounce: { watch: 0.02, bad: 0.05, watchRatio: 2, badRatio: 4, minVolume: 50 },
  deferral: { watch: 0.1, bad: 0.3, watchRatio: 2, badRatio: 4, minVolume: 50 },
  latency: { watchRatio: 2, badRatio: 4, minVolume: 20 },
};

export interface HealthRequest {
  now: number;
  windowMs: number;
  baselineDays: number;
  tenantId?: string;
  pool?: string;
  senderDomain?: string;
}

type SubjectHealth = z.infer<typeof SubjectHealthSchema>;

/** Health of every pool and sending domain with mail in the window or the baseline. */
export async function reputationHealth(store: StatsStore, q: HealthRequest): Promise<z.infer<typeof HealthSchema>> {
  const windowFrom = minuteOf(q.now - q.windowMs);
  const windowTo = minuteOf(q.now) + MINUTE_MS;
  const baseFrom = minuteOf(q.now - q.baselineDays * 86_400_000);
  const scope = { tenantId: q.tenantId, pool: q.pool, senderDomain: q.senderDomain };
  const current = { ...scope, from: windowFrom, to: windowTo };
  const baseline = { ...scope, from: baseFrom, to: windowFrom };
  const subjects: Array<{ kind: 'pool' | 'domain'; by: Array<'pool' | 'tenantId' | 'senderDomain'> }> = [
    { kind: 'pool', by: ['pool'] },
    { kind: 'domain', by: ['tenantId', 'senderDomain'] },
  ];
  const data: SubjectHealth[] = [];
  for (const s of subjects) {
    const [cNow, cBase, lNow, lBase] = await Promise.all([
      store.rollupCounts(current, [...s.by, 'outcome'], null),
      store.rollupCounts(baseline, [...s.by, 'outcome'], null),
      store.rollupLatencies(current, s.by, null),
      store.rollupLatencies(baseline, s.by, null),
    ]);
    const keyOf = (g: { keys: Record<string, unknown> }) => s.by.map((k) => String(g.keys[k])).join('|');
    const keys = new Set([...cNow, ...cBase].map(keyOf));
    for (const key of [...keys].sort()) {
      const now = outcomesOf(cNow.filter((g) => keyOf(g) === key).map((g) => ({ outcome: String(g.keys.outcome), count: g.count })));
      const base = outcomesOf(cBase.filter((g) => keyOf(g) === key).map((g) => ({ outcome: String(g.keys.outcome), count: g.count })));
      const acceptNow = latenciesOf(lNow.filter((g) => keyOf(g) === key)).accept;
      const acceptBase = latenciesOf(lBase.filter((g) => keyOf(g) === key)).accept;
      const signals = {
        complaint_rate: rateHealth({ events: now.complained, volume: now.delivered }, { events: base.complained, volume: base.delivered }, HEALTH_THRESHOLDS.complaint),
        hard_bounce_rate: rateHealth({ events: now.bounced, volume: now.attempts }, { events: base.bounced, volume: base.attempts }, HEALTH_THRESHOLDS.hardBounce),
        deferral_rate: rateHealth({ events: now.deferred, volume: now.attempts }, { events: base.deferred, volume: base.attempts }, HEALTH_THRESHOLDS.deferral),
        acceptance_latency_ms: latencyHealth(acceptNow.p50?.value_ms ?? null, acceptBase.p50?.value_ms ?? null, acceptNow.count, HEALTH_THRESHOLDS.latency),
      };
      const [first, second] = key.split('|');
      data.push({
        kind: s.kind,
        name: s.kind === 'pool' ? first : second,
        tenant: s.kind === 'pool' ? null : first,
        state: worstState(Object.values(signals).map((v) => v.state)),
        ...signals,
      });
    }
  }
  return {
    window: { from: new Date(windowFrom).toISOString(), to: new Date(windowTo).toISOString() },
    baseline: { from: new Date(baseFrom).toISOString(), to: new Date(windowFrom).toISOString(), days: q.baselineDays },
    data,
  };
}

// --- Prometheus -------------------------------------------------------------------------------

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * The delivery rollups as Prometheus counters (text exposition), from the all-time totals kept
 * with the rollups. Labels are bounded: providers come from the provider table, pools are the
 * operator's, outcomes and classes are fixed vocabularies.
 */
export async function deliveryMetricsText(store: Pick<StatsStore, 'deliveryTotals'>): Promise<string> {
  const name = 'postlane_delivery_outcomes_total';
  const lines = [`# HELP ${name} Delivery outcomes kept in the rollups, by provider, pool, outcome and reply class`, `# TYPE ${name} counter`];
  for (const t of await store.deliveryTotals()) {
    lines.push(`${name}{provider="${escapeLabel(t.provider)}",pool="${escapeLabel(t.pool)}",outcome="${escapeLabel(t.outcome)}",class="${escapeLabel(t.replyClass || 'none')}"} ${t.count}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One pool's health over the last day against its baseline: what the warm-up gate reads at day rollover. */
export async function poolHealthState(store: StatsStore, pool: string, now: number, baselineDays: number): Promise<'good' | 'watch' | 'bad'> {
  const health = await reputationHealth(store, { now, windowMs: 86_400_000, baselineDays, pool });
  return health.data.find((h) => h.kind === 'pool' && h.name === pool)?.state ?? 'good';
}
