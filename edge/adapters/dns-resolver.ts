/**
 * The Node edge's DNS client for shared/mx.ts: node:dns/promises with the operator's resolver
 * addresses and a per-query deadline. The edge keeps its own (the MTA node binds node:dns in
 * mta-node/mx.ts) so that edge/ and mta-node/ share only shared/, and shared/ stays free of
 * node: imports (it runs in workerd, where the Worker asks DNS-over-HTTPS instead).
 */
import { Resolver } from 'node:dns/promises';
import type { DnsLike } from '../../shared/mx.ts';

export interface DnsResolverOptions {
  /** Resolver addresses (`host[:port]`); the system's when empty. */
  servers?: string[];
  /** Per-query timeout (ms) and tries per server. */
  queryTimeoutMs?: number;
  tries?: number;
}

export function nodeDnsResolver(opts: DnsResolverOptions = {}): DnsLike {
  const r = new Resolver({ timeout: opts.queryTimeoutMs ?? 5_000, tries: opts.tries ?? 2 });
  if (opts.servers?.length) r.setServers(opts.servers);
  return r as unknown as DnsLike;
}
