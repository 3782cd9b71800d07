/**
 * Reputation-aware orchestration end to end: the real edge (API, lease hub, Shaper), a real MTA
 * node over WebSocket, and the provider simulator (test/simulator/provider-sim.ts) answering
 * with Gmail / Microsoft / Yahoo replies. Each scenario has its own platform and simulator so
 * breaker and AIMD state never leak between them. Rates are small so effects show in seconds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, waitFor, addDomain, type Platform } from '../helpers/platform.ts';
import { startProviderSim, type ProviderSimulator } from '../simulator/provider-sim.ts';
import { aimdConfig } from '../../shared/policy/aimd.ts';
import { breakerConfig, DEFAULT_BREAKER } from '../../shared/policy/breaker.ts';
import { loadShapingPolicy } from '../../shared/policy/providers.ts';

const FROM = 'news@example.com';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...args: unknown[]) => {
  if (process.env.POSTLANE_TEST_VERBOSE) console.log('[orchestration]', ...args);
};

async function view(p: Platform, id: string) {
  return (await p.api('GET', `/v1/messages/${id}`)).body;
}

async function reputation(p: Platform) {
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
async function blast(p: Platform, count: number, make: (i: number) => Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const messages = Array.from({ length: Math.min(1000, count - start) }, (_, k) => ({ from: FROM, subject: `m${start + k}`, text: 'x', ...make(start + k) }));
    const res = await p.api('POST', '/v1/messages/batch', { messages });
    assert.equal(res.status, 202, JSON.stringify(res.body).slice(0, 500));
    ids.push(...(res.body.data ?? res.body.messages ?? []).map((m: any) => m.id));
  }
  return ids;
}

async function setup(opts: { sim?: Parameters<typeof startProviderSim>[0]; shaper?: Parameters<typeof startPlatform>[0]['shaper']; ips?: string[]; capacity?: number } = {}) {
  const sim = await startProviderSim(opts.sim ?? {});
  const p = await startPlatform({ shaper: opts.shaper });
  await addDomain(p, 'example.com');
  await p.startNode({
    routes: sim.routes,
    ips: (opts.ips ?? ['127.0.0.1']).map((address) => ({ address, pool: 'default', ehlo: 'mta.test' })),
    capacity: opts.capacity ?? 100,
  });
  return { sim, p };
}

describe('orchestration: held-back jobs say which limit held them', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  before(async () => ({ sim, p } = await setup()));
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('a throttled event in the trace names the empty bucket', async () => {
    const t0 = Date.now();
    // Ten Gmail recipients at once: Gmail's per-IP budget (120/min, burst 2) cannot take them all.
    const res = await p.api('POST', '/v1/messages', { from: FROM, to: Array.from({ length: 10 }, (_, i) => `u${i}@gmail.com`), subject: 'hi', text: 'x' });
    assert.equal(res.status, 202);
    const m = await waitFor(async () => {
      const v = await view(p, res.body.id);
      return v.events.some((e: any) => e.type === 'throttled') && v;
    }, 5_000, 'a throttled event');
    const throttled = m.events.filter((e: any) => e.type === 'throttled');
    for (const e of throttled) {
      assert.match(e.data.limit, /^provider_(ip|pool):gmail:default$/);
      assert.match(e.data.reason, /gmail/);
      assert.ok(Date.parse(e.data.next_attempt_at) > Date.parse(e.at), 'says when it may go');
    }
    // Held back, not lost: every recipient arrives at Gmail's pace.
    await waitFor(async () => (await view(p, res.body.id)).status === 'delivered', 10_000, 'all delivered');
    assert.equal(sim.providers.gmail.count('accepted'), 10);
    // 2/s with a burst of 2: ten take four seconds, and no two seconds see more than 2 + 2×2 (+1 for reply latency).
    const g = sim.providers.gmail;
    assert.ok(g.maxInWindow(2000) <= 7, `gmail got ${g.maxInWindow(2000)} in two seconds`);
    const accepted = g.events.filter((e) => e.kind === 'accepted');
    assert.ok(accepted.at(-1)!.at - accepted[0].at >= 3000, `ten Gmail messages in ${accepted.at(-1)!.at - accepted[0].at} ms`);
    log('throttled-event scenario', Date.now() - t0, 'ms');
  });
});

describe('orchestration: routing constraints', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  before(async () => {
    ({ sim, p } = await setup());
    // A dedicated pool of this tenant that no connected node serves.
    await p.edge.store.ensurePool('ded-default', 'default', Date.now());
  });
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('no job is sent outside its send window: it stays queued, its trace names send_window', async () => {
    const t0 = Date.now();
    const tz = 'America/New_York';
    const hour = Number(new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: 'numeric', hourCycle: 'h23' }).format(new Date()));
    const start = (hour + 2) % 24;
    const windowed = await p.api('POST', '/v1/messages', {
      from: FROM,
      to: 'late@other.test',
      subject: 'windowed',
      text: 'x',
      constraints: { send_window: { timezone: tz, start_hour: start, end_hour: start + 1 } },
    });
    assert.equal(windowed.status, 202, JSON.stringify(windowed.body));
    const control = await p.api('POST', '/v1/messages', { from: FROM, to: 'now@other.test', subject: 'control', text: 'x' });
    await waitFor(async () => (await view(p, control.body.id)).status === 'delivered', 5_000, 'control delivered');
    const v = await waitFor(async () => {
      const m = await view(p, windowed.body.id);
      return m.events.some((e: any) => e.type === 'throttled') && m;
    }, 5_000, 'send_window hold');
    await sleep(1000);
    const after = await view(p, windowed.body.id);
    assert.equal(after.status, 'queued');
    assert.ok(!after.events.some((e: any) => e.type === 'delivered' || e.type === 'deferred'));
    const held = v.events.find((e: any) => e.type === 'throttled');
    assert.equal(held.data.limit, 'send_window');
    assert.match(held.data.reason, /America\/New_York/);
    // The next attempt is when the window opens, at least an hour away.
    assert.ok(Date.parse(after.recipients[0].next_attempt_at) - Date.now() > 55 * 60_000, after.recipients[0].next_attempt_at);
    assert.ok(!sim.providers.other.events.some((e) => e.rcpt === 'late@other.test'), 'the provider never saw it');
    log('send-window scenario', Date.now() - t0, 'ms');
  });

  test('dedicated-only never spills into a shared pool', async () => {
    const shared = await p.api('POST', '/v1/messages', { from: FROM, to: 'd1@other.test', subject: 'ded', text: 'x', constraints: { dedicated_only: true } });
    assert.equal(shared.status, 400);
    assert.equal(shared.body.error.field, 'pool');
    assert.match(shared.body.error.message ?? JSON.stringify(shared.body), /dedicated_only|shared/);

    // The tenant's dedicated pool has no node connected: the job waits for it.
    const res = await p.api('POST', '/v1/messages', { from: FROM, to: 'd2@other.test', subject: 'ded', text: 'x', pool: 'ded-default', constraints: { dedicated_only: true } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await sleep(1500);
    const v = await view(p, res.body.id);
    assert.equal(v.status, 'queued');
    assert.ok(!v.events.some((e: any) => e.type === 'leased'), 'never leased to the shared pool node');
    assert.ok(!sim.providers.other.events.some((e) => e.rcpt === 'd2@other.test'));
  });
});
