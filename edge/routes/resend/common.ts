/**
 * What every Resend-compatible route shares: Bearer auth with Resend's error names, the
 * validation hook, the error handler (`{ statusCode, message, name }`) and the OpenAPI error
 * responses. The routes live beside our own API under Resend's paths (`/emails`, `/domains`,
 * `/api-keys`), so an SDK pointed at Postlane (`RESEND_BASE_URL`) reaches them unchanged.
 */
import { z } from '@hono/zod-openapi';
import type { ErrorHandler, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../context.ts';
import { requireScope, type KeyScope } from '../../middleware/auth.ts';
import { toApiError } from '../../middleware/errors.ts';
import { RESEND_ERRORS, ResendError, invalidField, missingField, toResendError } from '../../services/resend-errors.ts';
import { writeRefusalRateLimit } from '../../services/rate-limit-headers.ts';

const RESEND_PATH = /^\/(emails|domains|api-keys)(\/|$)/;

/** Requests the Resend error shape answers (app.ts routes its errors here). */
export function isResendPath(path: string): boolean {
  return RESEND_PATH.test(path);
}

export const ResendErrorSchema = z
  .object({ statusCode: z.number().int(), message: z.string(), name: z.enum(Object.keys(RESEND_ERRORS) as [keyof typeof RESEND_ERRORS]) })
  .openapi('ResendError');

const DESCRIPTIONS: Record<number, string> = {
  400: 'validation_error (malformed request) or invalid_idempotency_key',
  401: 'missing_api_key, or restricted_api_key (the key lacks the scope)',
  403: 'invalid_api_key, or validation_error (sending domain not registered or verified)',
  404: 'not_found',
  409: 'invalid_idempotent_request: the Idempotency-Key was used with another body',
  413: 'validation_error: over the size limit',
  422: 'validation_error, missing_required_field, invalid_from_address, invalid_attachment, invalid_parameter, invalid_region',
  429: 'rate_limit_exceeded or daily_quota_exceeded, with Retry-After and RateLimit-* headers',
  503: 'application_error: the store is unavailable; retry with the same Idempotency-Key',
};

export function resendErrorResponses(statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, { description: DESCRIPTIONS[s] ?? 'error', content: { 'application/json': { schema: ResendErrorSchema } } }])) as Record<
    number,
    { description: string; content: { 'application/json': { schema: typeof ResendErrorSchema } } }
  >;
}

/** Resend's names for auth: no header is `missing_api_key` (401), a key without the scope `restricted_api_key` (401). */
export function resendAuth(scope: KeyScope): MiddlewareHandler<AppEnv> {
  const check = requireScope(scope);
  return async (c, next) => {
    if (!/^Bearer\s+\S+$/i.test(c.req.header('authorization') ?? '')) throw new ResendError('missing_api_key', 'Missing API key in the authorization header.');
    await check(c, next);
  };
}

/** zod failures as Resend words them: a missing field is `missing_required_field`, any other `validation_error`. */
export function resendHook(result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string; code: string; input?: unknown }> } }): undefined {
  if (result.success || !result.error) return undefined;
  const issue = result.error.issues[0];
  const field = issue.path.map(String).join('.') || 'body';
  if (issue.code === 'invalid_type' && issue.input === undefined) throw missingField(field);
  throw invalidField(field, issue.message);
}

export const onResendError: ErrorHandler<AppEnv> = (error, c) => {
  const resend = error instanceof ResendError ? error : null;
  const apiError = resend ? null : toApiError(error);
  const out = resend ?? toResendError(apiError!);
  const deps = c.get('deps');
  if (apiError && (apiError.code === 'internal' || apiError.code === 'store_unavailable')) deps?.logger.error({ err: error, path: c.req.path }, apiError.message);
  deps?.metrics.inc('postlane_api_rejections_total', { code: out.errorName });
  if (out.retryAfterSeconds !== undefined) c.header('Retry-After', String(out.retryAfterSeconds));
  if (apiError) writeRefusalRateLimit(c, apiError);
  return c.json(out.toBody(), out.status as 400);
};
