/**
 * When a deferred delivery is tried again. Exponential backoff with full jitter on the upper
 * half (so synchronized retries spread out), capped per attempt, bounded by the job's total TTL
 * after which the job ends as failed and goes to the dead-letter queue.
 */
import * as v from 'valibot';
import { DurationSchema, parseDuration } from './units.ts';

export interface RetrySchedule {
  /** Delay before the second attempt. */
  initialMs: number;
  /** Growth per attempt. */
  factor: number;
  /** Upper bound of one delay. */
  maxDelayMs: number;
  /** Share of the delay that is randomised, 0..1. */
  jitter: number;
  /** Total time from the first attempt after which no retry is made. */
  ttlMs: number;
}

export const DEFAULT_RETRY: RetrySchedule = {
  initialMs: 60_000,
  factor: 2,
  maxDelayMs: 4 * 3600_000,
  jitter: 0.5,
  ttlMs: 72 * 3600_000,
};

export type RetryDecision =
  | { action: 'retry'; at: number; delayMs: number }
  | { action: 'fail'; reason: string };

export interface RetryInput {
  /** Attempts made so far, including the one that just deferred (1 after the first). */
  attempts: number;
  /** When the job was first accepted; TTL counts from here. */
  acceptedAt: number;
  now: number;
  schedule?: RetrySchedule;
  /** A server-requested minimum delay (e.g. from a throttle class), if any. */
  minDelayMs?: number;
  random?: () => number;
}

export function planRetry(input: RetryInput): RetryDecision {
  const s = input.schedule ?? DEFAULT_RETRY;
  const random = input.random ?? Math.random;
  const base = Math.min(s.maxDelayMs, s.initialMs * s.factor ** Math.max(0, input.attempts - 1));
  const jittered = base * (1 - s.jitter) + base * s.jitter * random();
  const delayMs = Math.round(Math.max(jittered, input.minDelayMs ?? 0));
  const at = input.now + delayMs;
  if (at > input.acceptedAt + s.ttlMs) {
    return {
      action: 'fail',
      reason: `retry window of ${Math.round(s.ttlMs / 3600_000)}h exhausted after ${input.attempts} attempts`,
    };
  }
  return { action: 'retry', at, delayMs };
}

/**
 * A retry schedule as it reads in a policy file: `{ initial: "10m", factor: 2, max: "2h",
 * jitter: 0.5, ttl: "72h" }`. The classifier converts each class's schedule once with
 * `toRetrySchedule` and hands the numeric form to `planRetry`.
 */
export interface HumanRetrySchedule {
  initial: string;
  factor: number;
  max: string;
  jitter: number;
  ttl: string;
}

export function toRetrySchedule(h: HumanRetrySchedule): RetrySchedule {
  const s: RetrySchedule = {
    initialMs: parseDuration(h.initial),
    factor: h.factor,
    maxDelayMs: parseDuration(h.max),
    jitter: h.jitter,
    ttlMs: parseDuration(h.ttl),
  };
  if (!(s.factor >= 1)) throw new RangeError(`retry factor ${h.factor} must be >= 1`);
  if (!(s.jitter >= 0 && s.jitter <= 1)) throw new RangeError(`retry jitter ${h.jitter} must be within 0..1`);
  if (s.maxDelayMs < s.initialMs) throw new RangeError(`retry max "${h.max}" is shorter than initial "${h.initial}"`);
  return s;
}

export const HumanRetryScheduleSchema = v.strictObject({
  initial: DurationSchema,
  factor: v.pipe(v.number(), v.minValue(1), v.maxValue(10)),
  max: DurationSchema,
  jitter: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  ttl: DurationSchema,
});
