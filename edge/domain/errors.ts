/**
 * The one store error the app handles on purpose: the store could not answer (SPEC §8: never
 * hang, never 202 without a commit). The API turns it into 503 + Retry-After; which driver
 * errors count as "could not answer" is the store adapter's call (edge/store/guarded.ts).
 */

export type UnavailableReason = 'timeout' | 'unreachable' | 'busy';

export class StoreUnavailableError extends Error {
  constructor(
    readonly operation: string,
    cause: unknown,
    readonly reason: UnavailableReason = 'unreachable',
  ) {
    super(`store unavailable (${reason}) during ${operation}: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}
