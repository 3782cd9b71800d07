/**
 * The lease hub's warm-up gate (edge/hub/warmup.ts) on a fake clock: caps hold, spacing is
 * randomised within the plan's jitter, days roll over by their signals, counts survive a
 * restart, and the Shaper refuses what the gate holds with the warm-up named as the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WarmupGate, DAY_MS, initialProviderState, type WarmupStore } from '../../edge/hub/warmup.ts';
import { Shaper } from '../../edge/hub/shaping.ts';
import { MemoryCounters } from '../../edge/adapters/memory-counters.ts';
import { DEFAULT_WARMUP, type WarmupPlan } from '../../shared/policy/warmup.ts';
import type { WarmupRecord } from '../../edge/domain/records.ts';
import type { ClaimedJob, WarmupStateUpdate } from '../../edge/ports/store.ts';

const T0 = Date.UTC(2030, 0, 7, 8, 0, 0);
const S = 1000;
const H = 3_600_000;

/** The three store calls the gate makes, in memory; `rows` is what a restart reads back. */
function memoryStore() {
  const rows = new Map<string, WarmupRecord>();
  const released: Array<{ pool: string | null; now: number }> = [];
  const store: WarmupStore & { rows: typeof rows; released: typeof released; writes: number } = {
    rows,
    released,
    writes: 0,
    async listWarmups(filter = {}) {
      return [...rows.values()].filter((r) => !filter.status || r.status === filter.status).map((r) => structuredClone(r));
    },
    async saveWarmupStates(updates: WarmupStateUpdate[]) {
      store.writes++;
      for (const u of updates) {
        const r = rows.get(u.id);
        if (!r || r.status !== 'active') continue;
        rows.set(u.id, { ...r, dayStart: u.dayStart, providers: structuredClone(u.providers), status: u.status ?? r.status, updatedAt: u.now });
      }
    },
    async releaseHeld(held, now) {
      released.push({ pool: held.pool ?? null, now });
      return 0;
    },
  };
  return store;
}

function plan(over: Partial<WarmupPlan> = {}): WarmupPlan {
  return { ...DEFAULT_WARMUP, day1: { gmail: 5, microsoft: 4, other: 10 }, growth: 2, spreadOver: '1h', spacingJitter: 0.5, ...over };
}

function addWarmup(store: ReturnType<typeof memoryStore>, p: WarmupPlan, target: { scope?: 'pool' | 'ip'; key?: string; pool?: string } = {}, id = 'wup_1') {
  const row: WarmupRecord = {
    id,
    scope: target.scope ?? 'pool',
    key: target.key ?? 'default',
    pool: target.pool ?? 'default',
    lane: null,
    overrides: {},
    plan: p as unknown as Record<string, unknown>,
    status: 'active',
    startedAt: T0,
    dayStart: T0,
    providers: Object.fromEntries(Object.keys(p.day1).map((k) => [k, initialProviderState(T0)])),
    endedAt: null,
    createdBy: null,
    updatedAt: T0,
  };
  store.rows.set(id, row);
  return row;
}

/** Offers one job to the gate as the Shaper does at grant time; counts it when it may go. */
function offer(gate: WarmupGate, now: number, job = { pool: 'default', provider: 'gmail' }, ip: string | null = '192.0.2.1') {
  const hold = gate.check(job, ip, now);
  if (!hold) gate.count(job, ip, now);
  return hold;
}

/** Polls every `step` ms from `from` to `to`, one job per poll; returns the grant times. */
function pollDay(gate: WarmupGate, from: number, to: number, step = 10 * S, job = { pool: 'default', provider: 'gmail' }) {
  const sent: number[] = [];
  for (let now = from; now < to; now += step) if (!offer(gate, now, job)) sent.push(now);
  return sent;
}

test('the daily cap holds: five sends to Gmail on day 1, then held until the next plan day', async () => {
  const store = memoryStore();
  addWarmup(store, plan());
  const gate = new WarmupGate({ store, random: () => 0.5 });
  await gate.ensureLoaded(T0);
  const sent = pollDay(gate, T0, T0 + 20 * H);
  assert.equal(sent.length, 5);
  assert.equal(sent[0], T0, 'the first send of the day goes at once');
  const hold = gate.check({ pool: 'default', provider: 'gmail' }, '192.0.2.1', T0 + 20 * H)!;
  assert.equal(hold.limit, 'warmup:default:gmail');
  assert.equal(hold.retryAt, T0 + DAY_MS, 'held until the next plan day');
  assert.match(hold.reason, /^warm-up day 1 for gmail on pool default: 5 of 5 sent today, next at 2030-01-08T08:00:00\.000Z/);
  // Caps are per provider: Microsoft has its own four, and another pool is not in warm-up.
  assert.equal(pollDay(gate, T0, T0 + 20 * H, 10 * S, { pool: 'default', provider: 'microsoft' }).length, 4);
  assert.equal(gate.check({ pool: 'other-pool', provider: 'gmail' }, '192.0.2.9', T0), null);
  // A capped (provider, pool) is left out of the claim until the next day.
  assert.deepEqual(gate.excluded(T0 + 20 * H).filter((e) => e.provider === 'gmail'), [{ provider: 'gmail', pool: 'default' }]);
});

