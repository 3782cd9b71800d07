/**
 * MailDomains on Node: the MTA node's own MX resolver (static routes, RFC 5321 §5.1 implicit MX,
 * RFC 7505 null MX, TTL-bounded caches), asked with a short deadline because the answer is on
 * the accept path.
 */
import { MxResolver } from '../../mta-node/mx.ts';
import type { MailDomains } from '../ports.ts';

export interface DnsMailDomainsOptions {
  /** Resolver addresses (`host[:port]`); the system's when empty. */
  servers?: string[];
  /** Deadline for one domain's answer; past it the answer is "unknown". */
  timeoutMs?: number;
}

export function dnsMailDomains(opts: DnsMailDomainsOptions = {}): MailDomains {
  const timeoutMs = opts.timeoutMs ?? 1_500;
  const resolver = new MxResolver({ servers: opts.servers, queryTimeoutMs: timeoutMs, tries: 1, negativeCacheMs: 5 * 60_000, maxCacheMs: 60 * 60_000 });
  return {
    async acceptsMail(domain) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
      try {
        const res = await Promise.race([resolver.resolve(domain), late]);
        if (res === null || res.kind === 'transient') return null;
        return res.kind === 'ok';
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
