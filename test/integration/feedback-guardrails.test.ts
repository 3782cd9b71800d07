/**
 * Feedback end to end, the complaint guard-rails: a pool over the complaint threshold enters slow
 * start and recovers, and outreach pauses when complaints rise. The real edge, a real MTA node
 * and the provider simulator; each scenario has its own platform and simulator so breaker state
 * never leaks between them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, type Platform } from '../helpers/platform.ts';
import { startSimulated, view, reputation, FROM } from '../helpers/simulated.ts';
import { delivered, send } from '../helpers/feedback.ts';
import type { ProviderSimulator } from '../simulator/provider-sim.ts';
import { breakerConfig, DEFAULT_BREAKER } from '../../shared/policy/breaker.ts';

const setup = startSimulated;

describe('feedback: a pool over the complaint threshold enters slow start and returns to full rate', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  const WINDOW_MS = 10_000;
  before(async () => {
    ({ sim, p } = await setup({
      ips: ['127.0.0.1', '127.0.0.2'],
      sim: { other: { complains: (rcpt) => /^c\d+@/.test(rcpt) } },
      shaper: {
        // Short clock: over 5 % complaints in 10 sends within 10 s start slow start at 60/min, doubling every second to 600/min.
        breaker: breakerConfig({
          ...DEFAULT_BREAKER,
          window: '10s',
          bucket: '1s',
          minVolume: 10,
          slowStartOn: { complaintRate: 0.05, bounceRate: 0.5, blocks: 100 },
          openOn: { complaintRate: 0.9, bounceRate: 0.9, blocks: 200 },
          coolDown: '5s',
          slowStartInterval: '1s',
          floor: '60/min',
          full: '600/min',
        }),
      },
    }));
  });
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('complaints cross the threshold: slow start within one breaker window, visible in /v1/reputation; healthy again, full rate', async () => {
    const other = sim.providers.other;
    // Three recipients who complain, then seven who do not: 3 complaints in 10 sends = 30 %.
    const angry = await p.api('POST', '/v1/messages/batch', { messages: [0, 1, 2].map((i) => ({ from: FROM, to: `c${i}@other.test`, subject: 'sale', text: 'x' })) });
    assert.equal(angry.status, 202);
    await waitFor(() => other.events.filter((e) => e.kind === 'complained').length >= 3, 10_000, 'three complaints posted');
    const firstComplaint = other.events.find((e) => e.kind === 'complained')!.at;
    const calm = await p.api('POST', '/v1/messages/batch', { messages: Array.from({ length: 7 }, (_, i) => ({ from: FROM, to: `k${i}@other.test`, subject: 'sale', text: 'x' })) });
    assert.equal(calm.status, 202);
    const entered = await waitFor(async () => {
      const r = await reputation(p);
      return r.events.find((e) => e.type === 'breaker' && e.scope === 'pool' && e.key === 'default' && e.to === 'slow_start');
    }, WINDOW_MS, 'pool default in slow start');
    assert.match(entered.reason, /complaint rate \d+\.\d+% > 5\.00%/);
    assert.equal(entered.from, 'closed');
    assert.ok(entered.data.metrics.complained >= 3 && entered.data.metrics.sent >= 10, JSON.stringify(entered.data.metrics));
    assert.ok(Date.parse(entered.at) - firstComplaint < WINDOW_MS, 'within one breaker window of the first complaint');
    const domain = (await reputation(p)).events.find((e) => e.scope === 'domain' && e.key.endsWith('|example.com') && e.to === 'slow_start');
    assert.ok(domain, 'the sender domain breaker saw the same rate');
    const enteredAt = Date.parse(entered.at);

    // Mail through the pool moves at the slow-start rate, then ramps back.
    const slowBatch = await p.api('POST', '/v1/messages/batch', { messages: Array.from({ length: 20 }, (_, i) => ({ from: FROM, to: `s${i}@other.test`, subject: 'x', text: 'x' })) });
    assert.equal(slowBatch.status, 202);
    const closed = await waitFor(async () => {
      const r = await reputation(p);
      return r.events.find((e) => e.type === 'breaker' && e.scope === 'pool' && e.key === 'default' && e.from === 'slow_start' && e.to === 'closed');
    }, 15_000, 'slow start to end');
    assert.match(closed.reason, /full rate/);
    const closedAt = Date.parse(closed.at);
    const slow = other.count('accepted', enteredAt, closedAt);
    // 60→120→240→480/min over ~4 s: about 1+2+4+8 with burst; far under full rate (10/s × 4 s).
    assert.ok(slow <= 2 + 16 + 4, `${slow} sent in ${(closedAt - enteredAt) / 1000}s of slow start`);
    const state = (await reputation(p)).breakers.find((b) => b.scope === 'pool' && b.key === 'default')!;
    assert.equal(state.state, 'closed');
    assert.equal(state.rate_per_min, 600);
    assert.ok(!(await reputation(p)).events.some((e) => e.scope === 'pool' && e.to === 'open'), 'never paused outright');

    // Jobs held in slow start keep the spacing they were given (1/s); fresh mail goes at full rate.
    const fresh = Date.now();
    await p.api('POST', '/v1/messages/batch', { messages: Array.from({ length: 40 }, (_, i) => ({ from: FROM, to: `f${i}@other.test`, subject: 'x', text: 'x' })) });
    await waitFor(() => other.events.filter((e) => e.kind === 'accepted' && e.rcpt!.startsWith('f')).length >= 40, 15_000, 'the 40 fresh ones delivered');
    const freshSeconds = (Math.max(...other.events.filter((e) => e.kind === 'accepted' && e.rcpt!.startsWith('f')).map((e) => e.at)) - fresh) / 1000;
    // Full rate: two IPs × 5/s for other.test.
    assert.ok(freshSeconds <= 40 / 10 + 2, `40 fresh messages took ${freshSeconds}s after the breaker closed`);
  });
});

describe('feedback: outreach pauses when complaints rise, and says why', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  before(async () => {
    ({ sim, p } = await setup({ sim: { other: { complains: (rcpt) => rcpt.startsWith('cold') } } }));
    // Outreach at any hour for the test; pause above 10 % complaints once 5 were sent.
    const put = await p.api('PUT', '/v1/policies', { lanes: { outreach: { sendWindow: null, outreach: { pauseOnComplaintRate: 0.1, pauseMinVolume: 5 }, quota: { dailyCap: 1000 } } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  });
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('over the policy rate: new outreach is refused with 429 naming the pause, queued outreach is held, other lanes move, /v1/reputation shows it', async () => {
    const outreach = (to: string, extra: Record<string, unknown> = {}) => p.api('POST', '/v1/messages', { from: 'sales@example.com', to, subject: 'intro', text: 'x', lane: 'outreach', ...extra });
    // Queued before the pause, due after it: the hub must hold it.
    const later = await outreach('lead-later@other.test', { send_at: new Date(Date.now() + 8_000).toISOString() });
    assert.equal(later.status, 202, JSON.stringify(later.body));
    for (const to of ['cold1@other.test', 'cold2@other.test', 'lead1@other.test', 'lead2@other.test', 'lead3@other.test', 'lead4@other.test']) {
      assert.equal((await outreach(to)).status, 202);
    }
    const paused = await waitFor(async () => {
      const r = await reputation(p);
      return r.events.find((e) => e.scope === 'outreach' && e.key === 'default|example.com' && e.to === 'open');
    }, 8_000, 'the outreach pause');
    assert.match(paused.reason, /^outreach paused: complaint rate \d+\.\d+% > 10\.00% over \d+ sends \(policy outreach\.pauseOnComplaintRate 0\.1, pauseMinVolume 5\)/);
    assert.ok(paused.data.open_until > Date.parse(paused.at));
    const rep = await reputation(p);
    assert.equal(rep.breakers.find((b) => b.scope === 'outreach' && b.key === 'default|example.com')?.state, 'open');
    assert.ok(rep.events.some((e) => e.scope === 'outreach' && e.key === 'default' && e.to === 'open'), 'the tenant-wide pause too');

    const refused = await waitFor(async () => {
      const r = await outreach('lead9@other.test');
      return r.status === 429 && r;
    }, 3_000, 'new outreach refused');
    assert.equal(refused.body.error.limit, 'outreach_complaint_pause');
    assert.match(refused.body.error.message, /paused by complaints: outreach paused: complaint rate/);
    assert.ok(Date.parse(refused.body.error.resumes_at) > Date.now());
    assert.ok(Number(refused.headers.get('retry-after')) > 0);

    const transactional = await send(p, { to: 'receipt@other.test' });
    await delivered(p, transactional.id);

    const held = await waitFor(async () => {
      const v = await view(p, later.body.id);
      return v.events.some((e: any) => e.type === 'throttled') && v;
    }, 15_000, 'the queued outreach job held');
    const hold = held.events.find((e: any) => e.type === 'throttled');
    assert.match(hold.data.limit, /^outreach_pause:default/);
    assert.match(hold.data.reason, /paused/);
    assert.equal(held.recipients[0].state, 'queued');
    assert.ok(!sim.providers.other.events.some((e) => e.rcpt === 'lead-later@other.test'), 'never sent');
  });
});
