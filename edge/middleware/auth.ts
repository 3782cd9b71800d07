/**
 * Bearer API keys. Keys are stored as SHA-256 hashes; a short in-memory cache of key → record
 * spares the hash and the store read per request. A key revoked through the API is dropped from
 * this instance's cache at once (`forgetApiKey`); other instances (Worker isolates) see it within
 * the TTL. A rotated key's overlap end (`expiresAt`) is checked on every request.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context.ts';
import type { ApiKeyRecord } from '../ports/store.ts';
import type { AppDeps } from '../ports/app.ts';
import { ApiError } from '../../shared/errors.ts';
import { sha256Hex } from '../../shared/ids.ts';
import { OPERATOR_TENANT } from '../services/tenancy.ts';

const CACHE_MS = 30_000;
type KeyCache = Map<string, { record: ApiKeyRecord | null; at: number }>;
/** One cache per app instance (its deps): two apps in one process never share answers. */
const caches = new WeakMap<object, KeyCache>();
function cacheOf(deps: object): KeyCache {
  let cache = caches.get(deps);
  if (!cache) caches.set(deps, (cache = new Map()));
  return cache;
}

/** `last_used_at` is written at most this often per key and instance. */
const TOUCH_EVERY_MS = 60_000;
const touched = new WeakMap<object, Map<string, number>>();

/** Drops a revoked key from this app instance's cache: its next request is refused. */
export function forgetApiKey(deps: object, keyId: string) {
  const cache = caches.get(deps);
  if (!cache) return;
  for (const [key, entry] of cache) if (entry.record?.keyId === keyId) cache.delete(key);
}

/** Records the key's use, once a minute at most; a store that cannot write it does not fail the request. */
async function touch(deps: AppDeps, keyId: string, now: number) {
  let seen = touched.get(deps);
  if (!seen) touched.set(deps, (seen = new Map()));
  const last = seen.get(keyId);
  if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
  seen.set(keyId, now);
  if (seen.size > 10_000) seen.delete(seen.keys().next().value!);
  try {
    await deps.store.touchApiKey(keyId, now);
  } catch (error) {
    deps.logger?.warn({ err: error, key: keyId }, 'could not record the key as used');
  }
}

export type KeyScope = 'send' | 'read' | 'admin' | 'feedback' | 'any';

/**
 * `feedback` lets a key post reports to /v1/inbound (an FBL mailbox or bounce MX pipe) and nothing else.
 * `any` takes a valid key of any scope (the route checks who the caller is, e.g. /metrics).
 */
export function requireScope(scope: KeyScope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError('unauthorized', 'missing Authorization: Bearer <api key>');
    c.set('caller', await checkApiKey(c.get('deps'), match[1], scope));
    await next();
  };
}

/**
 * The record of a valid key that carries `scope` (or `admin`); ApiError 401/403 otherwise. The
 * one key check: the Bearer middleware and SMTP submission's AUTH (edge/adapters/smtp-submission) use it.
 */
export async function checkApiKey(deps: AppDeps, key: string, scope: KeyScope): Promise<ApiKeyRecord> {
  const now = deps.now?.() ?? Date.now();
  const cache = cacheOf(deps);
  let entry = cache.get(key);
  if (!entry || now - entry.at > CACHE_MS) {
    entry = { record: await deps.store.findApiKey(await sha256Hex(key)), at: now };
    cache.set(key, entry);
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
  }
  if (!entry.record || (entry.record.expiresAt != null && entry.record.expiresAt <= now)) throw new ApiError('unauthorized', 'the API key is unknown or revoked');
  await touch(deps, entry.record.keyId, now);
  const { scopes } = entry.record;
  if (scope !== 'any' && !scopes.includes(scope) && !scopes.includes('admin')) {
    throw new ApiError('forbidden', `this key lacks the "${scope}" scope`, { scope });
  }
  return entry.record;
}

/**
 * After requireScope: the caller must be the operator tenant (pools, IPs, node tokens are the
 * platform's). A route middleware, so a tenant is refused before its body is even validated.
 */
export function requireOperator(what: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get('caller').tenantId !== OPERATOR_TENANT) throw new ApiError('forbidden', `only the operator tenant ${what}`, { scope: 'admin' });
    await next();
  };
}
