/**
 * Reputation-aware shaping, applied where leases are granted. The decisions are the pure
 * functions of shared/policy (scheduler, AIMD, breakers, send windows, provider table); this
 * class only keeps their state per key and takes tokens through the Counters port, so every
 * edge instance shares the same budgets (Durable Objects on Workers, memory on Node).
 *
 * Keys: AIMD per (provider, pool); breakers per pool and per sender domain; token buckets per
 * (provider, pool) and per (provider, source IP).
 */
import type { ClaimedJob, Counters } from '../ports.ts';
import { allocate, DEFAULT_LANE_WEIGHTS, type Demand, type LaneWeights } from '../../shared/policy/scheduler.ts';
import { aimdConfig, DEFAULT_AIMD, initialAimd, onSignal, type AimdConfig, type AimdState } from '../../shared/policy/aimd.ts';
import {
  allowedRate,
  breakerConfig,
  evaluateBreaker,
  forceBreaker,
  initialBreaker,
  recordOutcome,
  type BreakerConfig,
  type BreakerEvent,
  type BreakerState,
} from '../../shared/policy/breaker.ts';
import { DEFAULT_SHAPING_POLICY, shapingFor, type ShapingPolicy } from '../../shared/policy/providers.ts';
import { parseRate } from '../../shared/policy/units.ts';
import { isIPv4, isInWindow, nextWindowOpen, WEEKDAYS, type SendWindow } from '../../shared/policy/constraints.ts';
import type { Classification } from '../../shared/policy/classifier.ts';
import type { LanePolicy } from '../../shared/policy/defaults.ts';
import type { Lane } from '../../shared/policy/scheduler.ts';

/** The tenant's resolved policy for a lane and sender domain (edge/services/policy.ts). */
export type LanePolicyLookup = (at: { tenantId: string; lane: Lane; domain: string }, now: number) => Promise<Pick<LanePolicy, 'tenantRate' | 'senderDomainRate' | 'outreach'>>;
import type { WarmupGate, WarmupHold } from './warmup.ts';
import { DEFAULT_OUTREACH_GUARD } from '../../shared/policy/constraints.ts';
import type { OutreachPauseRule } from '../ports.ts';

export interface PolicyEvent {
  scope: 'pool' | 'domain' | 'provider_pool' | 'provider_ip' | 'warmup' | 'outreach';
  key: string;
  type: 'breaker' | 'rate' | 'suspend' | 'warmup';
  from: string | null;
  to: string | null;
  reason: string;
  at: number;
  data: Record<string, unknown>;
}

export interface Refusal {
  job: ClaimedJob;
  retryAt: number;
  limit: string;
  reason: string;
}

export interface ShaperOptions {
  counters: Counters;
  policy?: ShapingPolicy;
  aimd?: AimdConfig;
  breaker?: BreakerConfig;
  weights?: LaneWeights;
  random?: () => number;
  /** Per-tenant and per-sender-domain lane budgets come from the tenant's policy; absent: none. */
  lanePolicy?: LanePolicyLookup;
  /** Warm-up plans of pools and IPs (edge/hub/warmup.ts); none: no warm-up is enforced. */
  warmup?: WarmupGate;
}

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

/**
 * What a budget is kept for: a named provider as a whole (its MX farm is shared by all its
 * domains), or, for `other`, the recipient domain itself — thousands of unrelated small
 * domains must not share one budget.
 */
export function destinationOf(job: { provider: string; domain: string }): string {
  return job.provider === 'other' ? `other:${job.domain}` : job.provider;
}
const providerOfDestination = (destination: string) => destination.split(':')[0];

/** AIMD adapts below the provider table's rate; its own ceiling is only a sanity bound. */
const AIMD_DEFAULTS = aimdConfig({ ...DEFAULT_AIMD, ceiling: '1000000/min' });

export class Shaper {
  private readonly counters: Counters;
  private readonly policy: ShapingPolicy;
  private readonly aimdCfg: AimdConfig;
  private readonly breakerCfg: BreakerConfig;
  private readonly weights: LaneWeights;
  private readonly random: () => number;
  private readonly lanePolicy: LanePolicyLookup | null;
  private readonly rates = new Map<string, AimdState>();
  private readonly breakers = new Map<string, BreakerState>();
  /** (provider, pool) pairs whose bucket ran dry, until it refills: not claimed meanwhile. */
  private readonly dryUntil = new Map<string, number>();
  /** Source IPs suspended for one provider by a block reply. */
  private readonly suspended = new Map<string, { until: number; reason: string }>();
  private ipCursor = 0;
  /** Warm-up caps and spacing; complaint intake reports complaints through it. */
  readonly warmup: WarmupGate | null;

