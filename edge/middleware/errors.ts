/** One error path for the whole API: every failure becomes `{ error: { code, message, action, ... } }`. */
import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../../shared/errors.ts';
import { StoreUnavailableError } from '../domain/errors.ts';
import { writeRefusalRateLimit } from '../services/rate-limit-headers.ts';

export const STORE_RETRY_AFTER_SECONDS = 1;

/**
 * Writes the client is told about: when one times out, the statement may already be on its way
 * and commit later (measured: with sqld paused 10 s, 5 of 32 requests answered 503 after 5 s were
 * in the store). "Nothing was accepted" would then be a lie; the answer says the outcome is unknown.
 */
const OUTCOME_MAY_BE_COMMITTED = new Set(['acceptMessages']);

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof StoreUnavailableError && error.reason === 'timeout' && OUTCOME_MAY_BE_COMMITTED.has(error.operation)) {
    return new ApiError('store_outcome_unknown', `the store did not confirm ${error.operation} in time; it may still commit`, { operation: error.operation }, STORE_RETRY_AFTER_SECONDS);
  }
  if (error instanceof StoreUnavailableError) {
    return new ApiError('store_unavailable', 'the message store is not reachable; nothing was accepted', {}, STORE_RETRY_AFTER_SECONDS);
  }
  if (error instanceof HTTPException) {
    if (error.status === 413) return new ApiError('payload_too_large', 'the request body is over the size limit');
    // The JSON validator refuses a body without `Content-Type: application/json` this way.
    if (error.status === 415) {
      return new ApiError('unsupported_media_type', 'the body must be JSON: send it with Content-Type: application/json', { field: 'content-type', expected: 'application/json' });
    }
    if (error.status === 400) return new ApiError('invalid_request', error.message || 'malformed request', { field: 'body', reason: error.message || 'malformed' });
  }
  return new ApiError('internal', 'internal error');
}

export const onError: ErrorHandler<AppEnv> = (error, c) => {
  const apiError = toApiError(error);
  const deps = c.get('deps');
  if (apiError.code === 'internal' || apiError.code === 'store_unavailable') {
    deps?.logger.error({ err: error, path: c.req.path }, apiError.message);
  }
  deps?.metrics.inc('postlane_api_rejections_total', { code: apiError.code });
  if (apiError.retryAfterSeconds !== undefined) c.header('Retry-After', String(apiError.retryAfterSeconds));
  writeRefusalRateLimit(c, apiError);
  // A refused body is not closed on here: closing while the client still writes resets the
  // connection before it reads the 413. The Node adapter drains the rest, bounded
  // (edge/adapters/node-body.ts); Workers' front end does so itself.
  return c.json(apiError.toBody(), apiError.status as 400);
};
