/**
 * Errors in Resend's shape, `{ statusCode, message, name }` with Resend's names and statuses
 * (resend.com/docs/api-reference/errors), which the official SDK returns as `error` unchanged.
 * Our own ApiErrors are translated by code; the table says where each one lands.
 */
import type { ApiError, ErrorCode } from '../../shared/errors.ts';

/** The names this API answers with, and Resend's status for each. */
export const RESEND_ERRORS = {
  invalid_idempotency_key: 400,
  validation_error: 422,
  missing_api_key: 401,
  restricted_api_key: 401,
  invalid_api_key: 403,
  not_found: 404,
  invalid_idempotent_request: 409,
  invalid_attachment: 422,
  invalid_from_address: 422,
  invalid_parameter: 422,
  invalid_region: 422,
  missing_required_field: 422,
  daily_quota_exceeded: 429,
  rate_limit_exceeded: 429,
  application_error: 500,
  internal_server_error: 500,
} as const;

export type ResendErrorName = keyof typeof RESEND_ERRORS;

export interface ResendErrorBody {
  statusCode: number;
  message: string;
  name: ResendErrorName;
}

export class ResendError extends Error {
  readonly status: number;
  constructor(
    readonly errorName: ResendErrorName,
    message: string,
    status?: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = status ?? RESEND_ERRORS[errorName];
  }

  toBody(): ResendErrorBody {
    return { statusCode: this.status, message: this.message, name: this.errorName };
  }
}

/** A field error in Resend's words: "Invalid `to` field. <reason>". */
export function invalidField(field: string, reason: string, name: ResendErrorName = 'validation_error') {
  return new ResendError(name, `Invalid \`${field}\` field. ${reason}`);
}

export function missingField(field: string) {
  return new ResendError('missing_required_field', `Missing \`${field}\` field.`);
}

/** A field of one of our errors, named as the Resend request names it (`messages[2].to` → `to`, batch index kept in the message). */
function resendField(field: string): string {
  return field.replace(/^messages\[(\d+)\]\./, '');
}

/**
 * Our error, in Resend's terms. Statuses Resend has no word for keep ours (413, 415, 503 with
 * Retry-After) under the closest name, so a retry policy keyed on the status still holds.
 */
export function toResendError(error: ApiError): ResendError {
  const field = typeof error.details.field === 'string' ? error.details.field : null;
  const reason = typeof error.details.reason === 'string' ? error.details.reason : error.message;
  const byCode: Partial<Record<ErrorCode, () => ResendError>> = {
    invalid_request: () => {
      if (field === 'Idempotency-Key') return new ResendError('invalid_idempotency_key', 'The key must be between 1-256 chars.');
      // Malformed JSON: the request, not a field, is wrong.
      if (field === 'body' || field === null) return new ResendError('validation_error', error.message, 400);
      const name = resendField(field);
      // Resend answers an unverified or unknown sending domain with 403 validation_error.
      if (name === 'from' && /^sending domain /.test(reason)) return new ResendError('validation_error', reason, 403);
      if (name === 'from') return invalidField('from', reason, 'invalid_from_address');
      if (name.startsWith('attachments')) return new ResendError('invalid_attachment', `${error.message}`);
      return new ResendError('validation_error', error.message);
    },
    unauthorized: () => new ResendError('invalid_api_key', 'API key is invalid'),
    forbidden: () => new ResendError('restricted_api_key', `This API key is restricted: ${error.message}.`),
    not_found: () => new ResendError('not_found', error.message.replace(/^no message /, 'Email not found: ').replace(/^no sending domain /, 'Domain not found: ')),
    conflict: () => new ResendError('validation_error', error.message),
    idempotency_conflict: () => new ResendError('invalid_idempotent_request', 'Same idempotency key used with a different request payload.'),
    payload_too_large: () => new ResendError('validation_error', error.message, 413),
    unsupported_media_type: () => new ResendError('validation_error', error.message, 415),
    rate_limited: () =>
      new ResendError(/daily_cap$/.test(String(error.details.limit ?? '')) ? 'daily_quota_exceeded' : 'rate_limit_exceeded', error.message, 429, error.retryAfterSeconds),
    internal: () => new ResendError('internal_server_error', 'An unexpected error occurred.'),
    store_unavailable: () => new ResendError('application_error', error.message, 503, error.retryAfterSeconds),
    overloaded: () => new ResendError('application_error', error.message, 503, error.retryAfterSeconds),
    store_outcome_unknown: () => new ResendError('application_error', error.message, 503, error.retryAfterSeconds),
  };
  return (byCode[error.code] ?? (() => new ResendError('application_error', error.message, error.status, error.retryAfterSeconds)))();
}
