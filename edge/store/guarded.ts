/**
 * Wraps a Store so that a store that is down or slow fails fast with one recognisable error:
 * the API turns it into 503 + Retry-After (SPEC §8: never hang, never 202 without a commit).
 *
 * Only a store that cannot answer is "unavailable": a timeout, a connection that cannot be made
 * or was lost, an overloaded or restarting server. Any other error (a statement sqld rejects, a
 * constraint the code did not expect) is a bug, and it is rethrown unchanged so the API answers
 * 500 and logs the cause, instead of telling the client to retry something that will never work.
 */
import { StoreUnavailableError, type UnavailableReason } from '../domain/errors.ts';
import type { Store } from '../ports/store.ts';

class StoreTimeout extends Error {}

/** Socket-level codes from Node (libuv) and undici: the server could not be reached or dropped us. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/**
 * @libsql/client codes (core/api.ts LibsqlError, client/hrana.ts mapHranaErrorCode) that mean the
 * server or the connection to it failed, not the statement: HRANA_WEBSOCKET_ERROR and
 * HRANA_CLOSED_ERROR (the stream died with its connection), CLIENT_CLOSED (the client was shut),
 * STREAM_EXPIRED (sqld dropped an idle stream's baton; a new stream works). SERVER_ERROR is an
 * HTTP error status without a Hrana body: classified by its status below.
 */
const LIBSQL_UNREACHABLE = new Set(['HRANA_WEBSOCKET_ERROR', 'HRANA_CLOSED_ERROR', 'CLIENT_CLOSED', 'STREAM_EXPIRED']);
/** SQLite's "try again" (sqlite.org/rescode.html#busy): another writer holds the lock. */
const LIBSQL_BUSY = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED', 'SQLITE_LOCKED_SHAREDCACHE']);
/**
 * fetch failures carry no code in every runtime: Node's undici says "fetch failed" (the socket
 * error is its cause), workerd says "Network connection lost" or "internal error" with no cause.
 */
const NETWORK_MESSAGES = /fetch failed|network connection lost|connection (refused|reset|closed)|socket hang up|other side closed/i;

/**
 * Why a store call failed, if the store could not answer; null when the error is the call's own
 * (bad SQL, a constraint, a bug) and must surface as such. Walks the cause chain: drizzle wraps
 * the driver's error in DrizzleQueryError, libsql wraps hrana's, undici wraps the socket's.
 */
export function unavailableReason(error: unknown): UnavailableReason | null {
  const seen = new Set<unknown>();
  for (let e = error; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    if (e instanceof StoreUnavailableError) return e.reason;
    if (e instanceof StoreTimeout) return 'timeout';
    const { code, status, message, name } = e as { code?: unknown; status?: unknown; message?: unknown; name?: unknown };
    if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || LIBSQL_UNREACHABLE.has(code)) return 'unreachable';
      if (LIBSQL_BUSY.has(code)) return 'busy';
    }
    // hrana's HttpServerError (libsql code SERVER_ERROR) keeps the HTTP status: a proxy's 502, an
    // overloaded sqld's 503 or 429 is the server; a 400/401/404 is our request or our config.
    if (typeof status === 'number' && (status >= 500 || status === 429 || status === 408)) return 'unreachable';
    if (typeof message === 'string' && NETWORK_MESSAGES.test(message)) return 'unreachable';
  }
  return null;
}

export function guardStore(store: Store, timeoutMs: number): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StoreTimeout(`no answer within ${timeoutMs} ms (STORE_TIMEOUT_MS)`)), timeoutMs);
        });
        return Promise.race([Promise.resolve().then(() => value.apply(target, args)), timeout])
          .catch((error) => {
            if (error instanceof StoreUnavailableError) throw error;
            const reason = unavailableReason(error);
            // Not the store being away: the caller's error, reported as what it is (500 + log).
            if (reason === null) throw error;
            throw new StoreUnavailableError(String(prop), error, reason);
          })
          .finally(() => clearTimeout(timer));
      };
    },
  });
}
