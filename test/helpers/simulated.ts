/**
 * The platform wired to the provider simulator, for the scenarios that watch shaping, feedback
 * and warm-ups: the real edge, one real MTA node routed to the simulated providers, and the
 * simulator's complaint reports posted back to the edge's /v1/inbound. Plus the reads those
 * scenarios share.
 */
import assert from 'node:assert/strict';
import { startPlatform, addDomain, type Platform, type PlatformOptions } from './platform.ts';
import { startProviderSim, type ProviderSimulator } from '../simulator/provider-sim.ts';

export const FROM = 'news@example.com';

export interface SimulatedOptions {
  sim?: Parameters<typeof startProviderSim>[0];
  shaper?: PlatformOptions['shaper'];
  /** The node's source IPs, all in pool `default`. */
  ips?: string[];
  capacity?: number;
}

export async function startSimulated(opts: SimulatedOptions = {}): Promise<{ sim: ProviderSimulator; p: Platform }> {
  const sim = await startProviderSim(opts.sim ?? {});
  const p = await startPlatform({ shaper: opts.shaper });
  sim.feedbackTo({ url: p.edge.url, apiKey: p.edge.apiKey });
  await addDomain(p, 'example.com');
  await p.startNode({
    routes: sim.routes,
    ips: (opts.ips ?? ['127.0.0.1']).map((address) => ({ address, pool: 'default', ehlo: 'mta.test' })),
    capacity: opts.capacity ?? 100,
  });
  return { sim, p };
}

export async function view(p: Platform, id: string) {
  const res = await p.api('GET', `/v1/messages/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

export async function reputation(p: Platform) {
  const res = await p.api('GET', '/v1/reputation?limit=1000');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as {
    breakers: Array<{ scope: string; key: string; state: string; rate_per_min: number }>;
    rates: Array<{ provider: string; pool: string; rate_per_min: number }>;
    suspended_ips: Array<{ provider: string; ip: string }>;
    events: Array<{ scope: string; key: string; type: string; from: string | null; to: string | null; reason: string; at: string; data: any }>;
  };
}

/** Sends `count` one-recipient messages in batches of up to 1,000; returns their ids. */
export async function blast(p: Platform, count: number, make: (i: number) => Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const messages = Array.from({ length: Math.min(1000, count - start) }, (_, k) => ({ from: FROM, subject: `m${start + k}`, text: 'x', ...make(start + k) }));
    const res = await p.api('POST', '/v1/messages/batch', { messages });
    assert.equal(res.status, 202, JSON.stringify(res.body).slice(0, 500));
    ids.push(...(res.body.data ?? res.body.messages ?? []).map((m: any) => m.id));
  }
  return ids;
}