test('spacing is randomised within the plan jitter: each gap is the even share × (1 ± jitter)', async () => {
  for (const jitter of [0, 0.3, 0.5]) {
    const store = memoryStore();
    const p = plan({ day1: { gmail: 20 }, spacingJitter: jitter, spreadOver: '10h' });
    addWarmup(store, p);
    let seed = 7;
    const draws: number[] = [];
    // A small LCG: reproducible, but not a constant.
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const r = seed / 2 ** 31;
      draws.push(r);
      return r;
    };
    const gate = new WarmupGate({ store, random });
    await gate.ensureLoaded(T0);
    const sent = pollDay(gate, T0, T0 + 12 * H, S);
    assert.equal(sent.length, 20);
    const windowEnd = T0 + 10 * H;
    const gaps: number[] = [];
    for (let i = 1; i < sent.length; i++) {
      const even = (windowEnd - sent[i - 1]) / (20 - i);
      const gap = sent[i] - sent[i - 1];
      gaps.push(gap / even);
      // The poll is 1 s, so the send lands up to a second after its slot.
      assert.ok(gap >= even * (1 - jitter) - 1 && gap <= even * (1 + jitter) + S + 1, `jitter ${jitter}: gap ${i} is ${gap} ms, even share ${even}`);
    }
    if (jitter > 0) {
      assert.ok(Math.max(...gaps) - Math.min(...gaps) > jitter / 2, `jitter ${jitter}: gaps vary (${gaps.map((g) => g.toFixed(2)).join(' ')})`);
    } else {
      for (const g of gaps) assert.ok(Math.abs(g - 1) < 0.01, 'no jitter: even gaps');
    }
    // The last gap may run past the window by its jitter, no further.
    assert.ok(sent.at(-1)! <= windowEnd + (windowEnd - sent.at(-2)!) * jitter + S, 'the day\'s cap is spread over spreadOver');
    assert.ok(sent.at(-1)! >= T0 + 10 * H * 0.5, 'and not bunched at its start');
  }
});

test('jobs held in one pass get successive slots; the ones past the cap wait for the next day', async () => {
  const store = memoryStore();
  addWarmup(store, plan({ day1: { gmail: 4 }, spreadOver: '4h' }));
  const gate = new WarmupGate({ store, random: () => 0.5 });
  await gate.ensureLoaded(T0);
  assert.equal(offer(gate, T0), null);
  const now = T0 + S;
  const holds = Array.from({ length: 6 }, () => gate.check({ pool: 'default', provider: 'gmail' }, '192.0.2.1', now)!);
  const retry = holds.map((h) => h.retryAt);
  for (let i = 1; i < 3; i++) assert.ok(retry[i] > retry[i - 1], `slot ${i} after slot ${i - 1}`);
  // Three sends left today: the fourth and later held jobs go the next day.
  assert.deepEqual(retry.slice(3), [T0 + DAY_MS, T0 + DAY_MS, T0 + DAY_MS]);
});

