import { test } from 'node:test';
import assert from 'node:assert/strict';
import { available, fullBucket, refund, take, type BucketState } from '../../../shared/policy/token-bucket.ts';

const cfg = { ratePerSec: 2, burst: 10 };

test('take: table of grants and waits', () => {
  const table: Array<[state: BucketState | null, n: number, now: number, granted: boolean, tokensAfter: number, retryAfterMs: number]> = [
    [null, 1, 0, true, 9, 0], // new key starts full
    [null, 10, 0, true, 0, 0], // whole burst at once
    [{ tokens: 0, updatedAt: 0 }, 1, 0, false, 0, 500], // 2/s: one token in 500 ms
    [{ tokens: 0, updatedAt: 0 }, 1, 500, true, 0, 0],
    [{ tokens: 0.5, updatedAt: 0 }, 3, 0, false, 0.5, 1250],
    [{ tokens: 0, updatedAt: 0 }, 5, 60_000, true, 5, 0], // refill caps at burst
    [{ tokens: 3, updatedAt: 10_000 }, 1, 5_000, true, 2, 0], // clock behind: no refill, no rewind
    [{ tokens: 5, updatedAt: 0 }, 11, 0, false, 5, Infinity], // more than burst: never
    [{ tokens: 5, updatedAt: 0 }, 0, 0, true, 5, 0],
  ];
  for (const [state, n, now, granted, tokensAfter, retryAfterMs] of table) {
    const r = take(state, n, now, cfg);
    assert.deepEqual([r.granted, r.state.tokens, r.retryAfterMs], [granted, tokensAfter, retryAfterMs], JSON.stringify({ state, n, now }));
    assert.ok(r.state.updatedAt >= (state?.updatedAt ?? 0));
  }
});

test('a zero rate never refills', () => {
  const r = take({ tokens: 0, updatedAt: 0 }, 1, 10 * 60_000, { ratePerSec: 0, burst: 5 });
  assert.deepEqual([r.granted, r.retryAfterMs], [false, Infinity]);
});

test('sustained demand is held to the rate', () => {
  let state = fullBucket(cfg, 0);
  let granted = 0;
  for (let t = 0; t <= 60_000; t += 10) {
    const r = take(state, 1, t, cfg);
    state = r.state;
    if (r.granted) granted++;
  }
  // burst + 60 s × 2/s
  assert.equal(granted, 10 + 120);
});

test('refund and available', () => {
  const s = refund({ tokens: 9, updatedAt: 0 }, 5, cfg);
  assert.equal(s.tokens, 10);
  assert.equal(available({ tokens: 0, updatedAt: 0 }, 2000, cfg), 4);
  assert.equal(available(null, 0, cfg), 10);
  assert.throws(() => take(null, -1, 0, cfg), RangeError);
});
