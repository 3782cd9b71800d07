/**
 * Requests the feedback scenarios (test/integration/feedback*.test.ts) share: a POST to
 * /v1/inbound, an accepted send from FROM, and the wait for a message to be delivered.
 */
import assert from 'node:assert/strict';
import { waitFor, type Platform } from './platform.ts';
import { view, FROM } from './simulated.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function inbound(p: Platform, raw: string, opts: { key?: string; contentType?: string; query?: string } = {}) {
  const res = await fetch(`${p.edge.url}/v1/inbound${opts.query ?? ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.key ?? p.edge.apiKey}`, 'content-type': opts.contentType ?? 'message/rfc822' },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as any };
}

export async function send(p: Platform, body: Record<string, unknown>) {
  const res = await p.api('POST', '/v1/messages', { from: FROM, subject: 'hello', text: 'x', ...body });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body as { id: string; status: string; recipients: number; suppressed?: string[] };
}

export const delivered = (p: Platform, id: string) => waitFor(async () => ((await view(p, id)).status === 'delivered' ? view(p, id) : null), 10_000, `${id} delivered`);
