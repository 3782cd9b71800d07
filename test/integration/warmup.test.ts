/**
 * Warm-ups end to end: the real edge (API, lease hub, Shaper with its WarmupGate), a real MTA
 * node over WebSocket, and the provider simulator's SMTP servers. A pool in warm-up sends Gmail
 * exactly its day's cap, spaced out, holds the rest with the warm-up named in their traces, grows
 * the cap when the day rolls over, keeps its counts across an edge restart, and lets the rest go
 * when stopped. The plan's day is a few seconds long here only in its spreadOver; the day itself
 * is advanced through the hub's hook, as an operator's "next day now" would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, waitFor, addDomain, type Platform } from '../helpers/platform.ts';
import { startProviderSim, type ProviderSimulator } from '../simulator/provider-sim.ts';
import { view } from '../helpers/simulated.ts';

const FROM = 'news@example.com';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY_MS = 86_400_000;

async function warmup(p: Platform, id: string) {
  const res = await p.api('GET', `/v1/warmups/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

const gmailOf = (w: any) => w.providers.find((x: any) => x.provider === 'gmail');

describe('warm-up API: validation and scopes', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform();
  });
  after(async () => {
    await p?.stop();
  });

  test('a bad start names the field and the reason', async () => {
    const cases: Array<[body: unknown, field: string, reason: RegExp]> = [
      [{}, 'pool', /give the pool/],
      [{ pool: 'nope' }, 'pool', /unknown pool "nope"/],
      [{ pool: 'Bad Pool' }, 'pool', /lower-case pool name/],
      [{ ip: '192.0.2' }, 'ip', /IPv4 or IPv6/],
      [{ pool: 'default', lane: 'bulk' }, 'lane', /.+/],
      [{ pool: 'default', plan: { growth: 9 } }, 'plan.growth', /3/],
      [{ pool: 'default', plan: { day1: { gmail: -1 } } }, 'plan.day1.gmail', /.+/],
      [{ pool: 'default', plan: { sprad: '1h' } }, 'plan.sprad', /unknown key/],
      [{ pool: 'default', plan: { spreadOver: 'soon' } }, 'plan.spreadOver', /invalid duration/],
      [{ pool: 'default', plan: { spreadOver: '2d' } }, 'plan.spreadOver', /at most 24h/],
      [{ pool: 'default', plan: 'fast' }, 'plan', /.+/],
      [{ pool: 'default', extra: 1 }, 'extra', /Unrecognized key/],
    ];
    for (const [body, field, reason] of cases) {
      const res = await p.api('POST', '/v1/warmups', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'invalid_request');
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
      assert.match(res.body.error.reason, reason, JSON.stringify(res.body));
    }
    assert.equal((await p.api('GET', '/v1/warmups')).body.data.length, 0, 'nothing was started');
  });

  test('unknown ids are 404; list filters are validated', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await p.api(method, '/v1/warmups/wup_nope');
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'not_found');
    }
    const bad = await p.api('GET', '/v1/warmups?status=paused');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'status');
  });

  test('only the operator starts and stops warm-ups; a tenant sees only warm-ups of the pools it owns', async () => {
    const anon = await fetch(`${p.edge.url}/v1/warmups`);
    assert.equal(anon.status, 401);
    const tenant = await p.api('POST', '/v1/tenants', { name: 'acme' });
    assert.equal(tenant.status, 201);
    const asTenant = (method: string, path: string, body?: unknown) => p.api(method, path, body, { authorization: `Bearer ${tenant.body.api_key}` });
    const refused = await asTenant('POST', '/v1/warmups', { pool: 'default' });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.scope, 'admin');
    const reader = await p.api('POST', '/v1/tenants', { name: 'ro', scopes: ['read'] });
    const asReader = (method: string, path: string, body?: unknown) => p.api(method, path, body, { authorization: `Bearer ${reader.body.api_key}` });
    assert.equal((await asReader('POST', '/v1/warmups', { pool: 'default' })).status, 403);

    const started = await p.api('POST', '/v1/warmups', { pool: 'default', lane: 'outreach' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    // The outreach lane's plan (growth 1.25) is the base when asked for.
    assert.equal(started.body.plan.growth, 1.25);
    assert.equal(started.body.lane, 'outreach');
    // The shared pool's warm-up is the platform's: another tenant neither lists nor reads it.
    const list = await asReader('GET', '/v1/warmups');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data, []);
    assert.equal((await asReader('GET', `/v1/warmups/${started.body.id}`)).status, 404);
    assert.deepEqual((await p.api('GET', '/v1/warmups')).body.data.map((w: any) => w.id), [started.body.id], 'the operator sees it');
    // A warm-up of a pool the tenant owns is its to see; an IP warm-up, even in that pool, is not.
    await p.edge.store.ensurePool('ro-dedicated', reader.body.id, Date.now());
    const own = await p.api('POST', '/v1/warmups', { pool: 'ro-dedicated' });
    assert.equal(own.status, 201, JSON.stringify(own.body));
    const ip = await p.api('POST', '/v1/warmups', { ip: '192.0.2.10', pool: 'ro-dedicated' });
    assert.equal(ip.status, 201, JSON.stringify(ip.body));
    assert.deepEqual((await asReader('GET', '/v1/warmups')).body.data.map((w: any) => w.id), [own.body.id]);
    assert.equal((await asReader('GET', `/v1/warmups/${own.body.id}`)).status, 200);
    assert.equal((await asReader('GET', `/v1/warmups/${ip.body.id}`)).status, 404);
    assert.deepEqual((await asTenant('GET', '/v1/warmups')).body.data, [], 'acme owns no pool');
    for (const w of [own, ip]) assert.equal((await p.api('DELETE', `/v1/warmups/${w.body.id}`)).status, 200);
    assert.equal((await asTenant('DELETE', `/v1/warmups/${started.body.id}`)).status, 403);
    const stopped = await p.api('DELETE', `/v1/warmups/${started.body.id}`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, 'stopped');
    assert.ok(stopped.body.ended_at);
    // Stopping twice is harmless: the warm-up as it ended.
    const again = await p.api('DELETE', `/v1/warmups/${started.body.id}`);
    assert.equal(again.status, 200);
    assert.equal(again.body.ended_at, stopped.body.ended_at);
    assert.equal((await p.api('GET', '/v1/warmups?status=stopped')).body.data.length, 3);
    assert.equal((await p.api('GET', '/v1/warmups?status=active')).body.data.length, 0);
  });
});

describe('warm-up enforced by the lease hub: caps, spacing, day rollover, restart, stop', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  let warmupId: string;
  const ids: string[] = [];
  before(async () => {
    sim = await startProviderSim({});
    p = await startPlatform();
    await addDomain(p, 'example.com');
    await p.startNode({ routes: sim.routes, ips: [{ address: '127.0.0.1', pool: 'default', ehlo: 'mta.test' }], capacity: 100 });
  });
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('start: day 1 caps and projected safe throughput before anything is sent', async () => {
    const res = await p.api('POST', '/v1/warmups', { pool: 'default', plan: { day1: { gmail: 5 }, growth: 2, spreadOver: '3s', spacingJitter: 0.5 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    warmupId = res.body.id;
    assert.equal(res.body.scope, 'pool');
    assert.equal(res.body.target, 'default');
    assert.equal(res.body.status, 'active');
    assert.deepEqual(res.body.overrides, { day1: { gmail: 5 }, growth: 2, spreadOver: '3s', spacingJitter: 0.5 });
    // Overrides merge over the default plan: the other providers keep their day-1 caps.
    assert.equal(res.body.plan.day1.microsoft, 50);
    const g = gmailOf(res.body);
    assert.deepEqual([g.day, g.cap_today, g.sent_today, g.remaining_today], [1, 5, 0, 5]);
    assert.equal(g.projected.per_day, 5);
    // 5 spread over 3 s is 6,000 an hour: the rate inside the window, not a daily average.
    assert.equal(g.projected.per_hour, 6000);
    assert.ok(res.body.projected_safe_throughput.per_day >= 5);
    assert.equal(Date.parse(res.body.next_day_at) - Date.parse(res.body.day_start), DAY_MS);

    // One active warm-up per pool.
    const dup = await p.api('POST', '/v1/warmups', { pool: 'default' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'conflict');
    assert.equal(dup.body.error.field, 'pool');
    assert.equal(dup.body.error.warmup, warmupId);

    const rep = await p.api('GET', '/v1/reputation?limit=1000');
    const started = rep.body.events.find((e: any) => e.scope === 'warmup' && e.key === warmupId);
    assert.equal(started.to, 'active');
    assert.match(started.reason, /warm-up of pool default started .*gmail 5/);
  });

  test('a 20-message Gmail blast: exactly the cap goes today, spaced out; the rest is held naming the warm-up', async () => {
    const t0 = Date.now();
    const res = await p.api('POST', '/v1/messages/batch', {
      messages: [
        ...Array.from({ length: 20 }, (_, i) => ({ from: FROM, to: `w${i}@gmail.com`, subject: `warm ${i}`, text: 'x', lane: 'lifecycle' })),
        // Other receivers on the same pool are not held by Gmail's cap.
        ...Array.from({ length: 3 }, (_, i) => ({ from: FROM, to: `o${i}@other.test`, subject: `other ${i}`, text: 'x', lane: 'lifecycle' })),
      ],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.push(...res.body.data.slice(0, 20).map((m: any) => m.id));
    const gmail = sim.providers.gmail;
    await waitFor(() => gmail.count('accepted') >= 5, 10_000, 'five Gmail deliveries');
    await waitFor(() => sim.providers.other.count('accepted') >= 3, 5_000, 'the other receiver');
    // Past the whole spread window and then some: still exactly the cap.
    await sleep(Math.max(0, t0 + 5_000 - Date.now()));
    assert.equal(gmail.count('accepted'), 5);

    const views = await Promise.all(ids.map((id) => view(p, id)));
    // Spaced out, by cause rather than by clock (a loaded machine shifts every send): the
    // ones after the first waited for their spacing slot, and their traces say so before the send.
    const sentLater = views.filter((v) => v.status === 'delivered' && v.events.some((e: any) => e.type === 'throttled' && e.data.limit === 'warmup:default:gmail'));
    assert.ok(sentLater.length >= 1, 'some of the five waited for their spacing slot within the window');
    for (const v of sentLater) {
      const types = v.events.map((e: any) => e.type);
      assert.ok(types.indexOf('throttled') < types.lastIndexOf('delivered'), `held before it was sent: ${types.join(' ')}`);
    }
    assert.ok(views.every((v) => v.recipients[0].pool === 'default'));
    const delivered = views.filter((v) => v.status === 'delivered');
    const held = views.filter((v) => v.status === 'queued');
    assert.equal(delivered.length, 5);
    assert.equal(held.length, 15);
    for (const v of held) {
      const t = v.events.filter((e: any) => e.type === 'throttled');
      assert.ok(t.length >= 1, 'the trace says why it waits');
      for (const e of t) assert.equal(e.data.limit, 'warmup:default:gmail');
      const last = t.at(-1);
      assert.match(last.data.reason, /^warm-up day 1 for gmail on pool default: \d of 5 sent today, next at /);
      assert.equal(v.recipients[0].last_class, 'warmup');
    }
    // Beyond today's cap, every held one waits for the next plan day, and its trace says so.
    const w = await warmup(p, warmupId);
    for (const v of held) {
      const last = v.events.filter((e: any) => e.type === 'throttled').at(-1);
      assert.equal(last.data.next_attempt_at, w.next_day_at);
      assert.ok(last.data.reason.endsWith(`next at ${w.next_day_at} (the next plan day)`), last.data.reason);
      assert.equal(v.recipients[0].next_attempt_at, w.next_day_at);
    }

    const g = gmailOf(w);
    assert.deepEqual([g.sent_today, g.cap_today, g.remaining_today], [5, 5, 0]);
    assert.equal(g.next_send_at, w.next_day_at);
    assert.equal(g.projected.per_day, 5);
    await waitFor(async () => gmailOf(await warmup(p, warmupId)).signals_today.sent === 5, 3_000, 'five results counted');
    const list = await p.api('GET', '/v1/warmups');
    assert.equal(gmailOf(list.body.data[0]).sent_today, 5);
  });

  test('the next plan day grows the cap (×2) and releases that many more', async () => {
    const events = await p.edge.hub.advanceWarmupDay(warmupId);
    const grow = events.find((e) => e.data.provider === 'gmail')!;
    assert.equal(grow.data.decision, 'grow');
    assert.equal(grow.to, 'day 2 (10/day)');
    const gmail = sim.providers.gmail;
    await waitFor(() => gmail.count('accepted') >= 15, 10_000, 'ten more Gmail deliveries');
    await sleep(4_000);
    assert.equal(gmail.count('accepted'), 15, 'day 2 sends its cap of 10, no more');

    const w = await warmup(p, warmupId);
    const g = gmailOf(w);
    assert.deepEqual([g.day, g.cap_today, g.sent_today], [2, 10, 10]);
    assert.equal(g.last_decision.decision, 'grow');
    assert.equal(g.last_decision.from_day, 1);
    assert.equal(g.last_decision.to_day, 2);
    assert.equal(g.projected.per_day, 10);
    assert.ok(w.events.some((e: any) => e.type === 'grow' && e.data.provider === 'gmail' && e.to === 'day 2 (10/day)'));
    assert.equal(w.events.at(-1).type, 'started');
    const rep = await p.api('GET', '/v1/reputation?limit=1000');
    assert.ok(rep.body.events.some((e: any) => e.scope === 'warmup' && e.type === 'warmup' && /^grow for gmail on pool default: healthy day/.test(e.reason)));
  });

  test('an edge restart keeps the plan day and today\'s count', async () => {
    await p.restartEdge();
    const w = await warmup(p, warmupId);
    const g = gmailOf(w);
    assert.deepEqual([g.day, g.sent_today, g.cap_today], [2, 10, 10]);
    // The node reconnects; the cap is still used, so the last five stay held.
    await waitFor(async () => (await p.api('GET', '/v1/nodes')).body.data.length === 1, 10_000, 'the node to reconnect');
    await sleep(1_500);
    assert.equal(sim.providers.gmail.count('accepted'), 15);
  });

  test('stopping an IP warm-up no node declares releases no pool\'s held jobs', async () => {
    const held = (await Promise.all(ids.map((id) => view(p, id)))).filter((v) => v.status === 'queued');
    assert.equal(held.length, 5);
    const nextDay = (await warmup(p, warmupId)).next_day_at;
    const ip = await p.api('POST', '/v1/warmups', { ip: '192.0.2.77' });
    assert.equal(ip.status, 201, JSON.stringify(ip.body));
    assert.equal(ip.body.pool, null);
    assert.equal((await p.api('DELETE', `/v1/warmups/${ip.body.id}`)).status, 200);
    // The pool warm-up's held jobs still wait for its next plan day.
    for (const v of await Promise.all(held.map((v) => view(p, v.id)))) assert.equal(v.recipients[0].next_attempt_at, nextDay, JSON.stringify(v.recipients[0]));
  });

  test('stopping the warm-up lets the rest go at the pool\'s normal rates', async () => {
    const res = await p.api('DELETE', `/v1/warmups/${warmupId}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'stopped');
    assert.equal(res.body.next_day_at, null);
    assert.equal(gmailOf(res.body).sent_today, 10, 'the counts as they stood');
    await waitFor(() => sim.providers.gmail.count('accepted') >= 20, 10_000, 'the last five');
    const views = await Promise.all(ids.map((id) => view(p, id)));
    assert.ok(views.every((v) => v.status === 'delivered'));
    const w = await warmup(p, warmupId);
    assert.equal(w.events[0].type, 'stopped');
    const rep = await p.api('GET', '/v1/reputation?limit=1000');
    assert.ok(rep.body.events.some((e: any) => e.scope === 'warmup' && e.key === warmupId && e.to === 'stopped'));
  });
});
