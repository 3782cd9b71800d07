/**
 * Admission: which claimed jobs leave now and from which source IP. A job passes its send
 * window, the outreach pause, its pool and sender-domain breakers and any pool warm-up, then
 * the token buckets of its lane (tenant, sender domain), its (destination, pool) and finally one
 * source IP. Buckets live in the Counters port so every edge instance spends the same budgets;
 * everything held comes back as a Refusal with the limit that held it and when to try again.
 */
import type { Counters } from '../../ports/counters.ts';
import type { ClaimedJob } from '../../ports/store.ts';
import { allocate, type Demand, type Lane, type LaneWeights } from '../../../shared/policy/scheduler.ts';
import type { ShapingPolicy } from '../../../shared/policy/providers.ts';
import { parseRate } from '../../../shared/policy/units.ts';
import { isIPv4, isInWindow, nextWindowOpen, WEEKDAYS, type SendWindow } from '../../../shared/policy/constraints.ts';
import type { LanePolicy } from '../../../shared/policy/defaults.ts';
import type { WarmupGate, WarmupHold } from '../warmup.ts';
import { domainBreakerKey, type Refusal } from './policy-event.ts';
import { destinationOf, providerOfDestination, type ReputationState } from './reputation-state.ts';

/** The tenant's resolved policy for a lane and sender domain (edge/services/policy.ts). */
export type LanePolicyLookup = (at: { tenantId: string; lane: Lane; domain: string }, now: number) => Promise<Pick<LanePolicy, 'tenantRate' | 'senderDomainRate' | 'outreach'>>;

export type Grant = { job: ClaimedJob; sourceIp: string | null };

interface SendWindowConstraint {
  timezone: string;
  start_hour: number;
  end_hour: number;
  days?: number[];
}

/** The API's send window (hours, weekday numbers) in the policy's terms. */
function toPolicyWindow(w: SendWindowConstraint): SendWindow {
  const hh = (h: number) => `${String(h % 24).padStart(2, '0')}:00`;
  return { days: (w.days ?? [0, 1, 2, 3, 4, 5, 6]).map((d) => WEEKDAYS[d]), start: hh(w.start_hour), end: hh(w.end_hour) };
}

const ipv4Only = (job: ClaimedJob) => Boolean((job.constraints as { ipv4_only?: boolean } | null)?.ipv4_only);

/** Takes up to n tokens (never more than the burst at once); says when the rest can follow. */
export async function takeUpTo(counters: Counters, name: string, n: number, ratePerSec: number, burst = Math.max(1, Math.ceil(ratePerSec))): Promise<{ granted: number; retryAfterMs: number }> {
  const limit = { ratePerSec, burst };
  const rest = (granted: number) => (granted >= n ? 0 : Math.max(1, Math.ceil((1000 * (n - granted)) / ratePerSec)));
  const ask = Math.min(n, limit.burst);
  const first = await counters.take(name, ask, limit);
  if (first.granted) return { granted: ask, retryAfterMs: rest(ask) };
  // Short: the wait says how many tokens are missing, so take what is there.
  const there = ask - Math.ceil((first.retryAfterMs / 1000) * ratePerSec);
  if (there >= 1) {
    const second = await counters.take(name, there, limit);
    if (second.granted) return { granted: there, retryAfterMs: rest(there) };
  }
  return { granted: 0, retryAfterMs: Number.isFinite(first.retryAfterMs) ? Math.max(1, first.retryAfterMs) : 60_000 };
}

/** The first wait of jobs a bucket held: the next token, or sooner if the bucket says so. */
const firstWaitOf = (retryAfterMs: number, spacing: number) => Math.max(1, Math.min(retryAfterMs, Math.ceil(spacing)));

/**
 * The lane's own budgets from the tenant's policy: per (tenant, lane) and per (sender domain,
 * lane). Outreach takes its batch size as the tenant bucket's burst, so cold mail leaves in
 * small batches at the policy's pace rather than all at once.
 */
