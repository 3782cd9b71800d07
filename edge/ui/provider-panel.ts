/**
 * What the Providers page shows, read from the ports: delivery outcomes per provider over the
 * last minutes (the stats rollups: acceptance, deferrals by reply class, time to accept), the
 * adaptive (AIMD) rates the hubs hold with each provider's ceiling, and the breakers — each cut
 * to what the caller may see (the operator all of it, a tenant its own mail and pools).
 */
import type { AppDeps } from '../ports/app.ts';
import type { Caller } from '../context.ts';
import { latenciesOf, statsTenant } from '../services/stats.ts';
import { reputationAudience, visibleTo } from '../services/reputation.ts';
import { MINUTE_MS, minuteOf } from '../stats/rollup.ts';
import { CEILING_FACTOR } from '../../shared/policy/provider-record.ts';
import { shapingFor } from '../../shared/policy/providers.ts';
import { parseRate } from '../../shared/policy/units.ts';

/** "Now" is the last quarter hour; the chart shows the last half hour, minute by minute. */
export const WINDOW_MINUTES = 15;
export const CHART_MINUTES = 30;

export interface ProviderRow {
  provider: string;
  attempts: number;
  delivered: number;
  deferred: number;
  bounced: number;
  /** Deferrals by reply class (classifier's names), largest first. */
  deferralsByClass: Array<{ replyClass: string; count: number }>;
  acceptP50Ms: number | null;
  acceptP95Ms: number | null;
}

export interface RateRow {
  provider: string;
  destination: string;
  pool: string | null;
  ip: string | null;
  region: string | null;
  ratePerMin: number;
  ceilingPerMin: number | null;
}

export interface BreakerRow {
  scope: string;
  key: string;
  state: string;
  region: string | null;
  ratePerMin: number | null;
  since: string | null;
}

export interface ProviderPanel {
  providers: ProviderRow[];
  rates: RateRow[];
  breakers: BreakerRow[];
  /** Per-minute deferral share per provider: x (seconds) then one column per provider. */
  chart: { providers: string[]; data: Array<Array<number | null>> };
  windowFrom: number;
}

const str = (v: unknown) => (v === undefined || v === null ? null : String(v));

/** As the hub's ReputationState.ceilingRate: the provider's `ceiling`, else CEILING_FACTOR times its pool rate. */
function ceilingPerMin(deps: AppDeps, provider: string): number | null {
  try {
    const s = shapingFor(provider, deps.config.shapingPolicy);
    const start = parseRate(s.ratePerPool);
    return Math.round((s.ceiling ? Math.max(start, parseRate(s.ceiling)) : start * CEILING_FACTOR) * 60);
  } catch {
    return null;
  }
}

export async function providerPanel(deps: AppDeps, caller: Caller, now: number): Promise<ProviderPanel> {
  const tenantId = statsTenant(caller.tenantId, undefined);
  const to = minuteOf(now) + MINUTE_MS;
  const windowFrom = to - WINDOW_MINUTES * MINUTE_MS;
  const chartFrom = to - CHART_MINUTES * MINUTE_MS;
  const filter = { from: windowFrom, to, tenantId };
  const [counts, latencies, series, audience, state] = await Promise.all([
    deps.store.rollupCounts(filter, ['provider', 'outcome', 'replyClass'], null),
    deps.store.rollupLatencies(filter, ['provider'], null),
    deps.store.rollupCounts({ from: chartFrom, to, tenantId }, ['provider', 'outcome'], MINUTE_MS),
    reputationAudience(deps.store, caller.tenantId),
    deps.hub.reputation(),
  ]);

  const byProvider = new Map<string, ProviderRow>();
  const row = (provider: string) => {
    let r = byProvider.get(provider);
    if (!r)
      byProvider.set(
        provider,
        (r = { provider, attempts: 0, delivered: 0, deferred: 0, bounced: 0, deferralsByClass: [], acceptP50Ms: null, acceptP95Ms: null }),
      );
    return r;
  };
  for (const g of counts) {
    const r = row(String(g.keys.provider));
    const outcome = String(g.keys.outcome);
    if (outcome === 'delivered' || outcome === 'deferred' || outcome === 'bounced') {
      r[outcome] += g.count;
      r.attempts += g.count;
    }
    if (outcome === 'deferred') {
      const replyClass = String(g.keys.replyClass || 'unclassified');
      const entry = r.deferralsByClass.find((d) => d.replyClass === replyClass);
      if (entry) entry.count += g.count;
      else r.deferralsByClass.push({ replyClass, count: g.count });
    }
  }
  for (const r of byProvider.values()) {
    r.deferralsByClass.sort((a, b) => b.count - a.count);
    const accept = latenciesOf(latencies.filter((l) => l.keys.provider === r.provider)).accept;
    r.acceptP50Ms = accept.p50?.value_ms ?? null;
    r.acceptP95Ms = accept.p95?.value_ms ?? null;
  }
  const providers = [...byProvider.values()].sort((a, b) => b.attempts - a.attempts || a.provider.localeCompare(b.provider));

  // Minute by minute: deferred / (delivered + deferred + bounced), null where a provider had no attempt.
  const names = providers.map((p) => p.provider);
  const minutes = Array.from({ length: CHART_MINUTES }, (_, i) => chartFrom + i * MINUTE_MS);
  const cells = new Map<string, { attempts: number; deferred: number }>();
  for (const g of series) {
    const outcome = String(g.keys.outcome);
    if (outcome !== 'delivered' && outcome !== 'deferred' && outcome !== 'bounced') continue;
    const key = `${g.bucketStart}|${g.keys.provider}`;
    const cell = cells.get(key) ?? { attempts: 0, deferred: 0 };
    cell.attempts += g.count;
    if (outcome === 'deferred') cell.deferred += g.count;
    cells.set(key, cell);
  }
  const data: Array<Array<number | null>> = [minutes.map((m) => m / 1000)];
  for (const name of names) {
    data.push(
      minutes.map((m) => {
        const cell = cells.get(`${m}|${name}`);
        return cell && cell.attempts > 0 ? Math.round((1000 * cell.deferred) / cell.attempts) / 10 : null;
      }),
    );
  }

  const rates: RateRow[] = state.rates
    .filter((r) => visibleTo(audience, { scope: 'provider_pool', key: '', data: r }))
    .map((r) => ({
      provider: String(r.provider),
      destination: String(r.destination ?? r.provider),
      pool: str(r.pool),
      ip: str(r.ip),
      region: str(r.region),
      ratePerMin: Number(r.rate_per_min),
      ceilingPerMin: ceilingPerMin(deps, String(r.provider)),
    }))
    .sort((a, b) => a.provider.localeCompare(b.provider) || String(a.pool).localeCompare(String(b.pool)));
  const breakers: BreakerRow[] = state.breakers
    .filter((b) => visibleTo(audience, { scope: String(b.scope), key: String(b.key) }))
    .map((b) => ({
      scope: String(b.scope),
      key: String(b.key),
      state: String(b.state),
      region: str(b.region),
      ratePerMin: b.rate_per_min === undefined ? null : Number(b.rate_per_min),
      since: str(b.since),
    }));
  return { providers, rates, breakers, chart: { providers: names, data }, windowFrom };
}
