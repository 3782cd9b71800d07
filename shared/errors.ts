/**
 * The API's error codes, in one table: HTTP status and what the caller should do next.
 * Every error body is `{ error: { code, message, ...details } }`.
 */
export const ERROR_CODES = {
  invalid_request: { status: 400, action: 'Fix the field named in `field` and send again.' },
  unauthorized: { status: 401, action: 'Send `Authorization: Bearer <api key>` with a valid, unrevoked key.' },
  forbidden: { status: 403, action: 'Use a key with the scope named in `scope`.' },
  not_found: { status: 404, action: 'Check the id; resources of other tenants are not visible.' },
  conflict: { status: 409, action: 'The resource is already in that state (e.g. an active warm-up); read or stop the one named in the error.' },
  idempotency_conflict: { status: 409, action: 'Use a new Idempotency-Key for a different request body.' },
  payload_too_large: { status: 413, action: 'Send a smaller message; the limit is in `limit`.' },
  unsupported_media_type: { status: 415, action: 'Send the body with the Content-Type named in `expected`.' },
  rate_limited: { status: 429, action: 'Wait `Retry-After` seconds; `limit` names the bucket that is empty.' },
  internal: { status: 500, action: 'Retry with the same Idempotency-Key; nothing is lost.' },
  store_unavailable: { status: 503, action: 'Retry after `Retry-After` seconds with the same Idempotency-Key.' },
  overloaded: { status: 503, action: 'The server is at its limit of requests in progress: retry after `Retry-After` seconds (with the same Idempotency-Key for sends).' },
  store_outcome_unknown: {
    status: 503,
    action: 'The store did not confirm in time, so the request may have been committed: retry after `Retry-After` seconds with the same Idempotency-Key (the retry answers with the first outcome). Without a key, look the message up (GET /v1/messages) before sending again.',
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ApiErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    action: string;
    field?: string;
    reason?: string;
    [detail: string]: unknown;
  };
}

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = ERROR_CODES[code].status;
  }

  toBody(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, action: ERROR_CODES[this.code].action, ...this.details } };
  }
}

export const invalid = (field: string, reason: string) =>
  new ApiError('invalid_request', `${field}: ${reason}`, { field, reason });

/** The field a zod issue is about: its path, and for unknown keys (strict objects) the first such key under it. */
export function issueField(issue: { path: PropertyKey[]; code?: string; keys?: string[] }): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys?.length) path.push(issue.keys[0]);
  return path.join('.') || 'body';
}
