/**
 * What the Pools and IPs page shows: the pools the caller may send through (the operator: all,
 * with their source IPs and the nodes' declared IPs), each pool's breaker, its complaint and
 * bounce rates against the health thresholds (edge/services/stats.ts), the warm-ups with plan day,
 * today's cap and the projected safe throughput for the plan days ahead, and IP suspensions.
 */
import type { AppDeps } from '../ports/app.ts';
import type { Caller } from '../context.ts';
import type { NodeSummary } from '../ports/lease-hub.ts';
import type { PoolInfo, SourceIpRecord } from '../ports/store.ts';
import type { WarmupView } from '../../shared/api.ts';
import { HEALTH_THRESHOLDS, reputationHealth, statsTenant } from '../services/stats.ts';
import { reputationAudience } from '../services/reputation.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';
import { dailyCap, type WarmupPlan } from '../../shared/policy/warmup.ts';
import { warmupView } from '../routes/warmups.ts';

/** Plan days the throughput curve looks ahead. */
export const CURVE_DAYS = 30;
const HOUR_MS = 3_600_000;

export interface PoolRow {
  pool: PoolInfo;
  ips: SourceIpRecord[];
  breaker: { state: string; since: string | null; region: string | null } | null;
  health: Awaited<ReturnType<typeof reputationHealth>>['data'][number] | null;
}

export interface WarmupRow {
  view: WarmupView;
  /** x = plan day, y = the sum of the providers' caps that day if every day grows. */
  curve: Array<Array<number | null>>;
}

export interface PoolsPanel {
  operator: boolean;
  pools: PoolRow[];
  warmups: WarmupRow[];
  nodes: NodeSummary[];
  suspended: Array<{ provider: string; ip: string; until: string; rule: string; region: string | null }>;
  thresholds: { complaint: { watch: number; bad: number }; hardBounce: { watch: number; bad: number } };
}

export async function poolsPanel(deps: AppDeps, caller: Caller, now: number): Promise<PoolsPanel> {
  const operator = caller.tenantId === OPERATOR_TENANT;
  const [pools, ips, audience, state, health, warmups, live, nodes] = await Promise.all([
    deps.store.listPools(),
    operator ? deps.store.listSourceIps() : Promise.resolve([] as SourceIpRecord[]),
    reputationAudience(deps.store, caller.tenantId),
    deps.hub.reputation(),
    reputationHealth(deps.store, { now, windowMs: HOUR_MS, baselineDays: deps.config.baselineDays ?? 14, tenantId: statsTenant(caller.tenantId, undefined) }),
    deps.store.listWarmups({}),
    deps.hub.warmups(),
    operator ? deps.hub.nodes() : Promise.resolve([] as NodeSummary[]),
  ]);
  const liveById = new Map(live.map((w) => [w.id, w]));
  const rows: PoolRow[] = pools
    .filter((p) => operator || p.tenantId === null || p.tenantId === caller.tenantId)
    .map((pool) => {
      const b = state.breakers.find((x) => x.scope === 'pool' && x.key === pool.name);
      return {
        pool,
        ips: ips.filter((ip) => ip.pool === pool.name),
        breaker: b ? { state: String(b.state), since: b.since ? String(b.since) : null, region: b.region ? String(b.region) : null } : null,
        health: health.data.find((h) => h.kind === 'pool' && h.name === pool.name) ?? null,
      };
    });
  const warmupRows: WarmupRow[] = warmups
    .filter((w) => w.status === 'active')
    // As GET /v1/warmups: a tenant sees the pool warm-ups of the pools it owns.
    .filter((w) => operator || (w.scope === 'pool' && audience.ownedPools.has(w.pool ?? w.key)))
    .map((w) => {
      const view = warmupView(w, liveById.get(w.id), now);
      const plan = w.plan as unknown as WarmupPlan;
      const days = Array.from({ length: CURVE_DAYS }, (_, i) => i);
      const curve = [
        days.map((i) => i),
        days.map((i) => view.providers.filter((p) => !p.complete).reduce((n, p) => n + dailyCap(plan, p.provider, p.day + i), 0)),
      ];
      return { view, curve };
    });
  return {
    operator,
    pools: rows,
    warmups: warmupRows,
    nodes,
    suspended: operator
      ? state.suspended_ips.map((s) => ({
          provider: String(s.provider),
          ip: String(s.ip),
          until: String(s.until),
          rule: String(s.rule ?? ''),
          region: s.region ? String(s.region) : null,
        }))
      : [],
    thresholds: { complaint: HEALTH_THRESHOLDS.complaint, hardBounce: HEALTH_THRESHOLDS.hardBounce },
  };
}