export async function laneBudgets(counters: Counters, lanePolicy: LanePolicyLookup | null, jobs: ClaimedJob[], now: number): Promise<{ pass: ClaimedJob[]; refused: Refusal[] }> {
  if (!lanePolicy) return { pass: jobs, refused: [] };
  const byLane = new Map<string, ClaimedJob[]>();
  for (const job of jobs) {
    const k = `${job.tenantId}|${job.lane}`;
    byLane.set(k, [...(byLane.get(k) ?? []), job]);
  }
  const pass: ClaimedJob[] = [];
  const refused: Refusal[] = [];
  for (const [k, group] of byLane) {
    const [tenantId, lane] = k.split('|');
    const senderDomain = group[0].senderDomain;
    const policy = await lanePolicy({ tenantId, lane: lane as Lane, domain: senderDomain }, now);
    const budgets: Array<{ bucket: string; rate: string | null; burst?: number; limit: string; what: string }> = [
      { bucket: `shape:tenant:${tenantId}:${lane}`, rate: policy.tenantRate, burst: policy.outreach?.batchSize, limit: `tenant:${tenantId}:${lane}`, what: `tenant ${tenantId}'s ${lane} budget` },
      { bucket: `shape:sender:${tenantId}:${senderDomain}:${lane}`, rate: policy.senderDomainRate, limit: `sender_domain:${senderDomain}:${lane}`, what: `sender domain ${senderDomain}'s ${lane} budget` },
    ];
    let allowed = group.length;
    for (const b of budgets) {
      if (!b.rate || allowed === 0) continue;
      const ratePerSec = parseRate(b.rate);
      const taken = await takeUpTo(counters, b.bucket, allowed, ratePerSec, b.burst ?? Math.max(1, Math.ceil(ratePerSec)));
      if (taken.granted >= allowed) continue;
      const spacing = 1000 / ratePerSec;
      const firstWait = firstWaitOf(taken.retryAfterMs, spacing);
      for (const [i, job] of group.slice(taken.granted, allowed).entries()) {
        refused.push({ job, retryAt: now + firstWait + Math.floor(i * spacing), limit: b.limit, reason: `${b.what} is spent (${b.rate}${b.burst ? `, batches of ${b.burst}` : ''})` });
      }
      allowed = taken.granted;
    }
    pass.push(...group.slice(0, allowed));
  }
  return { pass, refused };
}

/** How long a job whose shaping failed, or whose hold has no end, waits before it is tried again. */
const SHAPING_ERROR_RETRY_MS = 60_000;
const UNBOUNDED_HOLD_MS = 3600_000;

function shapingFailed(job: ClaimedJob, now: number, error: unknown): Refusal {
  return { job, retryAt: now + SHAPING_ERROR_RETRY_MS, limit: 'shaping_error', reason: `shaping failed for this job, tried again shortly: ${(error as Error)?.message ?? String(error)}` };
}

export interface AdmissionOptions {
  counters: Counters;
  policy: ShapingPolicy;
  weights: LaneWeights;
  random: () => number;
  lanePolicy: LanePolicyLookup | null;
  warmup: WarmupGate | null;
  reputation: ReputationState;
}

export class Admission {
  /** (destination, pool) pairs whose bucket ran dry, until it refills: not claimed meanwhile. */
  private readonly dryUntil = new Map<string, number>();
  private ipCursor = 0;

  constructor(private readonly o: AdmissionOptions) {}

  /** Lane and tenant quotas for a node's credits: strict priority with weighted shares, fair among tenants. */
  quotas(credits: number, demand: Demand[]) {
    return allocate(credits, demand, this.o.weights, { random: this.o.random })
      .filter((g) => g.count > 0)
      .map((g) => ({ lane: g.lane as string, tenantId: g.tenantId, limit: g.count }));
  }

  /** (provider, pool) pairs not to claim now. */
  excluded(now: number): Array<{ provider: string; pool: string; domain?: string }> {
    const out: Array<{ provider: string; pool: string; domain?: string }> = [];
    for (const [key, until] of this.dryUntil) {
      if (until <= now) this.dryUntil.delete(key);
      else {
        const [destination, pool] = key.split('|');
        const [provider, domain] = destination.split(/:(.*)/s);
        out.push(domain ? { provider, pool, domain } : { provider, pool });
      }
    }
    if (this.o.warmup) out.push(...this.o.warmup.excluded(now));
    return out;
  }

  /**
   * Decides which claimed jobs go out now and from which IP. Jobs held back go back to the queue
   * with the limit that held them, for their trace.
   */
  async admit(jobs: ClaimedJob[], ipsByPool: Map<string, string[]>, now: number) {
    const granted: Grant[] = [];
    const refused: Refusal[] = [];
    const groups = new Map<string, ClaimedJob[]>();
    await this.o.warmup?.ensureLoaded(now);
    for (const job of jobs) {
      let held: Refusal | null;
      try {
        held = this.screen(job, now);
      } catch (error) {
        held = shapingFailed(job, now, error);
      }
      if (held) {
        refused.push(held);
        continue;
      }
      const g = `${destinationOf(job)}|${job.pool}|${job.tenantId}|${job.senderDomain}`;
      groups.set(g, [...(groups.get(g) ?? []), job]);
    }
    // One group's failure (a bad policy, a counter error) holds that group only, not the claim.
    for (const [key, all] of groups) {
      try {
        await this.admitGroup(key, all, ipsByPool, now, granted, refused);
      } catch (error) {
        const decided = new Set([...granted, ...refused].map((d) => d.job.id));
        for (const job of all) if (!decided.has(job.id)) refused.push(shapingFailed(job, now, error));
      }
    }
    // A hold with no finite end (a zero rate has no next token) waits an hour and is looked at again.
    return { granted, refused: refused.map((r) => (Number.isFinite(r.retryAt) ? r : { ...r, retryAt: now + UNBOUNDED_HOLD_MS })) };
  }

