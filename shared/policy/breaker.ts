/**
 * Circuit breaker with slow start, per pool and per sender domain (SPEC §4; seed article
 * "Circuit breakers and slow starts per pool ... mirrors TCP congestion control").
 *
 *   closed ──(threshold crossed)──▶ slow_start ──(healthy, rate doubled up to full)──▶ closed
 *      │                              │  ▲
 *      └──(severe threshold)──▶ open ◀┘  └──(cool-down over)── open
 *
 * Counts (sent, bounced, complained, blocked) live in time buckets over a sliding window.
 * Rate thresholds only apply above a minimum volume (3 bounces out of 10 sends say little);
 * block replies are counted absolutely. Every state change comes back as an event for the
 * caller to store and show; nothing here does I/O.
 */
import { parseDuration, parseRate } from './units.ts';

export type BreakerStateName = 'closed' | 'slow_start' | 'open';

export interface BreakerThresholds {
  /** complained / sent, e.g. 0.003 = 0.3 %. */
  complaintRate: number;
  /** bounced / sent. */
  bounceRate: number;
  /** Block replies (classifier signal `block`) in the window. */
  blocks: number;
}

export interface BreakerPolicy {
  window: string;
  bucket: string;
  /** Sends in the window before the rate thresholds are judged. */
  minVolume: number;
  slowStartOn: BreakerThresholds;
  openOn: BreakerThresholds;
  coolDown: string;
  /** While healthy in slow start, the rate doubles once per interval. */
  slowStartInterval: string;
  /** Where slow start begins. */
  floor: string;
  /** Rate at which slow start ends and the breaker closes. */
  full: string;
}

export const DEFAULT_BREAKER: BreakerPolicy = {
  window: '1h',
  bucket: '5m',
  minVolume: 200,
  // Google and Yahoo bulk-sender rules ask senders to stay under 0.3 % spam complaints.
  slowStartOn: { complaintRate: 0.003, bounceRate: 0.05, blocks: 5 },
  openOn: { complaintRate: 0.01, bounceRate: 0.1, blocks: 20 },
  coolDown: '1h',
  slowStartInterval: '15m',
  floor: '10/min',
  full: '600/min',
};

export interface BreakerConfig {
  windowMs: number;
  bucketMs: number;
  minVolume: number;
  slowStartOn: BreakerThresholds;
  openOn: BreakerThresholds;
  coolDownMs: number;
  slowStartIntervalMs: number;
  floorPerSec: number;
  fullPerSec: number;
}

export function breakerConfig(p: BreakerPolicy = DEFAULT_BREAKER): BreakerConfig {
  const c: BreakerConfig = {
    windowMs: parseDuration(p.window),
    bucketMs: parseDuration(p.bucket),
    minVolume: p.minVolume,
    slowStartOn: p.slowStartOn,
    openOn: p.openOn,
    coolDownMs: parseDuration(p.coolDown),
    slowStartIntervalMs: parseDuration(p.slowStartInterval),
    floorPerSec: parseRate(p.floor),
    fullPerSec: parseRate(p.full),
  };
  if (!(c.bucketMs > 0 && c.windowMs >= c.bucketMs)) throw new RangeError(`breaker window "${p.window}" must be at least one bucket "${p.bucket}"`);
  if (!(c.floorPerSec > 0 && c.fullPerSec >= c.floorPerSec)) throw new RangeError(`breaker floor "${p.floor}" must be above zero and not above full "${p.full}"`);
  return c;
}

export interface Counts {
  sent: number;
  bounced: number;
  complained: number;
  blocked: number;
}

export interface Bucket extends Counts {
  start: number;
}

export interface BreakerMetrics extends Counts {
  bounceRate: number;
  complaintRate: number;
}

export interface BreakerState {
  state: BreakerStateName;
  since: number;
  buckets: Bucket[];
  /** Current slow-start rate; null when closed (full rate) or open (nothing). */
  ratePerSec: number | null;
  lastStepAt: number | null;
  openUntil: number | null;
}

export interface BreakerEvent {
  from: BreakerStateName;
  to: BreakerStateName;
  reason: string;
  at: number;
  metrics: BreakerMetrics;
  /** Rate allowed after the transition (0 when open). */
  ratePerSec: number;
}

export interface BreakerStep {
  state: BreakerState;
  events: BreakerEvent[];
}

export function initialBreaker(now: number): BreakerState {
  return { state: 'closed', since: now, buckets: [], ratePerSec: null, lastStepAt: null, openUntil: null };
}

function prune(buckets: Bucket[], config: BreakerConfig, now: number): Bucket[] {
  return buckets.filter((b) => b.start > now - config.windowMs);
}

