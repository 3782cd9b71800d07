/** One error path for the whole API: every failure becomes `{ error: { code, message, action, ... } }`. */
import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../../shared/errors.ts';
import { StoreUnavailableError } from '../store/guarded.ts';

export const STORE_RETRY_AFTER_SECONDS = 1;

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof StoreUnavailableError) {
    return new ApiError('store_unavailable', 'the message store is not reachable; nothing was accepted', {}, STORE_RETRY_AFTER_SECONDS);
  }
  if (error instanceof HTTPException) {
    if (error.status === 413) return new ApiError('payload_too_large', 'the request body is over the size limit');
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
  // The refused body was never read off the connection: close it rather than let the client
  // send its next request behind the leftover bytes (RFC 9110 §15.5.14).
  if (apiError.code === 'payload_too_large') c.header('Connection', 'close');
  return c.json(apiError.toBody(), apiError.status as 400);
};
