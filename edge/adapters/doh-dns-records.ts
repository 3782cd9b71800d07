/**
 * The DnsRecords port (sending-domain verification) over DNS-over-HTTPS, for Workers: the JSON
 * form (`application/dns-json`). Status 3 is NXDOMAIN and an empty answer NODATA, both "none";
 * any other status (2 SERVFAIL, …), an HTTP error or a timeout is a failed lookup.
 */
import type { DnsRecords, Lookup } from '../ports/dns-records.ts';

interface DohAnswer {
  Status: number;
  Answer?: Array<{ type: number; data: string }>;
}

const TYPES = { A: 1, CNAME: 5, MX: 15, TXT: 16 } as const;
const RCODES: Record<number, string> = { 1: 'EFORMERR', 2: 'ESERVFAIL', 4: 'ENOTIMP', 5: 'EREFUSED' };

/** A TXT answer's data is its character-strings, each quoted (`"v=spf1 " "-all"`): joined. */
export function unquoteTxt(data: string): string {
  const parts = [...data.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1'));
  return parts.length ? parts.join('') : data;
}

export function dohDnsRecords(opts: { endpoint?: string; timeoutMs?: number; fetch?: typeof fetch } = {}): DnsRecords {
  const endpoint = opts.endpoint ?? 'https://cloudflare-dns.com/dns-query';
  const timeoutMs = opts.timeoutMs ?? 3_000;
  const doFetch = opts.fetch ?? fetch;

  async function query<T>(name: string, type: keyof typeof TYPES, map: (data: string) => T): Promise<Lookup<T>> {
    let body: DohAnswer;
    try {
      const res = await doFetch(`${endpoint}?name=${encodeURIComponent(name)}&type=${type}`, { headers: { accept: 'application/dns-json' }, signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return { kind: 'error', code: `HTTP_${res.status}` };
      body = (await res.json()) as DohAnswer;
    } catch (error) {
      return { kind: 'error', code: (error as Error).name === 'TimeoutError' ? 'ETIMEOUT' : 'ECONNREFUSED' };
    }
    if (body.Status === 3) return { kind: 'none' };
    if (body.Status !== 0) return { kind: 'error', code: RCODES[body.Status] ?? `RCODE_${body.Status}` };
    const values = (body.Answer ?? []).filter((a) => a.type === TYPES[type]).map((a) => map(a.data));
    return values.length ? { kind: 'ok', values } : { kind: 'none' };
  }

  return {
    txt: (name) => query(name, 'TXT', unquoteTxt),
    mx: (name) =>
      query(name, 'MX', (data) => {
        const [pref, exchange = ''] = data.trim().split(/\s+/);
        return { priority: Number(pref), exchange: exchange.replace(/\.$/, '') };
      }),
    cname: (name) => query(name, 'CNAME', (d) => d.replace(/\.$/, '')),
    a: (name) => query(name, 'A', (d) => d),
  };
}