test('day rollover: a healthy, used day grows; a bouncy day holds; complaints step back', async () => {
  const store = memoryStore();
  addWarmup(store, plan({ day1: { gmail: 40, microsoft: 40, yahoo: 40 }, stepBackDays: 1 }));
  const gate = new WarmupGate({ store, random: () => 0.5 });
  await gate.ensureLoaded(T0);
  // Day 1 → 2 for all three (healthy and used), so day 2 can step back.
  for (const provider of ['gmail', 'microsoft', 'yahoo']) {
    const sent = pollDay(gate, T0, T0 + 2 * H, 10 * S, { pool: 'default', provider });
    assert.equal(sent.length, 40);
    gate.observe({ pool: 'default', provider }, '192.0.2.1', { sent: 40, bounced: 0, blocked: 0 });
  }
  let events = await gate.tick(T0 + DAY_MS);
  assert.deepEqual(events.map((e) => [e.data.provider, e.data.decision, e.to]), [
    ['gmail', 'grow', 'day 2 (80/day)'],
    ['microsoft', 'grow', 'day 2 (80/day)'],
    ['yahoo', 'grow', 'day 2 (80/day)'],
  ]);
  assert.equal(events[0].scope, 'warmup');
  assert.equal(events[0].key, 'wup_1');
  // Day 2: Gmail healthy, Microsoft bounces 3.75 % (hold), Yahoo has one complaint in 80 (step back).
  const day2 = T0 + DAY_MS;
  for (const provider of ['gmail', 'microsoft', 'yahoo']) {
    assert.equal(pollDay(gate, day2, day2 + 2 * H, 10 * S, { pool: 'default', provider }).length, 80, `${provider} day 2 cap`);
  }
  gate.observe({ pool: 'default', provider: 'gmail' }, null, { sent: 80, bounced: 0, blocked: 0 });
  gate.observe({ pool: 'default', provider: 'microsoft' }, null, { sent: 80, bounced: 3, blocked: 0 });
  gate.observe({ pool: 'default', provider: 'yahoo' }, null, { sent: 80, bounced: 0, blocked: 0 });
  gate.recordComplaint('default', null, 'yahoo');
  // Before the day is over nothing rolls.
  assert.deepEqual(await gate.tick(day2 + DAY_MS - 1), []);
  events = await gate.tick(day2 + DAY_MS + 5 * S);
  const by = Object.fromEntries(events.map((e) => [e.data.provider, e]));
  assert.equal(by.gmail.data.decision, 'grow');
  assert.equal(by.gmail.to, 'day 3 (160/day)');
  assert.equal(by.microsoft.data.decision, 'hold');
  assert.match(by.microsoft.reason, /bounce rate 3\.75% >= 3\.00%/);
  assert.equal(by.yahoo.data.decision, 'step_back');
  assert.equal(by.yahoo.to, 'day 1 (40/day)');
  assert.match(by.yahoo.reason, /complaint rate/);
  // The new day starts on the plan's calendar, not when the tick ran; and is written back.
  const row = store.rows.get('wup_1')!;
  assert.equal(row.dayStart, day2 + DAY_MS);
  assert.equal(row.providers.yahoo.day, 1);
  assert.equal(row.providers.yahoo.lastDecision!.decision, 'step_back');
  assert.equal(row.providers.gmail.sentToday, 0);
});

test('a provider that reaches the maximum completes; when all have, the warm-up is complete', async () => {
  const store = memoryStore();
  addWarmup(store, plan({ day1: { gmail: 2 }, maxDaily: { gmail: 4 } }));
  const gate = new WarmupGate({ store, random: () => 0.5 });
  await gate.ensureLoaded(T0);
  pollDay(gate, T0, T0 + H);
  gate.observe({ pool: 'default', provider: 'gmail' }, null, { sent: 2, bounced: 0, blocked: 0 });
  assert.equal((await gate.tick(T0 + DAY_MS))[0].data.decision, 'grow');
  const events = await gate.tick(T0 + 2 * DAY_MS);
  assert.deepEqual(events.map((e) => e.to), ['complete', 'complete']);
  assert.equal(store.rows.get('wup_1')!.status, 'complete');
  assert.equal(gate.check({ pool: 'default', provider: 'gmail' }, null, T0 + 2 * DAY_MS + S), null, 'no longer held');
});

test('restart: a new gate over the same store resumes the day, today\'s count and the next slot', async () => {
  const store = memoryStore();
  addWarmup(store, plan());
  const first = new WarmupGate({ store, random: () => 0.5 });
  await first.ensureLoaded(T0);
  // Five over an hour, no jitter drawn off-centre: sends at 0, 15 and 30 minutes.
  assert.equal(pollDay(first, T0, T0 + 35 * 60 * S, 10 * S).length, 3);
  const writesBefore = store.writes;
  await first.tick(T0 + 35 * 60 * S);
  assert.equal(store.writes, writesBefore + 1, 'one batched write per tick');
  await first.tick(T0 + 35 * 60 * S + 250);
  assert.equal(store.writes, writesBefore + 1, 'nothing changed: nothing written');

  const second = new WarmupGate({ store, random: () => 0.5 });
  await second.ensureLoaded(T0 + 36 * 60 * S);
  const after = T0 + 36 * 60 * S;
  const hold = second.check({ pool: 'default', provider: 'gmail' }, null, after);
  const firstHold = first.check({ pool: 'default', provider: 'gmail' }, null, after);
  assert.ok(hold && firstHold);
  assert.match(hold.reason, /3 of 5 sent today/);
  assert.equal(hold.retryAt, firstHold.retryAt, 'the same spacing slot after the restart');
  assert.equal(pollDay(second, after, T0 + 20 * H).length, 2, 'only the rest of the cap');
});

