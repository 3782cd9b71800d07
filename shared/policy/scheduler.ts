/**
 * Lane scheduling (SPEC §4: "strict priority with weighted shares so lower lanes still move;
 * fair share among tenants in a lane"). Given the credits a node asked for and what is queued,
 * decide how many jobs each (lane, tenant) gets:
 *
 * 1. Each lane is entitled to its weight's share of the credits (70/25/5 by default).
 * 2. A lane with demand never gets zero while there are at least as many credits as busy
 *    lanes: the seed article's "worst night" is a marketing blast starving password resets,
 *    and the mirror failure is outreach never moving at all.
 * 3. Share a lane cannot use flows to the others in strict priority order.
 * 4. Inside a lane, tenants get max-min fair shares (water-filling): a tenant's 20k blast takes
 *    only what the others leave.
 */
import { LANES, type Lane } from '../lanes.ts';

export { LANES, type Lane };

export type LaneWeights = Record<Lane, number>;
export const DEFAULT_LANE_WEIGHTS: LaneWeights = { transactional: 70, lifecycle: 25, outreach: 5 };

export interface Demand {
  lane: Lane;
  tenantId: string;
  queued: number;
}

export interface Grant {
  lane: Lane;
  tenantId: string;
  count: number;
}

export interface AllocateOptions {
  /**
   * Breaks ties for the last indivisible credits between equally entitled tenants. Pass the
   * runtime's random so no tenant always wins the remainder; without it, tenant id order.
   */
  random?: () => number;
}

/** Lane totals by weight, largest remainder, priority order breaking ties. */
function laneQuotas(credits: number, weights: LaneWeights): Record<Lane, number> {
  const total = LANES.reduce((s, l) => s + Math.max(0, weights[l]), 0);
  const quotas = { transactional: 0, lifecycle: 0, outreach: 0 } as Record<Lane, number>;
  if (total <= 0) {
    quotas.transactional = credits;
    return quotas;
  }
  const ideal = LANES.map((l) => (credits * Math.max(0, weights[l])) / total);
  LANES.forEach((l, i) => (quotas[l] = Math.floor(ideal[i])));
  let left = credits - LANES.reduce((s, l) => s + quotas[l], 0);
  const byFraction = LANES.map((l, i) => ({ l, f: ideal[i] - Math.floor(ideal[i]), i })).sort((a, b) => b.f - a.f || a.i - b.i);
  for (const { l } of byFraction) {
    if (left <= 0) break;
    quotas[l]++;
    left--;
  }
  return quotas;
}

/** Max-min fair split of `credits` among tenants by what each has queued. */
export function fairShare(credits: number, queued: Map<string, number>, random?: () => number): Map<string, number> {
  const out = new Map<string, number>();
  let order = [...queued.keys()].sort();
  if (random) {
    // Fisher-Yates with the caller's random: who gets the odd credit changes call to call.
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  for (const t of order) out.set(t, 0);
  let remaining = credits;
  let open = order.filter((t) => (queued.get(t) ?? 0) > 0);
  while (remaining > 0 && open.length > 0) {
    const share = Math.floor(remaining / open.length);
    if (share === 0) {
      for (const t of open.slice(0, remaining)) out.set(t, out.get(t)! + 1);
      break;
    }
    for (const t of open) {
      const give = Math.min(share, queued.get(t)! - out.get(t)!);
      out.set(t, out.get(t)! + give);
      remaining -= give;
    }
    open = open.filter((t) => out.get(t)! < queued.get(t)!);
  }
  return out;
}

export function allocate(credits: number, demand: Demand[], weights: LaneWeights = DEFAULT_LANE_WEIGHTS, options: AllocateOptions = {}): Grant[] {
  const budget = Math.max(0, Math.floor(credits));
  // Sum duplicate (lane, tenant) rows.
  const byLane = new Map<Lane, Map<string, number>>(LANES.map((l) => [l, new Map()]));
  for (const d of demand) {
    if (!byLane.has(d.lane)) throw new RangeError(`unknown lane "${d.lane}"`);
    const m = byLane.get(d.lane)!;
    m.set(d.tenantId, (m.get(d.tenantId) ?? 0) + Math.max(0, Math.floor(d.queued)));
  }
  const laneDemand = Object.fromEntries(LANES.map((l) => [l, [...byLane.get(l)!.values()].reduce((a, b) => a + b, 0)])) as Record<Lane, number>;

  const quotas = laneQuotas(budget, weights);
  const grant = Object.fromEntries(LANES.map((l) => [l, Math.min(quotas[l], laneDemand[l])])) as Record<Lane, number>;
  let spare = budget - LANES.reduce((s, l) => s + grant[l], 0);

  // No busy lane starves: one credit from spare, else from the lane holding the most.
  const busy = LANES.filter((l) => laneDemand[l] > 0);
  if (budget >= busy.length) {
    for (const l of busy) {
      if (grant[l] > 0) continue;
      if (spare > 0) {
        spare--;
      } else {
        const donor = [...LANES].filter((d) => grant[d] > 1).sort((a, b) => grant[b] - grant[a])[0];
        if (!donor) continue;
        grant[donor]--;
      }
      grant[l] = 1;
    }
  }

  // Unused share flows in strict priority order.
  for (const l of LANES) {
    if (spare <= 0) break;
    const take = Math.min(spare, laneDemand[l] - grant[l]);
    grant[l] += take;
    spare -= take;
  }

  const out: Grant[] = [];
  for (const l of LANES) {
    for (const [tenantId, count] of fairShare(grant[l], byLane.get(l)!, options.random)) {
      if (count > 0) out.push({ lane: l, tenantId, count });
    }
  }
  return out;
}