  /** The checks that spend no budget: send window, outreach pause, breakers, pool warm-ups. */
  private screen(job: ClaimedJob, now: number): Refusal | null {
    const window = (job.constraints as { send_window?: SendWindowConstraint } | null)?.send_window;
    if (window && !isInWindow(toPolicyWindow(window), window.timezone, now)) {
      return { job, retryAt: nextWindowOpen(toPolicyWindow(window), window.timezone, now) ?? now + 24 * 3600_000, limit: 'send_window', reason: `outside the recipient's send window (${window.timezone} ${window.start_hour}:00-${window.end_hour}:00)` };
    }
    const paused = this.o.reputation.outreach.hold(job, now);
    if (paused) return paused;
    for (const [key, what] of [[`pool:${job.pool}`, `pool ${job.pool}`], [domainBreakerKey(job.tenantId, job.senderDomain), `sender domain ${job.senderDomain}`]]) {
      const b = this.o.reputation.breakers.get(key, now);
      if (b.state === 'open') return { job, retryAt: b.openUntil ?? now + 60_000, limit: `breaker:${key}`, reason: `${what} is paused by its circuit breaker` };
    }
    // A pool in warm-up: no budget is spent on a job its plan holds anyway.
    const warm = this.o.warmup?.check(job, null, now);
    return warm ? { job, ...warm } : null;
  }

  /** One (destination, pool, tenant, sender domain) group: lane budgets, the pool's bucket, then an IP each. */
  private async admitGroup(key: string, all: ClaimedJob[], ipsByPool: Map<string, string[]>, now: number, granted: Grant[], refused: Refusal[]) {
    const [destination, pool, tenantId, senderDomain] = key.split('|');
    const lane = await laneBudgets(this.o.counters, this.o.lanePolicy, all, now);
    refused.push(...lane.refused);
    const group = lane.pass;
    if (group.length === 0) return;
    const provider = providerOfDestination(destination);
    const { ratePerSec, limitedBy } = this.o.reputation.rateFor(destination, pool, tenantId, senderDomain, now);
    const taken = await takeUpTo(this.o.counters, `shape:pool:${destination}:${pool}`, group.length, ratePerSec);
    // The bucket refills a token every 1/rate s: held-back jobs are spaced at that pace from the
    // next token on. (Holding them all until the whole group could go left the bucket idle
    // meanwhile: a burst, then seconds of nothing.)
    const spacing = 1000 / ratePerSec;
    const firstWait = firstWaitOf(taken.retryAfterMs, spacing);
    if (taken.granted < group.length) this.dryUntil.set(`${destination}|${pool}`, now + firstWait);
    for (const [k, job] of group.slice(taken.granted).entries()) {
      refused.push({ job, retryAt: now + firstWait + (Number.isFinite(spacing) ? Math.floor(k * spacing) : 0), limit: `provider_pool:${destination}:${pool}`, reason: `${destination} budget on pool ${pool} is spent (${(ratePerSec * 60).toFixed(1)}/min, set by ${limitedBy})` });
    }
    // Spread across the pool's IPs, each within its own per-provider budget (the table's, or an
    // automation rule's lower one while it lasts).
    for (const job of group.slice(0, taken.granted)) {
      const ips = (ipsByPool.get(pool) ?? []).filter((ip) => (!ipv4Only(job) || isIPv4(ip)) && !this.o.reputation.isSuspended(provider, ip, now));
      const outcome = await this.pickSourceIp(job, destination, ips, now);
      if ('sourceIp' in outcome) granted.push(outcome);
      else refused.push(outcome);
    }
  }

  /** The first of the pool's usable IPs (round robin) that a warm-up allows and whose bucket has a token. */
  private async pickSourceIp(job: ClaimedJob, destination: string, ips: string[], now: number): Promise<Grant | Refusal> {
    const provider = providerOfDestination(destination);
    let chosen: string | null = null;
    let wait = 60_000;
    let warm: WarmupHold | null = null;
    let rateHeld = false;
    for (let i = 0; i < ips.length && !chosen; i++) {
      const ip = ips[(this.ipCursor++ + i) % ips.length];
      // The authoritative warm-up check (pool and IP warm-ups), counting this pass's grants.
      const w = this.o.warmup?.check(job, ip, now);
      if (w) {
        if (!warm || w.retryAt < warm.retryAt) warm = w;
        continue;
      }
      const t = await takeUpTo(this.o.counters, `shape:ip:${destination}:${ip}`, 1, this.o.reputation.ipRate(provider, ip, now));
      if (t.granted) chosen = ip;
      else {
        wait = Math.min(wait, t.retryAfterMs);
        rateHeld = true;
      }
    }
    if (chosen) {
      this.o.warmup?.count(job, chosen, now);
      return { job, sourceIp: chosen };
    }
    if (warm && !rateHeld) return { job, ...warm };
    const why = ips.length === 0 ? `no usable source IP in pool ${job.pool}${ipv4Only(job) ? ' (IPv4 only)' : ''} for ${provider}` : `every IP of pool ${job.pool} is at its ${provider} rate`;
    return { job, retryAt: now + wait, limit: `provider_ip:${provider}:${job.pool}`, reason: why };
  }
}
