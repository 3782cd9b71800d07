/**
 * Token bucket arithmetic, nothing else: the in-process limiter and the Durable Object counter
 * both hold a `BucketState` and call `take`. Tokens refill continuously at `ratePerSec` up to
 * `burst`; a request for n tokens is granted whole or not at all.
 *
 * Pure: time is a parameter, so the same function gives the same answer on every edge.
 */
export interface BucketState {
  tokens: number;
  /** Epoch ms of the last refill. Never moves backwards (clock skew between callers). */
  updatedAt: number;
}

export interface BucketConfig {
  ratePerSec: number;
  /** Capacity: the most that can be taken at once after a quiet period. */
  burst: number;
}

export interface TakeResult {
  granted: boolean;
  state: BucketState;
  /**
   * 0 when granted; otherwise how long until n tokens will be there. Infinity when they never
   * will (n above burst, or a zero rate): the caller must split the request or give up.
   */
  retryAfterMs: number;
}

/** A bucket that starts full, so a new key is not penalised. */
export function fullBucket(config: BucketConfig, now: number): BucketState {
  return { tokens: config.burst, updatedAt: now };
}

/** The state as of `now`: tokens added for the time elapsed, capped at burst. */
export function refill(state: BucketState, now: number, config: BucketConfig): BucketState {
  const elapsedMs = Math.max(0, now - state.updatedAt);
  const tokens = Math.min(config.burst, state.tokens + (elapsedMs / 1000) * config.ratePerSec);
  return { tokens, updatedAt: Math.max(state.updatedAt, now) };
}

export function take(state: BucketState | null, n: number, now: number, config: BucketConfig): TakeResult {
  if (!(n >= 0)) throw new RangeError(`token count ${n} must be >= 0`);
  const current = refill(state ?? fullBucket(config, now), now, config);
  if (current.tokens >= n) {
    return { granted: true, state: { tokens: current.tokens - n, updatedAt: current.updatedAt }, retryAfterMs: 0 };
  }
  if (n > config.burst || config.ratePerSec <= 0) return { granted: false, state: current, retryAfterMs: Infinity };
  const retryAfterMs = Math.ceil(((n - current.tokens) / config.ratePerSec) * 1000);
  return { granted: false, state: current, retryAfterMs };
}

/** Give back tokens taken for work that did not happen (a lease that was refused). */
export function refund(state: BucketState, n: number, config: BucketConfig): BucketState {
  return { tokens: Math.min(config.burst, state.tokens + Math.max(0, n)), updatedAt: state.updatedAt };
}

/** Tokens available at `now` without taking any. */
export function available(state: BucketState | null, now: number, config: BucketConfig): number {
  return state ? refill(state, now, config).tokens : config.burst;
}
