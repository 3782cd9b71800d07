/**
 * Reputation health against a trailing baseline, and spike detection (pure). A rate is events
 * over volume (deferrals over attempts, complaints over deliveries); the current window is
 * compared with the baseline period before it.
 */

export interface RateSample {
  /** Deferrals, hard bounces or complaints. */
  events: number;
  /** What they are a share of: attempts, or deliveries for complaints. */
  volume: number;
}

export function rateOf(s: RateSample): number | null {
  return s.volume > 0 ? s.events / s.volume : null;
}

export type HealthState = 'good' | 'watch' | 'bad';

export interface HealthThresholds {
  /** Absolute rates: at or above `watch` the signal is watched, at or above `bad` it is bad. */
  watch: number;
  bad: number;
  /** Current over baseline: this many times the baseline (and at least half of `watch`) is watched, `badRatio` with `watch` reached is bad. */
  watchRatio: number;
  badRatio: number;
  /** Below this volume in the current window the signal is not judged (state good, `low_volume`). */
  minVolume: number;
}

export interface SignalHealth {
  current: number | null;
  baseline: number | null;
  /** current − baseline (null when either is unknown). */
  deviation: number | null;
  /** current / baseline (null when the baseline is 0 or unknown). */
  ratio: number | null;
  volume: number;
  low_volume: boolean;
  state: HealthState;
}

const round = (v: number | null, digits = 6) => (v === null ? null : Math.round(v * 10 ** digits) / 10 ** digits);

/** A rate's health: absolute thresholds first, then the deviation from the baseline. */
export function rateHealth(current: RateSample, baseline: RateSample, t: HealthThresholds): SignalHealth {
  const now = rateOf(current);
  const base = rateOf(baseline);
  return judge(now, base, current.volume, t);
}

/** A latency's health (e.g. p50 time to accept, ms): judged by its ratio to the baseline only. */
export function latencyHealth(currentMs: number | null, baselineMs: number | null, volume: number, t: Pick<HealthThresholds, 'watchRatio' | 'badRatio' | 'minVolume'>): SignalHealth {
  return judge(currentMs, baselineMs, volume, { ...t, watch: Number.POSITIVE_INFINITY, bad: Number.POSITIVE_INFINITY }, true);
}

function judge(now: number | null, base: number | null, volume: number, t: HealthThresholds, ratioOnly = false): SignalHealth {
  const deviation = now !== null && base !== null ? now - base : null;
  const ratio = now !== null && base !== null && base > 0 ? now / base : null;
  const low = volume < t.minVolume;
  let state: HealthState = 'good';
  if (!low && now !== null) {
    const r = ratio ?? (base === 0 && now > 0 ? Number.POSITIVE_INFINITY : 0);
    if (ratioOnly) state = r >= t.badRatio ? 'bad' : r >= t.watchRatio ? 'watch' : 'good';
    else if (now >= t.bad || (r >= t.badRatio && now >= t.watch)) state = 'bad';
    else if (now >= t.watch || (r >= t.watchRatio && now >= t.watch / 2)) state = 'watch';
  }
  return { current: round(now), baseline: round(base), deviation: round(deviation), ratio: round(ratio, 3), volume, low_volume: low, state };
}

/** The worst of several states. */
export function worstState(states: HealthState[]): HealthState {
  return states.includes('bad') ? 'bad' : states.includes('watch') ? 'watch' : 'good';
}

export interface SpikeRule {
  /** The trailing window the current rate is measured over. */
  windowMs: number;
  /** Fewer attempts (deliveries for complaints) than this in the window never trip: the minimum-volume guard. */
  minVolume: number;
  /** Trips at this many times the baseline rate… */
  factor: number;
  /** …and never below this rate. */
  minRate: number;
  /** Resolves once the rate is below this share of the trip threshold (hysteresis). */
  resolveBelow: number;
}

export interface SpikeReading {
  events: number;
  volume: number;
  rate: number | null;
  baseline_rate: number | null;
  threshold: number;
  window_ms: number;
}

export function spikeReading(current: RateSample, baseline: RateSample, rule: SpikeRule): SpikeReading {
  const base = rateOf(baseline);
  return {
    events: current.events,
    volume: current.volume,
    rate: round(rateOf(current)),
    baseline_rate: round(base),
    threshold: round(Math.max(rule.minRate, (base ?? 0) * rule.factor))!,
    window_ms: rule.windowMs,
  };
}

export function spikeTripped(r: SpikeReading, rule: SpikeRule): boolean {
  return r.volume >= rule.minVolume && r.rate !== null && r.rate >= r.threshold;
}

/** An open spike alert resolves when the rate is back well under the threshold, or none of its events remain in the window. */
export function spikeResolved(r: SpikeReading, rule: SpikeRule): boolean {
  if (r.events === 0) return true;
  return r.volume >= rule.minVolume && r.rate !== null && r.rate < r.threshold * rule.resolveBelow;
}