  constructor(opts: ShaperOptions) {
    this.warmup = opts.warmup ?? null;
    this.counters = opts.counters;
    this.policy = opts.policy ?? DEFAULT_SHAPING_POLICY;
    this.aimdCfg = opts.aimd ?? AIMD_DEFAULTS;
    this.breakerCfg = opts.breaker ?? breakerConfig();
    this.weights = opts.weights ?? DEFAULT_LANE_WEIGHTS;
    this.random = opts.random ?? Math.random;
    this.lanePolicy = opts.lanePolicy ?? null;
  }

  /** The provider table's connection rules, as nodes apply them per (destination, source IP). */
  connectionLimits(): Record<string, { maxConnections: number; maxMessagesPerConnection: number }> {
    const out: Record<string, { maxConnections: number; maxMessagesPerConnection: number }> = {};
    for (const provider of [...Object.keys(this.policy.providers), 'other']) {
      const s = shapingFor(provider, this.policy);
      out[provider] = { maxConnections: s.maxConnectionsPerIp, maxMessagesPerConnection: s.messagesPerConnection };
    }
    return out;
  }

  /** Lane and tenant quotas for a node's credits: strict priority with weighted shares, fair among tenants. */
  quotas(credits: number, demand: Demand[]) {
    return allocate(credits, demand, this.weights, { random: this.random })
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
    if (this.warmup) out.push(...this.warmup.excluded(now));
    return out;
  }

  private breaker(key: string, now: number): BreakerState {
    let b = this.breakers.get(key);
    if (!b) this.breakers.set(key, (b = initialBreaker(now)));
    return b;
  }

  /** The provider table's rate for a destination: where AIMD starts and the most it climbs to. */
  private tableRate(destination: string): number {
    return parseRate(shapingFor(providerOfDestination(destination), this.policy).ratePerPool);
  }

  private aimd(key: string, now: number): AimdState {
    let s = this.rates.get(key);
    if (!s) this.rates.set(key, (s = { ...initialAimd(this.aimdCfg, now), ratePerSec: this.tableRate(key.split('|')[0]) }));
    return s;
  }

  /** The rate a (provider, pool) may send at now: the tightest of table, AIMD and breakers. */
  rateFor(destination: string, pool: string, fromDomain: string, now: number): { ratePerSec: number; limitedBy: string } {
    // A closed breaker sets no limit of its own; slow start and open do.
    const breakerRate = (key: string) => {
      const b = this.breaker(key, now);
      return b.state === 'closed' ? Infinity : allowedRate(b, this.breakerCfg);
    };
    const candidates: Array<[number, string]> = [
      [this.tableRate(destination), `provider table rate for ${destination}`],
      [this.aimd(`${destination}|${pool}`, now).ratePerSec, `adaptive rate for ${destination} on pool ${pool}`],
      [breakerRate(`pool:${pool}`), `circuit breaker of pool ${pool}`],
      [breakerRate(`domain:${fromDomain}`), `circuit breaker of sender domain ${fromDomain}`],
    ];
    const [ratePerSec, limitedBy] = candidates.reduce((a, b) => (b[0] < a[0] ? b : a));
    return { ratePerSec, limitedBy };
  }

  /** Takes up to n tokens (never more than the burst at once); says when the rest can follow. */
  private async takeUpTo(name: string, n: number, ratePerSec: number, burst = Math.max(1, Math.ceil(ratePerSec))): Promise<{ granted: number; retryAfterMs: number }> {
    const limit = { ratePerSec, burst };
    const rest = (granted: number) => (granted >= n ? 0 : Math.max(1, Math.ceil((1000 * (n - granted)) / ratePerSec)));
    const ask = Math.min(n, limit.burst);
    const first = await this.counters.take(name, ask, limit);
    if (first.granted) return { granted: ask, retryAfterMs: rest(ask) };
    // Short: the wait says how many tokens are missing, so take what is there.
    const there = ask - Math.ceil((first.retryAfterMs / 1000) * ratePerSec);
    if (there >= 1) {
      const second = await this.counters.take(name, there, limit);
      if (second.granted) return { granted: there, retryAfterMs: rest(there) };
    }
    return { granted: 0, retryAfterMs: Number.isFinite(first.retryAfterMs) ? Math.max(1, first.retryAfterMs) : 60_000 };
  }