export function metricsOf(state: BreakerState, config: BreakerConfig, now: number): BreakerMetrics {
  const sum: Counts = { sent: 0, bounced: 0, complained: 0, blocked: 0 };
  for (const b of prune(state.buckets, config, now)) {
    sum.sent += b.sent;
    sum.bounced += b.bounced;
    sum.complained += b.complained;
    sum.blocked += b.blocked;
  }
  return { ...sum, bounceRate: sum.sent ? sum.bounced / sum.sent : 0, complaintRate: sum.sent ? sum.complained / sum.sent : 0 };
}

/** The first threshold crossed, as a reason string; null when within all of them. */
function crossed(m: BreakerMetrics, t: BreakerThresholds, minVolume: number): string | null {
  if (m.blocked >= t.blocks) return `${m.blocked} block replies >= ${t.blocks}`;
  if (m.sent < minVolume) return null;
  if (m.complaintRate > t.complaintRate) return `complaint rate ${pct(m.complaintRate)} > ${pct(t.complaintRate)}`;
  if (m.bounceRate > t.bounceRate) return `bounce rate ${pct(m.bounceRate)} > ${pct(t.bounceRate)}`;
  return null;
}
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** What the caller may send at now. */
export function allowedRate(state: BreakerState, config: BreakerConfig): number {
  if (state.state === 'open') return 0;
  if (state.state === 'slow_start') return state.ratePerSec ?? config.floorPerSec;
  return config.fullPerSec;
}

/**
 * Moves to a new state. The window is emptied on every transition: the event keeps the counts
 * that caused it, and the next decision must rest on what happened after, or slow start could
 * never see itself healthy while the bad hour is still in the window.
 */
function go(state: BreakerState, to: BreakerStateName, reason: string, config: BreakerConfig, now: number, metrics: BreakerMetrics): BreakerStep {
  const next: BreakerState = {
    state: to,
    since: now,
    buckets: [],
    ratePerSec: to === 'slow_start' ? config.floorPerSec : null,
    lastStepAt: to === 'slow_start' ? now : null,
    openUntil: to === 'open' ? now + config.coolDownMs : null,
  };
  return { state: next, events: [{ from: state.state, to, reason, at: now, metrics, ratePerSec: allowedRate(next, config) }] };
}

/** Time- and threshold-driven transitions. Call on each record and from a periodic tick. */
export function evaluateBreaker(state: BreakerState, config: BreakerConfig, now: number): BreakerStep {
  const current = { ...state, buckets: prune(state.buckets, config, now) };
  const m = metricsOf(current, config, now);
  if (current.state === 'closed') {
    const severe = crossed(m, config.openOn, config.minVolume);
    if (severe) return go(current, 'open', severe, config, now, m);
    const warn = crossed(m, config.slowStartOn, config.minVolume);
    if (warn) return go(current, 'slow_start', warn, config, now, m);
    return { state: current, events: [] };
  }
  if (current.state === 'open') {
    if (now >= (current.openUntil ?? now)) return go(current, 'slow_start', 'cool-down over', config, now, m);
    return { state: current, events: [] };
  }
  // slow_start: a relapse opens the breaker; otherwise double once per healthy interval.
  const relapse = crossed(m, config.openOn, config.minVolume) ?? crossed(m, config.slowStartOn, config.minVolume);
  if (relapse) return go(current, 'open', `relapse in slow start: ${relapse}`, config, now, m);
  let rate = current.ratePerSec ?? config.floorPerSec;
  let lastStepAt = current.lastStepAt ?? current.since;
  while (now - lastStepAt >= config.slowStartIntervalMs) {
    rate *= 2;
    lastStepAt += config.slowStartIntervalMs;
    if (rate >= config.fullPerSec) return go(current, 'closed', 'slow start reached full rate', config, now, m);
  }
  return { state: { ...current, ratePerSec: rate, lastStepAt }, events: [] };
}

/** Adds outcomes to the current bucket, then evaluates. */
export function recordOutcome(state: BreakerState, counts: Partial<Counts>, config: BreakerConfig, now: number): BreakerStep {
  const start = Math.floor(now / config.bucketMs) * config.bucketMs;
  const buckets = prune(state.buckets, config, now).map((b) => ({ ...b }));
  let bucket = buckets.find((b) => b.start === start);
  if (!bucket) {
    bucket = { start, sent: 0, bounced: 0, complained: 0, blocked: 0 };
    buckets.push(bucket);
  }
  bucket.sent += counts.sent ?? 0;
  bucket.bounced += counts.bounced ?? 0;
  bucket.complained += counts.complained ?? 0;
  bucket.blocked += counts.blocked ?? 0;
  return evaluateBreaker({ ...state, buckets }, config, now);
}

/** An operator or a classifier pool action forces a state (e.g. `slow_start` on domain reputation). */
export function forceBreaker(state: BreakerState, to: BreakerStateName, reason: string, config: BreakerConfig, now: number): BreakerStep {
  if (state.state === to) return { state, events: [] };
  return go(state, to, reason, config, now, metricsOf(state, config, now));
}
