/**
 * The webhook transport and resolver for runtimes with only `fetch` (Workers): the Node edge uses
 * edge/adapters/webhook-http.ts, which pins the socket to the checked address. `fetch` connects
 * by name, so here the SSRF check (edge/webhooks/ssrf.ts, run on every attempt after DNS) is the
 * guard and the runtime is the second one: on Cloudflare a Worker's subrequests cannot reach
 * private or loopback networks at all; on a self-hosted workerd the window between the check and
 * the runtime's own lookup remains, which is why the Node edge pins and this one cannot.
 * No redirects (`redirect: 'manual'`: a 3xx is a failure), the answer's body read to at most
 * WEBHOOK_BODY_LIMIT bytes, the whole exchange bounded.
 */
import type { DnsRecords } from '../ports/dns-records.ts';
import type { Resolve } from './ssrf.ts';
import type { TransportResult, WebhookTransport } from './sender.ts';

export const WEBHOOK_BODY_LIMIT = 64 * 1024;
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** `Retry-After` (RFC 9110 §10.2.3) as seconds or an HTTP date, in ms; null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | null | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export function fetchTransport(opts: { timeoutMs?: number; fetch?: typeof fetch } = {}): WebhookTransport {
  const timeoutMs = opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const doFetch = opts.fetch ?? fetch;
  return async (target, headers, body): Promise<TransportResult> => {
    const res = await doFetch(target.url.href, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    // The answer's body is not used: drained up to the bound (so the connection can be reused), then dropped.
    const reader = res.body?.getReader();
    let read = 0;
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.byteLength;
      if (read > WEBHOOK_BODY_LIMIT) {
        await reader.cancel();
        break;
      }
    }
    return { status: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
  };
}

/** A webhook host's addresses over the DnsRecords port (DNS over HTTPS on Workers); absent: only IP-literal URLs. */
export function resolveWith(dns: DnsRecords | undefined): Resolve {
  return async (host) => {
    if (!dns) throw new Error('DNS lookups are off here (POSTLANE_DOH_URL=off); use an IP-literal URL');
    const found = await dns.a(host);
    if (found.kind === 'error') throw new Error(found.code);
    return found.kind === 'ok' ? found.values : [];
  };
}
