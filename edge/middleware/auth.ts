/**
 * Bearer API keys. Keys are stored as SHA-256 hashes; a short in-memory cache of key → record
 * spares the hash and the store read per request (a revoked key stops working within the TTL).
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context.ts';
import type { ApiKeyRecord } from '../ports/store.ts';
import { ApiError } from '../../shared/errors.ts';
import { sha256Hex } from '../../shared/ids.ts';

const CACHE_MS = 30_000;
type KeyCache = Map<string, { record: ApiKeyRecord | null; at: number }>;
/** One cache per app instance (its deps): two apps in one process never share answers. */
const caches = new WeakMap<object, KeyCache>();
function cacheOf(deps: object): KeyCache {
  let cache = caches.get(deps);
  if (!cache) caches.set(deps, (cache = new Map()));
  return cache;
}

/**
 * `feedback` lets a key post reports to /v1/inbound (an FBL mailbox or bounce MX pipe) and nothing else.
 * `any` takes a valid key of any scope (the route checks who the caller is, e.g. /metrics).
 */
export function requireScope(scope: 'send' | 'read' | 'admin' | 'feedback' | 'any'): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError('unauthorized', 'missing Authorization: Bearer <api key>');
    const deps = c.get('deps');
    const now = deps.now?.() ?? Date.now();
    const cache = cacheOf(deps);
    let entry = cache.get(match[1]);
    if (!entry || now - entry.at > CACHE_MS) {
      entry = { record: await deps.store.findApiKey(await sha256Hex(match[1])), at: now };
      cache.set(match[1], entry);
      if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    }
    if (!entry.record) throw new ApiError('unauthorized', 'the API key is unknown or revoked');
    const { scopes } = entry.record;
    if (scope !== 'any' && !scopes.includes(scope) && !scopes.includes('admin')) {
      throw new ApiError('forbidden', `this key lacks the "${scope}" scope`, { scope });
    }
    c.set('caller', entry.record);
    await next();
  };
}
