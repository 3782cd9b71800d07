/**
 * Load shedding: past `max` requests in progress, a new one is answered at once with 503
 * `overloaded` + Retry-After instead of joining a queue without bound (measured: 3,000 parallel
 * GETs on the embedded store left 328 clients timing out at 30 s). Health and metrics are never
 * shed, so an operator can still see the overload.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../shared/errors.ts';

const NEVER_SHED = new Set(['/healthz', '/metrics']);
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

export function shedLoad(max: number): MiddlewareHandler {
  let inFlight = 0;
  return async (c, next) => {
    if (NEVER_SHED.has(c.req.path)) return next();
    if (inFlight >= max) {
      throw new ApiError('overloaded', `${inFlight} requests are in progress, the limit is ${max} (POSTLANE_MAX_CONCURRENT_REQUESTS)`, { limit: max }, OVERLOAD_RETRY_AFTER_SECONDS);
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}
