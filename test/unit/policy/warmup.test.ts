import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advanceWarmup, dailyCap, decideDay, DEFAULT_WARMUP, nextSendAt, projectedSafeThroughput, type WarmupPlan } from '../../../shared/policy/warmup.ts';

const H = 3_600_000;

test('daily caps grow by the factor, per provider, up to the maximum', () => {
  const table: Array<[provider: string, day: number, cap: number]> = [
    ['gmail', 1, 50],
    ['gmail', 2, 75],
    ['gmail', 3, 113],
    ['gmail', 10, 1922],
    ['apple', 1, 25],
    ['seznam', 1, 100], // falls back to `other`
    ['yahoo', 30, 50_000], // capped at maxDaily
    ['gmail', 0, 50],
  ];
  for (const [p, d, cap] of table) assert.equal(dailyCap(DEFAULT_WARMUP, p, d), cap, `${p} day ${d}`);
  const tabled: WarmupPlan = { ...DEFAULT_WARMUP, table: { microsoft: [20, 40, 80] } };
  assert.deepEqual([1, 2, 3, 9].map((d) => dailyCap(tabled, 'microsoft', d)), [20, 40, 80, 80]);
});

test('a day\'s signals decide growth, hold or step back', () => {
  const table: Array<[name: string, day: number, s: { sent: number; complained: number; blocked: number; bounced: number }, decision: string, next: number]> = [
    ['healthy and used', 5, { sent: 250, complained: 0, blocked: 0, bounced: 2 }, 'grow', 6],
    ['complaints at 0.08 %: hold', 5, { sent: 2500, complained: 2, blocked: 0, bounced: 0 }, 'hold', 5],
    ['complaints at 0.4 %: step back 2 days', 5, { sent: 250, complained: 1, blocked: 0, bounced: 0 }, 'step_back', 3],
    ['blocks at 2 %: step back', 2, { sent: 100, complained: 0, blocked: 2, bounced: 0 }, 'step_back', 1],
    ['bounces at 4 %: hold', 5, { sent: 250, complained: 0, blocked: 0, bounced: 10 }, 'hold', 5],
    ['cap barely used: hold', 5, { sent: 20, complained: 0, blocked: 0, bounced: 0 }, 'hold', 5],
  ];
  for (const [name, day, s, decision, next] of table) {
    const d = decideDay(DEFAULT_WARMUP, 'gmail', day, s);
    assert.deepEqual([d.decision, d.nextDay], [decision, next], name);
  }
  assert.equal(decideDay(DEFAULT_WARMUP, 'yahoo', 30, { sent: 50_000, complained: 0, blocked: 0, bounced: 0 }).decision, 'complete');
});

test('advance moves each provider by its own signals', () => {
  const r = advanceWarmup(DEFAULT_WARMUP, { days: { gmail: 4, yahoo: 4 } }, {
    gmail: { sent: 200, complained: 0, blocked: 0, bounced: 0 },
    yahoo: { sent: 200, complained: 2, blocked: 0, bounced: 0 },
  });
  assert.equal(r.state.days.gmail, 5);
  assert.equal(r.state.days.yahoo, 2);
  assert.equal(r.decisions.yahoo.decision, 'step_back');
  assert.equal(r.state.days.microsoft, 1); // no sends, no growth
});

test('sends are spread over the window with random spacing', () => {
  const plan = { ...DEFAULT_WARMUP, day1: { ...DEFAULT_WARMUP.day1, gmail: 12 } };
  const base = { plan, provider: 'gmail', day: 1, dayStart: 0 };
  assert.equal(nextSendAt({ ...base, sentToday: 0, lastSendAt: null, now: 0, random: () => 0.5 }), 0);
  // 12 h / 11 remaining sends, random 0.5 → exactly the even gap
  assert.equal(nextSendAt({ ...base, sentToday: 1, lastSendAt: 0, now: 0, random: () => 0.5 }), Math.round((12 * H) / 11));
  assert.equal(nextSendAt({ ...base, sentToday: 1, lastSendAt: 0, now: 0, random: () => 0 }), Math.round((12 * H) / 11 / 2));
  assert.equal(nextSendAt({ ...base, sentToday: 1, lastSendAt: 0, now: 0, random: () => 1 }), Math.round(((12 * H) / 11) * 1.5));
  // Never in the past.
  assert.equal(nextSendAt({ ...base, sentToday: 1, lastSendAt: 0, now: 5 * H, random: () => 0 }), 5 * H);
  // Cap used: next day.
  assert.equal(nextSendAt({ ...base, sentToday: 12, lastSendAt: H, now: H, random: () => 0 }), 24 * H);
  // A simulated day stays within the cap and the window (about).
  let sent = 0;
  let last: number | null = null;
  let now = 0;
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  while (true) {
    const at = nextSendAt({ ...base, sentToday: sent, lastSendAt: last, now, random });
    if (at >= 24 * H) break;
    sent++;
    last = at;
    now = at;
  }
  assert.equal(sent, 12);
  assert.ok(last! < 14 * H, `last send at ${last! / H}h`);
});

test('projected safe throughput per provider', () => {
  const p = projectedSafeThroughput(DEFAULT_WARMUP, 3, { yahoo: { sent: 100, complained: 1, blocked: 0, bounced: 0 } });
  assert.deepEqual(p.gmail, { perDay: 113, perHour: 9, decision: 'grow', reason: 'no signals yet' });
  assert.equal(p.yahoo.decision, 'step_back');
  assert.equal(p.yahoo.perDay, 50); // stepped back to day 1
  const perProviderDays = projectedSafeThroughput(DEFAULT_WARMUP, { gmail: 10 });
  assert.equal(perProviderDays.gmail.perDay, 1922);
  assert.equal(perProviderDays.microsoft.perDay, 50);
});
