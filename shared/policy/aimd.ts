/**
 * Adaptive rate per (provider, pool) or (provider, source IP): additive increase,
 * multiplicative decrease, the way TCP finds a link's capacity. A throttle reply cuts the rate
 * by `decreaseFactor`; sustained acceptance adds `increase`; the rate stays within
 * [floor, ceiling] (the Shaper starts at the provider table's `ratePerPool` and bounds it by the
 * provider's shaping `ceiling`, edge/hub/shaping/reputation-state.ts).
 *
 * Pure state transitions; the caller keeps one `AimdState` per key and feeds it signals.
 */
import { parseDuration, parseRate } from './units.ts';

export interface AimdPolicy {
  /** Lowest rate we fall to ("1/min"): never zero, or we would never learn it recovered. */
  floor: string;
  /** Highest rate ("600/min"): the provider table's configured rate. */
  ceiling: string;
  /** Where a new key starts: low enough to be safe with a provider we have not heard from. */
  start: string;
  /** Multiplier on a throttle, 0 < f < 1. */
  decreaseFactor: number;
  /** Added after each run of sustained acceptance ("6/min"). */
  increase: string;
  /** Accepts needed since the last change before an increase. */
  acceptsPerIncrease: number;
  /** And at least this long since the last change, so a fast pool does not ramp in seconds. */
  increaseInterval: string;
  /**
   * Throttles within this long of a decrease are the same congestion event (replies to mail
   * sent at the old rate): one cut per event, as TCP cuts once per round trip.
   */
  decreaseHoldoff: string;
}

export const DEFAULT_AIMD: AimdPolicy = {
  floor: '1/min',
  ceiling: '600/min',
  start: '60/min',
  decreaseFactor: 0.5,
  increase: '6/min',
  acceptsPerIncrease: 20,
  increaseInterval: '1m',
  decreaseHoldoff: '1m',
};

export interface AimdConfig {
  floorPerSec: number;
  ceilingPerSec: number;
  startPerSec: number;
  decreaseFactor: number;
  increasePerSec: number;
  acceptsPerIncrease: number;
  increaseIntervalMs: number;
  decreaseHoldoffMs: number;
}

export function aimdConfig(p: AimdPolicy = DEFAULT_AIMD): AimdConfig {
  const c: AimdConfig = {
    floorPerSec: parseRate(p.floor),
    ceilingPerSec: parseRate(p.ceiling),
    startPerSec: parseRate(p.start),
    decreaseFactor: p.decreaseFactor,
    increasePerSec: parseRate(p.increase),
    acceptsPerIncrease: p.acceptsPerIncrease,
    increaseIntervalMs: parseDuration(p.increaseInterval),
    decreaseHoldoffMs: parseDuration(p.decreaseHoldoff),
  };
  if (!(c.floorPerSec > 0)) throw new RangeError(`aimd floor "${p.floor}" must be above zero`);
  if (c.ceilingPerSec < c.floorPerSec) throw new RangeError(`aimd ceiling "${p.ceiling}" is below floor "${p.floor}"`);
  if (!(c.decreaseFactor > 0 && c.decreaseFactor < 1)) throw new RangeError(`aimd decreaseFactor ${p.decreaseFactor} must be within (0, 1)`);
  if (!(c.acceptsPerIncrease >= 1)) throw new RangeError(`aimd acceptsPerIncrease ${p.acceptsPerIncrease} must be >= 1`);
  return c;
}

export interface AimdState {
  ratePerSec: number;
  acceptsSinceChange: number;
  lastChangeAt: number;
  lastDecreaseAt: number | null;
}

export interface AimdChange {
  from: number;
  to: number;
  reason: 'throttle' | 'sustained_acceptance';
  at: number;
}

export interface AimdStep {
  state: AimdState;
  /** Present when the rate moved; callers log it beside the pool's events. */
  change: AimdChange | null;
}

const clamp = (x: number, c: AimdConfig) => Math.min(c.ceilingPerSec, Math.max(c.floorPerSec, x));

export function initialAimd(config: AimdConfig, now: number): AimdState {
  return { ratePerSec: clamp(config.startPerSec, config), acceptsSinceChange: 0, lastChangeAt: now, lastDecreaseAt: null };
}

/** A delivery the provider accepted. */
export function onAccept(state: AimdState, config: AimdConfig, now: number): AimdStep {
  const accepts = state.acceptsSinceChange + 1;
  const due = accepts >= config.acceptsPerIncrease && now - state.lastChangeAt >= config.increaseIntervalMs;
  if (!due || state.ratePerSec >= config.ceilingPerSec) {
    return { state: { ...state, acceptsSinceChange: accepts }, change: null };
  }
  const to = clamp(state.ratePerSec + config.increasePerSec, config);
  return {
    state: { ...state, ratePerSec: to, acceptsSinceChange: 0, lastChangeAt: now },
    change: { from: state.ratePerSec, to, reason: 'sustained_acceptance', at: now },
  };
}

/** A throttle reply (classifier signal `throttle`). */
export function onThrottle(state: AimdState, config: AimdConfig, now: number): AimdStep {
  if (state.lastDecreaseAt !== null && now - state.lastDecreaseAt < config.decreaseHoldoffMs) {
    return { state: { ...state, acceptsSinceChange: 0 }, change: null };
  }
  const to = clamp(state.ratePerSec * config.decreaseFactor, config);
  return {
    state: { ratePerSec: to, acceptsSinceChange: 0, lastChangeAt: now, lastDecreaseAt: now },
    change: to === state.ratePerSec ? null : { from: state.ratePerSec, to, reason: 'throttle', at: now },
  };
}

/** Dispatch on the classifier's breaker signal; bounces and blocks are the breaker's business. */
export function onSignal(state: AimdState, signal: 'accept' | 'throttle' | 'block' | 'bounce' | 'none', config: AimdConfig, now: number): AimdStep {
  if (signal === 'accept') return onAccept(state, config, now);
  if (signal === 'throttle') return onThrottle(state, config, now);
  return { state, change: null };
}
