/**
 * MailDomains over DNS-over-HTTPS, for runtimes without a resolver (Workers). Uses the JSON
 * form that Cloudflare's and Google's resolvers serve (`application/dns-json`); Status 3 is
 * NXDOMAIN (RFC 1035 §4.1.1). Answers are cached per isolate for their TTL, bounded.
 */
import type { MailDomains } from '../ports/mail-domains.ts';

interface DohAnswer {
  Status: number;
  Answer?: Array<{ type: number; data: string; TTL: number }>;
}

const MX = 15;
const A = 1;
const AAAA = 28;
const MAX_CACHE_MS = 60 * 60_000;
const NEGATIVE_CACHE_MS = 5 * 60_000;

export function dohMailDomains(opts: { endpoint?: string; timeoutMs?: number; fetch?: typeof fetch } = {}): MailDomains {
  const endpoint = opts.endpoint ?? 'https://cloudflare-dns.com/dns-query';
  const timeoutMs = opts.timeoutMs ?? 1_500;
  const doFetch = opts.fetch ?? fetch;
  const cache = new Map<string, { until: number; value: boolean | null }>();

  async function query(name: string, type: number): Promise<DohAnswer | null> {
    try {
      const res = await doFetch(`${endpoint}?name=${encodeURIComponent(name)}&type=${type}`, {
        headers: { accept: 'application/dns-json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) return null;
      return (await res.json()) as DohAnswer;
    } catch {
      return null;
    }
  }

  async function lookup(domain: string): Promise<{ value: boolean | null; ttlMs: number }> {
    const mx = await query(domain, MX);
    if (!mx || (mx.Status !== 0 && mx.Status !== 3)) return { value: null, ttlMs: NEGATIVE_CACHE_MS };
    if (mx.Status === 3) return { value: false, ttlMs: NEGATIVE_CACHE_MS };
    const records = (mx.Answer ?? []).filter((r) => r.type === MX);
    if (records.length > 0) {
      // RFC 7505 §3: "0 ." says the domain accepts no mail.
      const nullMx = records.some((r) => /^\d+\s+\.?$/.test(r.data.trim()));
      const ttl = Math.min(MAX_CACHE_MS, Math.max(1, ...records.map((r) => r.TTL)) * 1000);
      return { value: !nullMx, ttlMs: ttl };
    }
    // RFC 5321 §5.1: no MX → the domain's own address is the implicit MX.
    for (const type of [A, AAAA]) {
      const addr = await query(domain, type);
      if (!addr) return { value: null, ttlMs: NEGATIVE_CACHE_MS };
      if ((addr.Answer ?? []).some((r) => r.type === type)) return { value: true, ttlMs: NEGATIVE_CACHE_MS };
    }
    return { value: false, ttlMs: NEGATIVE_CACHE_MS };
  }

  return {
    async acceptsMail(domain) {
      const d = domain.toLowerCase().replace(/\.$/, '');
      const hit = cache.get(d);
      if (hit && hit.until > Date.now()) return hit.value;
      const { value, ttlMs } = await lookup(d);
      if (cache.size > 10_000) cache.clear();
      cache.set(d, { value, until: Date.now() + ttlMs });
      return value;
    },
  };
}
