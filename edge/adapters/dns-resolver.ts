/**
 * The Node edge's DNS client for shared/mx.ts: node:dns/promises with the operator's resolver
 * addresses and a per-query deadline. The edge keeps its own (the MTA node binds node:dns in
 * mta-node/mx.ts) so that edge/ and mta-node/ share only shared/, and shared/ stays free of
 * node: imports (it runs in workerd, where the Worker asks DNS-over-HTTPS instead).
 */
import { Resolver } from 'node:dns/promises';
import type { DnsLike } from '../../shared/mx.ts';
import type { DnsRecords, Lookup } from '../ports/dns-records.ts';

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

/** node:dns codes that mean "no such record" (NXDOMAIN, NODATA); anything else is a failed lookup. */
const ABSENT = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'NODATA']);

async function lookup<T>(ask: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    const values = await ask();
    return values.length ? { kind: 'ok', values } : { kind: 'none' };
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? 'EUNKNOWN');
    return ABSENT.has(code) ? { kind: 'none' } : { kind: 'error', code };
  }
}

/** The DnsRecords port (domain verification) over node:dns/promises. */
export function nodeDnsRecords(opts: DnsResolverOptions = {}): DnsRecords {
  const r = new Resolver({ timeout: opts.queryTimeoutMs ?? 3_000, tries: opts.tries ?? 2 });
  if (opts.servers?.length) r.setServers(opts.servers);
  return {
    txt: (name) => lookup(async () => (await r.resolveTxt(name)).map((chunks) => chunks.join(''))),
    mx: (name) => lookup(() => r.resolveMx(name)),
    cname: (name) => lookup(() => r.resolveCname(name)),
    a: (name) => lookup(() => r.resolve4(name)),
  };
}
