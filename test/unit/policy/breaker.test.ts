import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowedRate, breakerConfig, DEFAULT_BREAKER, evaluateBreaker, forceBreaker, initialBreaker, recordOutcome, type BreakerEvent, type BreakerState } from '../../../shared/policy/breaker.ts';

const MIN = 60_000;
const cfg = breakerConfig({ ...DEFAULT_BREAKER, floor: '10/min', full: '80/min', slowStartInterval: '15m', coolDown: '1h' });

function run(steps: Array<[at: number, counts: Parameters<typeof recordOutcome>[1] | 'tick']>): { state: BreakerState; events: BreakerEvent[] } {
  let state = initialBreaker(0);
  const events: BreakerEvent[] = [];
  for (const [at, counts] of steps) {
    const r = counts === 'tick' ? evaluateBreaker(state, cfg, at) : recordOutcome(state, counts, cfg, at);
    state = r.state;
    events.push(...r.events);
  }
  return { state, events };
}

test('thresholds: table of windows and the state they lead to', () => {
  const table: Array<[name: string, counts: Parameters<typeof recordOutcome>[1], to: string, reason: RegExp | null]> = [
    ['healthy', { sent: 1000, bounced: 10, complained: 1 }, 'closed', null],
    ['complaints above 0.3 %', { sent: 1000, complained: 4 }, 'slow_start', /complaint rate 0.40% > 0.30%/],
    ['bounces above 5 %', { sent: 1000, bounced: 60 }, 'slow_start', /bounce rate 6.00% > 5.00%/],
    ['5 blocks', { sent: 10, blocked: 5 }, 'slow_start', /5 block replies >= 5/],
    ['complaints above 1 %: open', { sent: 1000, complained: 11 }, 'open', /complaint rate/],
    ['20 blocks: open', { sent: 100, blocked: 20 }, 'open', /20 block replies/],
    ['bad rates below minimum volume: no judgement', { sent: 100, bounced: 50, complained: 10 }, 'closed', null],
  ];
  for (const [name, counts, to, reason] of table) {
    const { state, events } = run([[5 * MIN, counts]]);
    assert.equal(state.state, to, name);
    if (reason) {
      assert.equal(events.length, 1, name);
      assert.match(events[0].reason, reason, name);
      assert.equal(events[0].from, 'closed');
      assert.equal(events[0].at, 5 * MIN);
      assert.ok(events[0].metrics.sent > 0);
    } else assert.equal(events.length, 0, name);
  }
});

test('old counts slide out of the window', () => {
  // 150 + 100 sends with 14 bounces (5.6 %) trip the breaker while both batches are in the window...
  const inside = run([[0, { sent: 150, bounced: 10 }], [30 * MIN, { sent: 100, bounced: 4 }]]);
  assert.equal(inside.state.state, 'slow_start');
  // ...but an hour later the first batch is gone and 100 sends are below the minimum volume.
  const outside = run([[0, { sent: 150, bounced: 10 }], [61 * MIN, { sent: 100, bounced: 4 }]]);
  assert.equal(outside.state.state, 'closed');
});

test('slow start doubles per healthy interval and closes at full rate', () => {
  const { state, events } = run([
    [0, { sent: 1000, bounced: 60 }],
    [14 * MIN, 'tick'],
    [15 * MIN, { sent: 20 }],
    [31 * MIN, 'tick'],
    [45 * MIN, 'tick'],
  ]);
  assert.equal(state.state, 'closed');
  assert.deepEqual(events.map((e) => [e.from, e.to, e.at]), [
    ['closed', 'slow_start', 0],
    ['slow_start', 'closed', 45 * MIN],
  ]);
  assert.equal(events[0].ratePerSec, 10 / 60);
  assert.equal(allowedRate(state, cfg), 80 / 60);
  // Halfway: 10 → 20 → 40 per minute.
  const mid = run([[0, { sent: 1000, bounced: 60 }], [31 * MIN, 'tick']]).state;
  assert.equal(mid.state, 'slow_start');
  assert.equal(allowedRate(mid, cfg) * 60, 40);
});

test('a relapse in slow start opens the breaker; cool-down leads back to slow start', () => {
  const { state, events } = run([
    [0, { sent: 1000, bounced: 60 }],
    [MIN, { sent: 10, blocked: 5 }],
    [30 * MIN, 'tick'],
    [61 * MIN, 'tick'],
  ]);
  assert.deepEqual(events.map((e) => [e.from, e.to]), [
    ['closed', 'slow_start'],
    ['slow_start', 'open'],
    ['open', 'slow_start'],
  ]);
  assert.match(events[1].reason, /relapse/);
  assert.equal(events[1].ratePerSec, 0);
  assert.equal(events[2].reason, 'cool-down over');
  assert.equal(state.state, 'slow_start');
});

test('forced transitions are events too', () => {
  const r = forceBreaker(initialBreaker(0), 'slow_start', 'domain reputation (gmail 421 4.7.0)', cfg, 1000);
  assert.deepEqual([r.events[0].from, r.events[0].to, r.events[0].reason], ['closed', 'slow_start', 'domain reputation (gmail 421 4.7.0)']);
  assert.equal(forceBreaker(r.state, 'slow_start', 'again', cfg, 2000).events.length, 0);
  assert.throws(() => breakerConfig({ ...DEFAULT_BREAKER, window: '1m', bucket: '5m' }), /window/);
});
