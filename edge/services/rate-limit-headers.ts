/**
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (draft-ietf-httpapi-ratelimit-headers,
 * the three-field form Resend and GitHub send), beside `Retry-After` (RFC 9110 §10.2.3) on a 429.
 * A send answers with the state of the tenant's send bucket; a refusal with the limit that refused.
 */
import type { Context } from 'hono';
import type { ApiError } from '../../shared/errors.ts';

export interface RateLimitState {
  /** The quota of the window: a token bucket's burst, a backlog bound, a daily cap. */
  limit: number;
  remaining: number;
  /** Seconds until the quota is whole again (a bucket refilled, the day over). */
  resetSeconds: number;
}

export function writeRateLimit(c: Context, s: RateLimitState) {
  c.header('RateLimit-Limit', String(Math.max(0, Math.floor(s.limit))));
  c.header('RateLimit-Remaining', String(Math.max(0, Math.floor(s.remaining))));
  c.header('RateLimit-Reset', String(Math.max(0, Math.ceil(s.resetSeconds))));
}

/**
 * For a 429 whose site did not write the fields (a daily cap, a complaint pause): nothing remains
 * until Retry-After; the quota is the error's `cap` or `bound` when it names one, else 0 (a pause).
 */
export function writeRefusalRateLimit(c: Context, error: ApiError) {
  if (error.status !== 429 || c.res.headers.has('RateLimit-Limit')) return;
  const quota = [error.details.cap, error.details.bound, error.details.quota].find((v): v is number => typeof v === 'number');
  writeRateLimit(c, { limit: quota ?? 0, remaining: 0, resetSeconds: error.retryAfterSeconds ?? 0 });
}
