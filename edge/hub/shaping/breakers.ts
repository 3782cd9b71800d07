/**
 * The circuit breakers of one shaper, by key: `pool:<name>`, `domain:<tenant>|<sender domain>` and the
 * outreach pause's `outreach:<tenant>[|<sender domain>]`. The transitions are the pure functions
 * of shared/policy/breaker.ts; this book keeps their state and turns their events into policy
 * events. Which thresholds a key runs on, and how its events read, is the scheme's business (the
 * outreach pause has its own), so this file knows nothing of outreach.
 */
import {
  allowedRate,
  evaluateBreaker,
  forceBreaker,
  initialBreaker,
  recordOutcome,
  type BreakerConfig,
  type BreakerState,
  type BreakerStateName,
  type BreakerStep,
  type Counts,
} from '../../../shared/policy/breaker.ts';
import { breakerPolicyEvent, type PolicyEvent } from './policy-event.ts';

export interface BreakerScheme {
  configFor(key: string): BreakerConfig;
  present(key: string, event: PolicyEvent): PolicyEvent;
}

export class BreakerBook {
  private readonly states = new Map<string, BreakerState>();

  constructor(
    /** The shaper's own thresholds: pool and sender-domain breakers, and every reported rate. */
    readonly base: BreakerConfig,
    private readonly scheme: BreakerScheme,
  ) {}

  /** A key's breaker, created closed on first use (so it shows in snapshots and ticks from then on). */
  get(key: string, now: number): BreakerState {
    let b = this.states.get(key);
    if (!b) this.states.set(key, (b = initialBreaker(now)));
    return b;
  }

  /** A key's breaker if it has one; never creates it. */
  peek(key: string): BreakerState | undefined {
    return this.states.get(key);
  }

  entries(): IterableIterator<[string, BreakerState]> {
    return this.states.entries();
  }

  configFor(key: string): BreakerConfig {
    return this.scheme.configFor(key);
  }

  /** The rate a breaker allows now; a closed breaker sets no limit of its own. */
  rateLimit(key: string, now: number): number {
    const b = this.get(key, now);
    return b.state === 'closed' ? Infinity : allowedRate(b, this.base);
  }

  /** Keeps a step's new state and returns its events in stored form. */
  apply(key: string, step: BreakerStep): PolicyEvent[] {
    this.states.set(key, step.state);
    return step.events.map((e) => this.scheme.present(key, breakerPolicyEvent(key, e)));
  }

  record(key: string, counts: Partial<Counts>, now: number): PolicyEvent[] {
    return this.apply(key, recordOutcome(this.get(key, now), counts, this.configFor(key), now));
  }

  force(key: string, to: BreakerStateName, reason: string, now: number): PolicyEvent[] {
    return this.apply(key, forceBreaker(this.get(key, now), to, reason, this.configFor(key), now));
  }

  /** Time-driven moves (cool-down over, slow-start doubling). */
  tick(now: number): PolicyEvent[] {
    const events: PolicyEvent[] = [];
    for (const [key, state] of this.states) events.push(...this.apply(key, evaluateBreaker(state, this.configFor(key), now)));
    return events;
  }

  /** After a restart: a breaker resumes in the state its last stored transition left it in. */
  resume(key: string, to: 'open' | 'slow_start', at: number, data: { rate_per_min?: number; open_until?: number }) {
    this.states.set(key, {
      ...initialBreaker(at),
      state: to,
      since: at,
      lastStepAt: at,
      ratePerSec: to === 'slow_start' ? (data.rate_per_min ?? 0) / 60 || null : null,
      openUntil: to === 'open' ? (data.open_until ?? at + this.configFor(key).coolDownMs) : null,
    });
  }
}
