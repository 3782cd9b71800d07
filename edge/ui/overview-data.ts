/**
 * What the Overview shows: per lane, the last hour's outcomes against the same hour's average
 * over the trailing baseline (the stats rollups), the queue per lane, reputation health per pool
 * and sending domain (edge/services/stats.ts), the open alerts, and the breakers not closed.
 */
import type { AppDeps } from '../ports/app.ts';
import type { Caller } from '../context.ts';
import type { AlertRecord } from '../ports/stats.ts';
import { DEFAULT_BASELINE_DAYS, outcomesOf, reputationHealth, statsTenant } from '../services/stats.ts';
import { reputationAudience, visibleTo } from '../services/reputation.ts';
import { MINUTE_MS, minuteOf } from '../stats/rollup.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { LANES } from '../../shared/lanes.ts';

const HOUR_MS = 3_600_000;
export const OUTCOMES = ['delivered', 'deferred', 'bounced', 'failed', 'complained'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface LaneRow {
  lane: string;
  queued: number;
  now: Record<Outcome | 'attempts', number>;
  /** The baseline's average per hour. */
  baseline: Record<Outcome | 'attempts', number>;
}

export interface Overview {
  lanes: LaneRow[];
  health: Awaited<ReturnType<typeof reputationHealth>>;
  alerts: AlertRecord[];
  breakers: Array<{ scope: string; key: string; state: string; since: string | null; region: string | null }>;
  /** Attempts per hour over the last day by outcome: x (seconds), delivered, deferred, bounced. */
  chart: Array<Array<number | null>>;
  baselineDays: number;
}

function countsOf(groups: Array<{ keys: Record<string, unknown>; count: number }>, lane: string, divide = 1): LaneRow['now'] {
  const o = outcomesOf(groups.filter((g) => g.keys.lane === lane).map((g) => ({ outcome: String(g.keys.outcome), count: g.count })));
  const r = (n: number) => Math.round((n / divide) * 10) / 10;
  return {
    attempts: r(o.attempts),
    delivered: r(o.delivered),
    deferred: r(o.deferred),
    bounced: r(o.bounced),
    failed: r(o.failed),
    complained: r(o.complained),
  };
}

export async function overviewOf(deps: AppDeps, caller: Caller, now: number, baselineDays = DEFAULT_BASELINE_DAYS): Promise<Overview> {
  const tenantId = statsTenant(caller.tenantId, undefined);
  const to = minuteOf(now) + MINUTE_MS;
  const from = to - HOUR_MS;
  const baseFrom = minuteOf(now - baselineDays * 86_400_000);
  const dayFrom = to - 24 * HOUR_MS;
  const [current, baseline, backlog, health, alerts, audience, state, series] = await Promise.all([
    deps.store.rollupCounts({ from, to, tenantId }, ['lane', 'outcome'], null),
    deps.store.rollupCounts({ from: baseFrom, to: from, tenantId }, ['lane', 'outcome'], null),
    deps.store.backlog(tenantId ?? null),
    reputationHealth(deps.store, { now, windowMs: HOUR_MS, baselineDays, tenantId }),
    deps.store.listAlerts({ state: 'open', tenantId: caller.tenantId === OPERATOR_TENANT ? undefined : caller.tenantId, limit: 50 }),
    reputationAudience(deps.store, caller.tenantId),
    deps.hub.reputation(),
    deps.store.rollupCounts({ from: dayFrom, to, tenantId }, ['outcome'], HOUR_MS),
  ]);
  const baseHours = Math.max(1, (from - baseFrom) / HOUR_MS);
  const queued = new Map<string, number>();
  for (const b of backlog) queued.set(b.lane, (queued.get(b.lane) ?? 0) + b.queued);
  const lanes = LANES.map((lane) => ({ lane, queued: queued.get(lane) ?? 0, now: countsOf(current, lane), baseline: countsOf(baseline, lane, baseHours) }));

  const hours = [...new Set(series.map((g) => g.bucketStart!))].sort((a, b) => a - b);
  const column = (outcome: string) =>
    hours.map((h) => series.filter((g) => g.bucketStart === h && g.keys.outcome === outcome).reduce((n, g) => n + g.count, 0));
  const chart = hours.length ? [hours.map((h) => h / 1000), column('delivered'), column('deferred'), column('bounced')] : [];

  const breakers = state.breakers
    .filter((b) => b.state !== 'closed' && visibleTo(audience, { scope: String(b.scope), key: String(b.key) }))
    .map((b) => ({
      scope: String(b.scope),
      key: String(b.key),
      state: String(b.state),
      since: b.since ? String(b.since) : null,
      region: b.region ? String(b.region) : null,
    }));
  return { lanes, health, alerts, breakers, chart, baselineDays };
}