test('an IP warm-up holds only that IP; advancing the day by hand releases what it held', async () => {
  const store = memoryStore();
  addWarmup(store, plan({ day1: { gmail: 1 } }), { scope: 'ip', key: '192.0.2.7', pool: 'default' });
  const gate = new WarmupGate({ store, random: () => 0.5 });
  await gate.ensureLoaded(T0);
  const job = { pool: 'default', provider: 'gmail' };
  assert.equal(gate.check(job, null, T0), null, 'pool-level check: an IP warm-up does not apply');
  assert.equal(offer(gate, T0, job, '192.0.2.7'), null);
  assert.equal(gate.check(job, '192.0.2.7', T0 + S)!.limit, 'warmup:192.0.2.7:gmail');
  assert.match(gate.check(job, '192.0.2.7', T0 + S)!.reason, /on IP 192\.0\.2\.7: 1 of 1/);
  assert.equal(gate.check(job, '192.0.2.8', T0 + S), null, 'the pool\'s other IP is not warming');
  assert.deepEqual(gate.excluded(T0 + S), [], 'IP warm-ups do not exclude the pool at claim time');
  gate.observe(job, '192.0.2.7', { sent: 1, bounced: 0, blocked: 0 });
  gate.observe(job, '192.0.2.8', { sent: 5, bounced: 5, blocked: 0 });
  const events = await gate.advanceDay('wup_1', T0 + 2 * H);
  assert.equal(events[0].data.decision, 'grow');
  assert.deepEqual(store.released, [{ pool: 'default', now: T0 + 2 * H }]);
  assert.equal(offer(gate, T0 + 2 * H, job, '192.0.2.7'), null, 'day 2 opens at once');
});

test('a warm-up stopped in the store is dropped at the next reload', async () => {
  const store = memoryStore();
  addWarmup(store, plan({ day1: { gmail: 1 } }));
  const gate = new WarmupGate({ store, random: () => 0.5 });
  await gate.ensureLoaded(T0);
  offer(gate, T0);
  assert.ok(gate.check({ pool: 'default', provider: 'gmail' }, null, T0 + S));
  store.rows.get('wup_1')!.status = 'stopped';
  await gate.reload(T0 + 2 * S, true);
  assert.equal(gate.check({ pool: 'default', provider: 'gmail' }, null, T0 + 2 * S), null);
});

function claimed(i: number, provider = 'gmail'): ClaimedJob {
  return {
    id: `job_${i}`, messageId: `msg_${i}`, tenantId: 'default', recipient: `u${i}@gmail.com`, recipientKind: 'to', domain: 'gmail.com', senderDomain: 'example.com',
    provider, pool: 'default', lane: 'lifecycle', region: null, dedupKey: `d${i}`, state: 'leased', attempts: 1, nextAttemptAt: T0, leaseId: `l${i}`, leaseOwner: 'n',
    leaseExpiresAt: T0 + 60_000, lastReply: null, lastClass: null, createdAt: T0, updatedAt: T0, finishedAt: null, returnPathDomain: 'example.com', dkimDomain: 'example.com', dkimKeyId: 'default:example.com:s1', constraints: null,
  };
}

test('Shaper.admit: a pool in warm-up sends the day\'s first Gmail job and refuses the rest naming the warm-up', async () => {
  const store = memoryStore();
  addWarmup(store, plan({ day1: { gmail: 5 } }));
  const gate = new WarmupGate({ store, random: () => 0.5 });
  const shaper = new Shaper({ counters: new MemoryCounters(), warmup: gate });
  const ips = new Map([['default', ['192.0.2.1']]]);
  const r = await shaper.admit(Array.from({ length: 20 }, (_, i) => claimed(i)), ips, T0);
  assert.equal(r.granted.length, 1);
  assert.equal(r.refused.length, 19);
  for (const x of r.refused) assert.equal(x.limit, 'warmup:default:gmail');
  assert.match(r.refused[0].reason, /warm-up day 1 for gmail on pool default: 1 of 5 sent today, next at /);
  assert.ok(r.refused.every((x) => x.retryAt > T0));
  assert.ok(shaper.excluded(T0 + S).some((e) => e.provider === 'gmail' && e.pool === 'default'));
  // Results feed the day's signals through observe.
  shaper.observe(claimed(0), 'delivered', null, '192.0.2.1', T0 + S);
  await gate.flush(T0 + S);
  assert.equal(store.rows.get('wup_1')!.providers.gmail.signals.sent, 1);
  assert.equal(shaper.warmup, gate, 'complaint intake reaches the gate through the Shaper');
});

test('a store that fails the write-back loses nothing: the counts are written on a later tick', async () => {
  const store = memoryStore();
  addWarmup(store, plan());
  const gate = new WarmupGate({ store, random: () => 0.5 });
  await gate.ensureLoaded(T0);
  offer(gate, T0);
  const save = store.saveWarmupStates;
  store.saveWarmupStates = async () => {
    throw new Error('store down');
  };
  assert.deepEqual(await gate.tick(T0 + S), [], 'the tick itself does not throw');
  assert.equal(store.rows.get('wup_1')!.providers.gmail.sentToday, 0);
  store.saveWarmupStates = save;
  await gate.tick(T0 + 2 * S);
  assert.equal(store.rows.get('wup_1')!.providers.gmail.sentToday, 1);
});
