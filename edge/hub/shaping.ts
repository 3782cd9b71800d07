/**
 * Reputation-aware shaping, applied where leases are granted. The decisions are the pure
 * functions of shared/policy (scheduler, AIMD, breakers, send windows, provider table); the
 * parts under ./shaping/ keep their state per key and take tokens through the Counters port, so
 * every edge instance shares the same budgets (Durable Objects on Workers, memory on Node).
 *
 * Keys: AIMD per (provider, pool); breakers per pool and per sender domain; token buckets per
 * (provider, pool) and per (provider, source IP).
 *
 * This file is the Shaper the hub and the entries hold: it wires the parts together and answers
 * for them, so its importers need not know how shaping is cut up.
 *   ./shaping/admission.ts         admit: send windows, lane budgets, pool and IP buckets
 *   ./shaping/reputation-state.ts  AIMD rates, breakers, suspensions: observe, tick, restore
 *   ./shaping/breakers.ts          the breaker book both of them read
 *   ./shaping/outreach-pause.ts    the complaint pause of the outreach lane
 *   ./shaping/policy-event.ts      PolicyEvent and Refusal, shared with the warm-up gate
 */
import type { Counters } from '../ports/counters.ts';
import type { OutreachPauseRule } from '../ports/lease-hub.ts';
import type { ClaimedJob } from '../ports/store.ts';
import { DEFAULT_LANE_WEIGHTS, type Demand, type LaneWeights } from '../../shared/policy/scheduler.ts';
import { aimdConfig, DEFAULT_AIMD, type AimdConfig } from '../../shared/policy/aimd.ts';
import { breakerConfig, type BreakerConfig } from '../../shared/policy/breaker.ts';
import { DEFAULT_SHAPING_POLICY, shapingFor, type ShapingPolicy } from '../../shared/policy/providers.ts';
import type { Classification } from '../../shared/policy/classifier.ts';
import type { SmtpReply } from '../../shared/protocol.ts';
import type { WarmupGate } from './warmup.ts';
import { Admission, type LanePolicyLookup } from './shaping/admission.ts';
import { ReputationState } from './shaping/reputation-state.ts';
import type { PolicyEvent } from './shaping/policy-event.ts';

export type { PolicyEvent, Refusal } from './shaping/policy-event.ts';
export type { LanePolicyLookup } from './shaping/admission.ts';
export { destinationOf } from './shaping/reputation-state.ts';
export { outreachBreakerConfig } from './shaping/outreach-pause.ts';

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

/** AIMD starts at the provider table's rate and climbs to the provider's ceiling (reputation-state.ts); its own ceiling is only a sanity bound. */
const AIMD_DEFAULTS = aimdConfig({ ...DEFAULT_AIMD, ceiling: '1000000/min' });

export class Shaper {
  private readonly policy: ShapingPolicy;
  private readonly reputation: ReputationState;
  private readonly admission: Admission;
  /** Warm-up caps and spacing; complaint intake reports complaints through it. */
  readonly warmup: WarmupGate | null;

  constructor(opts: ShaperOptions) {
    this.warmup = opts.warmup ?? null;
    this.policy = opts.policy ?? DEFAULT_SHAPING_POLICY;
    this.reputation = new ReputationState({
      policy: this.policy,
      aimd: opts.aimd ?? AIMD_DEFAULTS,
      breaker: opts.breaker ?? breakerConfig(),
      warmup: this.warmup,
    });
    this.admission = new Admission({
      counters: opts.counters,
      policy: this.policy,
      weights: opts.weights ?? DEFAULT_LANE_WEIGHTS,
      random: opts.random ?? Math.random,
      lanePolicy: opts.lanePolicy ?? null,
      warmup: this.warmup,
      reputation: this.reputation,
    });
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
    return this.admission.quotas(credits, demand);
  }

  /** (provider, pool) pairs not to claim now. */
  excluded(now: number): Array<{ provider: string; pool: string; domain?: string }> {
    return this.admission.excluded(now);
  }

  /** The rate a (provider, pool) may send at now for a tenant's sender domain: the tightest of table, AIMD and breakers. */
  rateFor(destination: string, pool: string, tenantId: string, fromDomain: string, now: number): { ratePerSec: number; limitedBy: string } {
    return this.reputation.rateFor(destination, pool, tenantId, fromDomain, now);
  }

  /**
   * Decides which claimed jobs go out now and from which IP. Jobs held back go back to the queue
   * with the limit that held them, for their trace.
   */
  admit(jobs: ClaimedJob[], ipsByPool: Map<string, string[]>, now: number) {
    return this.admission.admit(jobs, ipsByPool, now);
  }

  /**
   * Feeds a result's classification into AIMD and the breakers, and its reply into the
   * provider's automation rules (suspend an IP, tighter shaping, pause a domain, alert, each for
   * the rule's duration); returns what changed.
   */
  observe(
    job: { provider: string; domain: string; pool: string; senderDomain: string; lane?: string; tenantId: string },
    outcome: 'delivered' | 'deferred' | 'bounced',
    c: Classification | null,
    sourceIp: string | null,
    now: number,
    reply: SmtpReply | null = null,
  ): PolicyEvent[] {
    return this.reputation.observe(job, outcome, c, sourceIp, now, reply);
  }

  /** Time-driven breaker moves (cool-down over, slow-start doubling). */
  tick(now: number): PolicyEvent[] {
    return this.reputation.tick(now);
  }

  snapshot(now: number) {
    return this.reputation.snapshot(now);
  }

  /** After a restart: the breakers, adaptive rates and IP suspensions the stored policy events (newest first) say were in force. */
  restore(events: Array<{ scope: string; key: string; type: string; toState: string | null; at: number; data: unknown }>, now: number) {
    this.reputation.restore(events, now);
  }

  /** Test and operator hook: force a breaker (e.g. pause a pool by hand); a domain's key is `<tenant>|<domain>`. */
  force(scope: 'pool' | 'domain', key: string, to: 'closed' | 'slow_start' | 'open', reason: string, now: number): PolicyEvent[] {
    return this.reputation.force(scope, key, to, reason, now);
  }

  // Feedback signals (SPEC §5): complaints (ARF) and late bounces (DSN) reach the same breakers
  // as delivery results; outreach also has its complaint pause (SPEC §4 guard-rails).

  /** A spam complaint for a delivered job: its pool's and sender domain's breakers, and for outreach its pauses. */
  complaint(
    job: { pool: string; senderDomain: string; lane?: string; tenantId: string; provider?: string },
    now: number,
    outreach?: { tenant: OutreachPauseRule; domain: OutreachPauseRule },
  ): PolicyEvent[] {
    return this.reputation.complaint(job, now, outreach);
  }

  /** A bounce that arrived after delivery (a DSN): the send was counted when it was accepted. */
  bounce(job: { pool: string; senderDomain: string; tenantId: string }, now: number): PolicyEvent[] {
    return this.reputation.bounce(job, now);
  }
}