  /**
   * Decides which claimed jobs go out now and from which IP. Jobs held back go back to the queue
   * with the limit that held them, for their trace.
   */
  async admit(jobs: ClaimedJob[], ipsByPool: Map<string, string[]>, now: number) {
    const granted: Array<{ job: ClaimedJob; sourceIp: string | null }> = [];
    const refused: Refusal[] = [];
    const groups = new Map<string, ClaimedJob[]>();
    await this.warmup?.ensureLoaded(now);
    for (const job of jobs) {
      const window = (job.constraints as { send_window?: SendWindowConstraint } | null)?.send_window;
      if (window && !isInWindow(toPolicyWindow(window), window.timezone, now)) {
        refused.push({ job, retryAt: nextWindowOpen(toPolicyWindow(window), window.timezone, now) ?? now + 24 * 3600_000, limit: 'send_window', reason: `outside the recipient's send window (${window.timezone} ${window.start_hour}:00-${window.end_hour}:00)` });
        continue;
      }
      const paused = this.outreachHold(job, now);
      if (paused) {
        refused.push(paused);
        continue;
      }
      for (const key of [`pool:${job.pool}`, `domain:${job.senderDomain}`]) {
        const b = this.breaker(key, now);
        if (b.state === 'open') {
          refused.push({ job, retryAt: b.openUntil ?? now + 60_000, limit: `breaker:${key}`, reason: `${key.replace(':', ' ')} is paused by its circuit breaker` });
          break;
        }
      }
      if (refused.at(-1)?.job === job) continue;
      // A pool in warm-up: no budget is spent on a job its plan holds anyway.
      const warm = this.warmup?.check(job, null, now);
      if (warm) {
        refused.push({ job, ...warm });
        continue;
      }
      const g = `${destinationOf(job)}|${job.pool}|${job.senderDomain}`;
      groups.set(g, [...(groups.get(g) ?? []), job]);
    }

    for (const [key, all] of groups) {
      const [destination, pool, senderDomain] = key.split('|');
      const lane = await this.laneBudgets(all, now);
      refused.push(...lane.refused);
      const group = lane.pass;
      if (group.length === 0) continue;
      const provider = providerOfDestination(destination);
      const { ratePerSec, limitedBy } = this.rateFor(destination, pool, senderDomain, now);
      const taken = await this.takeUpTo(`shape:pool:${destination}:${pool}`, group.length, ratePerSec);
      // The bucket refills a token every 1/rate s: held-back jobs are spaced at that pace from the
      // next token on. (Holding them all until the whole group could go left the bucket idle
      // meanwhile: a burst, then seconds of nothing.)
      const spacing = 1000 / ratePerSec;
      const firstWait = Math.max(1, Math.min(taken.retryAfterMs, Math.ceil(spacing)));
      if (taken.granted < group.length) this.dryUntil.set(`${destination}|${pool}`, now + firstWait);
      const ipRate = parseRate(shapingFor(provider, this.policy).ratePerIp);
      const pending = group.slice(0, taken.granted);
      for (const [k, job] of group.slice(taken.granted).entries()) {
        refused.push({ job, retryAt: now + firstWait + (Number.isFinite(spacing) ? Math.floor(k * spacing) : 0), limit: `provider_pool:${destination}:${pool}`, reason: `${destination} budget on pool ${pool} is spent (${(ratePerSec * 60).toFixed(1)}/min, set by ${limitedBy})` });
      }
      // Spread across the pool's IPs, each within its own per-provider budget.
      const ipv4Only = (job: ClaimedJob) => Boolean((job.constraints as { ipv4_only?: boolean } | null)?.ipv4_only);
      for (const job of pending) {
        const ips = (ipsByPool.get(pool) ?? []).filter((ip) => (!ipv4Only(job) || isIPv4(ip)) && !this.isSuspended(provider, ip, now));
        let chosen: string | null = null;
        let wait = 60_000;
        let warm: WarmupHold | null = null;
        let rateHeld = false;
        for (let i = 0; i < ips.length && !chosen; i++) {
          const ip = ips[(this.ipCursor++ + i) % ips.length];
          // The authoritative warm-up check (pool and IP warm-ups), counting this pass's grants.
          const w = this.warmup?.check(job, ip, now);
          if (w) {
            if (!warm || w.retryAt < warm.retryAt) warm = w;
            continue;
          }
          const t = await this.takeUpTo(`shape:ip:${destination}:${ip}`, 1, ipRate);
          if (t.granted) chosen = ip;
          else {
            wait = Math.min(wait, t.retryAfterMs);
            rateHeld = true;
          }
        }
        if (chosen) this.warmup?.count(job, chosen, now);
        if (chosen) granted.push({ job, sourceIp: chosen });
        else if (warm && !rateHeld) refused.push({ job, ...warm });
        else {
          const why = ips.length === 0 ? `no usable source IP in pool ${pool}${ipv4Only(job) ? ' (IPv4 only)' : ''} for ${provider}` : `every IP of pool ${pool} is at its ${provider} rate`;
          refused.push({ job, retryAt: now + wait, limit: `provider_ip:${provider}:${pool}`, reason: why });
        }
      }
    }
    return { granted, refused };
  }

