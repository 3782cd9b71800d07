/**
 * Wraps a Store so that a store that is down or slow fails fast with one recognisable error:
 * the API turns it into 503 + Retry-After (SPEC §8: never hang, never 202 without a commit).
 */
import type { Store } from '../ports.ts';

export class StoreUnavailableError extends Error {
  constructor(readonly operation: string, cause: unknown) {
    super(`store unavailable during ${operation}: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

export function guardStore(store: Store, timeoutMs: number): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        });
        return Promise.race([Promise.resolve().then(() => value.apply(target, args)), timeout])
          .catch((error) => {
            throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(String(prop), error);
          })
          .finally(() => clearTimeout(timer));
      };
    },
  });
}
