import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aimdConfig, initialAimd, onAccept, onSignal, onThrottle, DEFAULT_AIMD, type AimdState } from '../../../shared/policy/aimd.ts';

const cfg = aimdConfig({
  floor: '6/min', // 0.1/s
  ceiling: '50/s',
  start: '1/s',
  decreaseFactor: 0.5,
  increase: '1/s',
  acceptsPerIncrease: 20,
  increaseInterval: '5s',
  decreaseHoldoff: '5s',
});

test('transitions: table', () => {
  const s = (rate: number, accepts = 0, lastChangeAt = 0, lastDecreaseAt: number | null = null): AimdState => ({ ratePerSec: rate, acceptsSinceChange: accepts, lastChangeAt, lastDecreaseAt });
  const table: Array<[name: string, step: () => ReturnType<typeof onAccept>, rate: number, changed: boolean]> = [
    ['accept below N: no change', () => onAccept(s(4, 5), cfg, 60_000), 4, false],
    ['Nth accept after interval: +increase', () => onAccept(s(4, 19), cfg, 60_000), 5, true],
    ['Nth accept inside the interval: wait', () => onAccept(s(4, 19, 58_000), cfg, 60_000), 4, false],
    ['at ceiling: stays', () => onAccept(s(50, 19), cfg, 60_000), 50, false],
    ['increase is clamped to ceiling', () => onAccept(s(49.5, 19), cfg, 60_000), 50, true],
    ['throttle halves', () => onThrottle(s(8), cfg, 60_000), 4, true],
    ['throttle within holdoff: ignored', () => onThrottle(s(8, 0, 58_000, 58_000), cfg, 60_000), 8, false],
    ['throttle after holdoff: halves again', () => onThrottle(s(8, 0, 50_000, 50_000), cfg, 60_000), 4, true],
    ['throttle stops at floor', () => onThrottle(s(0.15), cfg, 60_000), 0.1, true],
    ['throttle at floor: no change event', () => onThrottle(s(0.1), cfg, 60_000), 0.1, false],
    ['block signal is not AIMD business', () => onSignal(s(8), 'block', cfg, 60_000), 8, false],
  ];
  for (const [name, step, rate, changed] of table) {
    const r = step();
    assert.equal(r.state.ratePerSec, rate, name);
    assert.equal(r.change !== null, changed, name);
  }
});

test('a throttle resets the run of accepts', () => {
  const after = onThrottle({ ratePerSec: 8, acceptsSinceChange: 19, lastChangeAt: 0, lastDecreaseAt: null }, cfg, 10_000).state;
  assert.equal(after.acceptsSinceChange, 0);
  assert.equal(onAccept(after, cfg, 20_000).state.ratePerSec, 4);
});

test('converges under a provider that throttles above X', () => {
  const X = 10; // the provider accepts up to 10/s from us and throttles above
  let state = initialAimd(cfg, 0);
  let credit = 0;
  const rates: number[] = [];
  let maxRate = 0;
  for (let t = 0; t < 3600_000; t += 100) {
    credit += state.ratePerSec * 0.1;
    while (credit >= 1) {
      credit -= 1;
      state = (state.ratePerSec > X ? onThrottle(state, cfg, t) : onAccept(state, cfg, t)).state;
    }
    if (t >= 1800_000) {
      rates.push(state.ratePerSec);
      maxRate = Math.max(maxRate, state.ratePerSec);
    }
  }
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  // Sawtooth between X/2 and X + one increase; the mean sits inside the band under X.
  assert.ok(mean > X * 0.5 && mean <= X, `mean ${mean}`);
  assert.ok(maxRate <= X + 1, `max ${maxRate}`);
  assert.ok(Math.min(...rates) >= X * 0.5 - 1e-9, `min ${Math.min(...rates)}`);
});

test('defaults parse and bad configs are refused', () => {
  const c = aimdConfig(DEFAULT_AIMD);
  assert.equal(c.ceilingPerSec, 10);
  assert.throws(() => aimdConfig({ ...DEFAULT_AIMD, decreaseFactor: 1 }), /decreaseFactor/);
  assert.throws(() => aimdConfig({ ...DEFAULT_AIMD, floor: '0/min' }), /floor/);
  assert.throws(() => aimdConfig({ ...DEFAULT_AIMD, ceiling: '1/hr' }), /ceiling/);
});
