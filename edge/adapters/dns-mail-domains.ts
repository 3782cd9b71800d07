/**
 * MailDomains on Node: the MX lookup the MTA node delivers with (shared/mx.ts: RFC 5321 §5.1
 * implicit MX, RFC 7505 null MX, TTL-bounded caches) over node:dns (./dns-resolver.ts), asked
 * with a short deadline because the answer is on the accept path.
 */
import { MxLookup } from '../../shared/mx.ts';
import { nodeDnsResolver } from './dns-resolver.ts';
import type { MailDomains } from '../ports/mail-domains.ts';

export interface DnsMailDomainsOptions {
  /** Resolver addresses (`host[:port]`); the system's when empty. */
  servers?: string[];
  /** Deadline for one domain's answer; past it the answer is "unknown". */
  timeoutMs?: number;
}

export function dnsMailDomains(opts: DnsMailDomainsOptions = {}): MailDomains {
  const timeoutMs = opts.timeoutMs ?? 1_500;
  const resolver = new MxLookup({ dns: nodeDnsResolver({ servers: opts.servers, queryTimeoutMs: timeoutMs, tries: 1 }), negativeCacheMs: 5 * 60_000, maxCacheMs: 60 * 60_000 });
  /** The lookup within the deadline; null past it. */
  async function resolve(domain: string) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    try {
      return await Promise.race([resolver.resolve(domain), late]);
    } finally {
      clearTimeout(timer);
    }
  }
  return {
    async acceptsMail(domain) {
      const res = await resolve(domain);
      if (res === null || res.kind === 'transient') return null;
      return res.kind === 'ok';
    },
    async mxHosts(domain) {
      const res = await resolve(domain);
      if (res === null || res.kind === 'transient') return null;
      return res.kind === 'ok' && res.route === 'mx' ? res.hosts.map((h) => h.host) : [];
    },
  };
}
