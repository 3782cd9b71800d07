/**
 * Where mail for a domain goes, on the MTA node: the pure lookup of shared/mx.ts (static routes,
 * MX, implicit MX, null MX, TTL-bounded caches) over node:dns with our own resolvers.
 */
import { Resolver } from 'node:dns/promises';
import { MxLookup, type DnsLike } from '../shared/mx.ts';
import type { StaticRoutes } from './config.ts';

export type { DnsLike, MxHost, MxResolution } from '../shared/mx.ts';

export interface MxResolverOptions {
  servers?: string[];
  routes?: StaticRoutes;
  /** Upper bound on how long an answer is cached, whatever its TTL (ms). */
  maxCacheMs?: number;
  /** Cache time for negative and transient answers (ms). */
  negativeCacheMs?: number;
  /** Per-query timeout (ms) and tries per server. */
  queryTimeoutMs?: number;
  tries?: number;
  /** Injected for tests. */
  resolver?: DnsLike;
  now?: () => number;
}

/** node:dns/promises with the node's resolver addresses, per-query timeout and tries. */
function nodeDns(opts: MxResolverOptions): DnsLike {
  const r = new Resolver({ timeout: opts.queryTimeoutMs ?? 5_000, tries: opts.tries ?? 2 });
  if (opts.servers?.length) r.setServers(opts.servers);
  return r as unknown as DnsLike;
}

export class MxResolver extends MxLookup {
  constructor(opts: MxResolverOptions = {}) {
    super({ dns: opts.resolver ?? nodeDns(opts), routes: opts.routes, maxCacheMs: opts.maxCacheMs, negativeCacheMs: opts.negativeCacheMs, now: opts.now });
  }
}