  /**
   * The lane's own budgets from the tenant's policy: per (tenant, lane) and per (sender domain,
   * lane). Outreach takes its batch size as the tenant bucket's burst, so cold mail leaves in
   * small batches at the policy's pace rather than all at once.
   */
  private async laneBudgets(jobs: ClaimedJob[], now: number): Promise<{ pass: ClaimedJob[]; refused: Refusal[] }> {
    if (!this.lanePolicy) return { pass: jobs, refused: [] };
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
      const policy = await this.lanePolicy({ tenantId, lane: lane as Lane, domain: senderDomain }, now);
      const budgets: Array<{ bucket: string; rate: string | null; burst?: number; limit: string; what: string }> = [
        { bucket: `shape:tenant:${tenantId}:${lane}`, rate: policy.tenantRate, burst: policy.outreach?.batchSize, limit: `tenant:${tenantId}:${lane}`, what: `tenant ${tenantId}'s ${lane} budget` },
        { bucket: `shape:sender:${senderDomain}:${lane}`, rate: policy.senderDomainRate, limit: `sender_domain:${senderDomain}:${lane}`, what: `sender domain ${senderDomain}'s ${lane} budget` },
      ];
      let allowed = group.length;
      for (const b of budgets) {
        if (!b.rate || allowed === 0) continue;
        const ratePerSec = parseRate(b.rate);
        const taken = await this.takeUpTo(b.bucket, allowed, ratePerSec, b.burst ?? Math.max(1, Math.ceil(ratePerSec)));
        if (taken.granted >= allowed) continue;
        const spacing = 1000 / ratePerSec;
        const firstWait = Math.max(1, Math.min(taken.retryAfterMs, Math.ceil(spacing)));
        for (const [i, job] of group.slice(taken.granted, allowed).entries()) {
          refused.push({ job, retryAt: now + firstWait + Math.floor(i * spacing), limit: b.limit, reason: `${b.what} is spent (${b.rate}${b.burst ? `, batches of ${b.burst}` : ''})` });
        }
        allowed = taken.granted;
      }
      pass.push(...group.slice(0, allowed));
    }
    return { pass, refused };
  }

  private isSuspended(provider: string, ip: string, now: number) {
    const s = this.suspended.get(`${provider}|${ip}`);
    if (s && s.until <= now) this.suspended.delete(`${provider}|${ip}`);
    return Boolean(s && s.until > now);
  }

  /** Feeds a result's classification into AIMD and the breakers; returns what changed. */
  observe(job: { provider: string; domain: string; pool: string; senderDomain: string; lane?: string; tenantId?: string }, outcome: 'delivered' | 'deferred' | 'bounced', c: Classification | null, sourceIp: string | null, now: number): PolicyEvent[] {
    const events: PolicyEvent[] = [];
    const destination = destinationOf(job);
    const pp = `${destination}|${job.pool}`;
    const signal = outcome === 'delivered' ? 'accept' : c?.signal ?? 'none';
    // A reputation-based rate limit (Microsoft 451 4.7.650) is both: it counts as a block for the
    // breakers and asks for a slower rate, so AIMD cuts on it as on a throttle.
    const rateSignal = signal !== 'accept' && c?.poolAction === 'throttle' ? 'throttle' : signal;
    const step = onSignal(this.aimd(pp, now), rateSignal, this.aimdCfg, now);
    // Sustained acceptance climbs back to the table's rate, not past it.
    const ceiling = this.tableRate(destination);
    if (step.state.ratePerSec > ceiling) step.state.ratePerSec = ceiling;
    if (step.change && step.change.to > ceiling) step.change.to = ceiling;
    if (step.change && step.change.to === step.change.from) step.change = null;
    this.rates.set(pp, step.state);
    if (step.change) {
      events.push({ scope: 'provider_pool', key: pp, type: 'rate', from: `${(step.change.from * 60).toFixed(2)}/min`, to: `${(step.change.to * 60).toFixed(2)}/min`, reason: step.change.reason === 'throttle' ? `throttle reply (${c?.rule})` : 'sustained acceptance', at: now, data: { provider: job.provider, pool: job.pool } });
    }
    const counts = {
      sent: outcome === 'deferred' && signal !== 'block' ? 0 : 1,
      bounced: outcome === 'bounced' && c?.suppressRecipient ? 1 : 0,
      blocked: signal === 'block' ? 1 : 0,
    };
    this.warmup?.observe(job, sourceIp, counts);
    for (const key of [`pool:${job.pool}`, `domain:${job.senderDomain}`]) {
      let b = recordOutcome(this.breaker(key, now), counts, this.breakerCfg, now);
      if (c?.poolAction === 'slow_start' && key.startsWith('pool:') && b.state.state === 'closed') {
        const forced = forceBreaker(b.state, 'slow_start', `${c.class} reply (${c.rule})`, this.breakerCfg, now);
        b = { state: forced.state, events: [...b.events, ...forced.events] };
      }
      if (c?.poolAction === 'pause_domain' && key.startsWith('domain:') && b.state.state !== 'open') {
        const forced = forceBreaker(b.state, 'open', `${c.class} reply (${c.rule})`, this.breakerCfg, now);
        b = { state: forced.state, events: [...b.events, ...forced.events] };
      }
      this.breakers.set(key, b.state);
      events.push(...b.events.map((e) => this.breakerEvent(key, e)));
    }
    if (c?.poolAction === 'suspend_ip_for_provider' && sourceIp) {
      const until = now + 90 * 60_000;
      this.suspended.set(`${job.provider}|${sourceIp}`, { until, reason: c.rule });
      events.push({ scope: 'provider_ip', key: `${job.provider}|${sourceIp}`, type: 'suspend', from: null, to: new Date(until).toISOString(), reason: `${c.class} reply (${c.rule})`, at: now, data: { provider: job.provider, ip: sourceIp } });
    }
    if (counts.sent) events.push(...this.recordOutreach(job, { sent: counts.sent }, now));
    return events;
  }

  /** Time-driven breaker moves (cool-down over, slow-start doubling). */
  tick(now: number): PolicyEvent[] {
    const events: PolicyEvent[] = [];
    for (const [key, state] of this.breakers) {
      const step = evaluateBreaker(state, this.breakerConfigFor(key), now);
      this.breakers.set(key, step.state);
      events.push(...step.events.map((e) => this.breakerEvent(key, e)));
    }
    return events;
  }

  private breakerEvent(key: string, e: BreakerEvent): PolicyEvent {
    const [scope, name] = key.split(/:(.*)/s);
    const event: PolicyEvent = { scope: scope as 'pool' | 'domain', key: name, type: 'breaker', from: e.from, to: e.to, reason: e.reason, at: e.at, data: { metrics: e.metrics, rate_per_min: e.ratePerSec * 60 } };
    return scope === 'outreach' ? outreachEvent(event, this.breakerConfigFor(key)) : event;
  }

  snapshot(now: number) {
    return {
      breakers: [...this.breakers].map(([key, b]) => {
        const [scope, name] = key.split(/:(.*)/s);
        return { scope, key: name, state: b.state, since: new Date(b.since).toISOString(), rate_per_min: allowedRate(b, this.breakerCfg) * 60, open_until: b.openUntil ? new Date(b.openUntil).toISOString() : null };
      }),
      rates: [...this.rates].map(([key, s]) => {
        const [destination, pool] = key.split('|');
        return { provider: providerOfDestination(destination), destination, pool, rate_per_min: s.ratePerSec * 60 };
      }),
      suspended_ips: [...this.suspended].filter(([, s]) => s.until > now).map(([key, s]) => {
        const [provider, ip] = key.split('|');
        return { provider, ip, until: new Date(s.until).toISOString(), rule: s.reason };
      }),
    };
  }

  /**
   * After a restart: the breakers, adaptive rates and IP suspensions the stored policy events
   * (newest first) say were in force. Breakers resume where their last transition left them (the
   * tick moves them on); a rate is restored only while its last change is recent enough to stand.
   */
  restore(events: Array<{ scope: string; key: string; type: string; toState: string | null; at: number; data: unknown }>, now: number) {
    const seen = new Set<string>();
    for (const e of events) {
      const id = `${e.type}|${e.scope}|${e.key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const data = (e.data ?? {}) as { rate_per_min?: number; open_until?: number };
      if (e.type === 'breaker' && (e.toState === 'open' || e.toState === 'slow_start')) {
        const key = `${e.scope}:${e.key}`;
        const cfg = this.breakerConfigFor(key);
        this.breakers.set(key, {
          ...initialBreaker(e.at),
          state: e.toState,
          since: e.at,
          lastStepAt: e.at,
          ratePerSec: e.toState === 'slow_start' ? (data.rate_per_min ?? 0) / 60 || null : null,
          openUntil: e.toState === 'open' ? (data.open_until ?? e.at + cfg.coolDownMs) : null,
        });
      } else if (e.type === 'rate' && e.scope === 'provider_pool' && e.toState && now - e.at < this.aimdCfg.increaseIntervalMs * 10) {
        const perMin = Number.parseFloat(e.toState);
        if (Number.isFinite(perMin)) this.rates.set(e.key, { ...this.aimd(e.key, now), ratePerSec: perMin / 60 });
      } else if (e.type === 'suspend' && e.scope === 'provider_ip' && e.toState) {
        const until = Date.parse(e.toState);
        if (until > now) this.suspended.set(e.key, { until, reason: 'restored after restart' });
      }
    }
  }

  /** Test and operator hook: force a breaker (e.g. pause a pool by hand). */
  force(scope: 'pool' | 'domain', key: string, to: 'closed' | 'slow_start' | 'open', reason: string, now: number): PolicyEvent[] {
    const step = forceBreaker(this.breaker(`${scope}:${key}`, now), to, reason, this.breakerCfg, now);
    this.breakers.set(`${scope}:${key}`, step.state);
    return step.events.map((e) => this.breakerEvent(`${scope}:${key}`, e));
  }

  // -------------------------------------------------------------------------------------------
  // Feedback signals (SPEC §5): complaints (ARF) and late bounces (DSN) reach the same breakers
  // as delivery results; outreach also has its complaint pause (SPEC §4 guard-rails).

  /** Outreach pause rules last seen per breaker key (from the tenant's policy, with each complaint). */
  private readonly outreachRules = new Map<string, OutreachPauseRule>();

  /**
   * A spam complaint for a delivered job: counted as `complained` in the breakers of its pool
   * and sender domain (complaint rate = complained / sent in the window), and for outreach mail
   * in the tenant's and the sender domain's outreach pause.
   */
  complaint(
    job: { pool: string; senderDomain: string; lane?: string; tenantId?: string; provider?: string },
    now: number,
    outreach?: { tenant: OutreachPauseRule; domain: OutreachPauseRule },
  ): PolicyEvent[] {
    // A warming pool's day is judged on its complaints too (the source IP is not known here).
    if (job.provider) this.warmup?.recordComplaint(job.pool, null, job.provider);
    return [...this.recordPoolAndDomain(job, { complained: 1 }, now), ...this.recordOutreach(job, { complained: 1 }, now, outreach)];
  }

  /** A bounce that arrived after delivery (a DSN): the send was counted when it was accepted. */
  bounce(job: { pool: string; senderDomain: string }, now: number): PolicyEvent[] {
    return this.recordPoolAndDomain(job, { bounced: 1 }, now);
  }

  private recordPoolAndDomain(job: { pool: string; senderDomain: string }, counts: { complained?: number; bounced?: number }, now: number): PolicyEvent[] {
    const events: PolicyEvent[] = [];
    for (const key of [`pool:${job.pool}`, `domain:${job.senderDomain}`]) {
      const step = recordOutcome(this.breaker(key, now), counts, this.breakerCfg, now);
      this.breakers.set(key, step.state);
      events.push(...step.events.map((e) => this.breakerEvent(key, e)));
    }
    return events;
  }

  private outreachKeys(job: { senderDomain: string; tenantId?: string }) {
    return { tenant: `outreach:${job.tenantId}`, domain: `outreach:${job.tenantId}|${job.senderDomain}` };
  }

  /**
   * The outreach pause is a breaker per tenant and per (tenant, sender domain) whose only
   * threshold is the policy's `outreach.pauseOnComplaintRate` above `pauseMinVolume` sends;
   * crossing it opens the breaker (new sends refused at the API, queued ones held here) until
   * the cool-down, then slow start watches for a relapse.
   */
  private recordOutreach(
    job: { senderDomain: string; lane?: string; tenantId?: string },
    counts: { sent?: number; complained?: number },
    now: number,
    rules?: { tenant: OutreachPauseRule; domain: OutreachPauseRule },
  ): PolicyEvent[] {
    if (job.lane !== 'outreach' || !job.tenantId) return [];
    const keys = this.outreachKeys(job);
    const events: PolicyEvent[] = [];
    for (const which of ['tenant', 'domain'] as const) {
      const key = keys[which];
      if (rules) this.outreachRules.set(key, rules[which]);
      const cfg = this.breakerConfigFor(key);
      const step = recordOutcome(this.breaker(key, now), counts, cfg, now);
      this.breakers.set(key, step.state);
      events.push(...step.events.map((e) => this.breakerEvent(key, e)));
    }
    return events;
  }

  private breakerConfigFor(key: string): BreakerConfig {
    if (!key.startsWith('outreach:')) return this.breakerCfg;
    return outreachBreakerConfig(this.breakerCfg, this.outreachRules.get(key) ?? DEFAULT_OUTREACH_GUARD);
  }

  /** An outreach job whose tenant or sender domain is paused goes back to the queue until the pause ends. */
  private outreachHold(job: ClaimedJob, now: number): Refusal | null {
    if (job.lane !== 'outreach') return null;
    for (const key of Object.values(this.outreachKeys(job))) {
      const b = this.breakers.get(key);
      if (b?.state !== 'open') continue;
      const until = b.openUntil ?? now + 60_000;
      return { job, retryAt: until, limit: `outreach_pause:${key.slice('outreach:'.length)}`, reason: `outreach ${key.includes('|') ? `from ${job.senderDomain}` : 'of this tenant'} is paused: complaint rate over the policy's outreach.pauseOnComplaintRate; held until ${new Date(until).toISOString()}` };
    }
    return null;
  }
}

