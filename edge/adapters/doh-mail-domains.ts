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
  const cache = new Map<string, { until: number; value: boolean | null; hosts: string[] | null }>();

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

  async function lookup(domain: string): Promise<{ value: boolean | null; ttlMs: number; hosts: string[] | null }> {
    const mx = await query(domain, MX);
    if (!mx || (mx.Status !== 0 && mx.Status !== 3)) return { value: null, ttlMs: NEGATIVE_CACHE_MS, hosts: null };
    if (mx.Status === 3) return { value: false, ttlMs: NEGATIVE_CACHE_MS, hosts: [] };
    const records = (mx.Answer ?? []).filter((r) => r.type === MX);
    if (records.length > 0) {
      // RFC 7505 §3: "0 ." says the domain accepts no mail.
      const nullMx = records.some((r) => /^\d+\s+\.?$/.test(r.data.trim()));
      const ttl = Math.min(MAX_CACHE_MS, Math.max(1, ...records.map((r) => r.TTL)) * 1000);
      // "10 aspmx.l.google.com.": preference, exchange; most preferred first.
      const hosts = nullMx
        ? []
        : records
            .map((r) => r.data.trim().split(/\s+/))
            .map(([pref, host]) => ({ pref: Number(pref), host: (host ?? '').replace(/\.$/, '').toLowerCase() }))
            .filter((h) => h.host)
            .sort((a, b) => a.pref - b.pref)
            .map((h) => h.host);
      return { value: !nullMx, ttlMs: ttl, hosts };
    }
    // RFC 5321 §5.1: no MX → the domain's own address is the implicit MX.
    for (const type of [A, AAAA]) {
      const addr = await query(domain, type);
      if (!addr) return { value: null, ttlMs: NEGATIVE_CACHE_MS, hosts: null };
      if ((addr.Answer ?? []).some((r) => r.type === type)) return { value: true, ttlMs: NEGATIVE_CACHE_MS, hosts: [] };
    }
    return { value: false, ttlMs: NEGATIVE_CACHE_MS, hosts: [] };
  }

  async function cached(domain: string) {
    const d = domain.toLowerCase().replace(/\.$/, '');
    const hit = cache.get(d);
    if (hit && hit.until > Date.now()) return hit;
    const { value, ttlMs, hosts } = await lookup(d);
    if (cache.size > 10_000) cache.clear();
    const entry = { value, hosts, until: Date.now() + ttlMs };
    cache.set(d, entry);
    return entry;
  }

  return {
    async acceptsMail(domain) {
      return (await cached(domain)).value;
    },
    async mxHosts(domain) {
      return (await cached(domain)).hosts;
    },
  };
}