/** The breaker behind the outreach pause: the shaper's clock (window, cool-down), the policy's thresholds. */
export function outreachBreakerConfig(base: BreakerConfig, rule: OutreachPauseRule): BreakerConfig {
  // Only complaints pause outreach here; bounces and blocks have the pool and domain breakers.
  const t = { complaintRate: rule.pauseOnComplaintRate, bounceRate: 1, blocks: Number.MAX_SAFE_INTEGER };
  return { ...base, minVolume: rule.pauseMinVolume, slowStartOn: t, openOn: t };
}

/** An outreach pause's event says so in words, with the policy that tripped it and when it lifts. */
function outreachEvent(event: PolicyEvent, cfg: BreakerConfig): PolicyEvent {
  const rule = { pause_on_complaint_rate: cfg.openOn.complaintRate, pause_min_volume: cfg.minVolume };
  const metrics = event.data.metrics as { sent: number; complained: number };
  if (event.to === 'open') {
    const until = event.at + cfg.coolDownMs;
    return {
      ...event,
      scope: 'outreach',
      reason: `outreach paused: ${event.reason} over ${metrics.sent} sends (policy outreach.pauseOnComplaintRate ${cfg.openOn.complaintRate}, pauseMinVolume ${cfg.minVolume}); resumes under watch at ${new Date(until).toISOString()}`,
      data: { ...event.data, open_until: until, rule },
    };
  }
  return { ...event, scope: 'outreach', reason: event.from === 'open' ? `outreach pause lifted (${event.reason}); a relapse pauses again` : event.reason, data: { ...event.data, rule } };
}
