/**
 * One contract for the Counters port, run against every implementation: the in-process
 * MemoryCounters (Node entry) and the RateCounter Durable Object in real workerd, reached the
 * way the Worker reaches it (DurableCounters over the namespace binding).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WORKER_MODULE_RULES } from '../../dev/cluster/workerd.ts';
import { dirname } from 'node:path';
import { Miniflare } from 'miniflare';
import type { Counters } from '../../edge/ports/counters.ts';
import { MemoryCounters } from '../../edge/adapters/memory-counters.ts';
import { DurableCounters } from '../../edge/durable/counters-client.ts';
import { buildWorker } from '../../dev/cluster/index.ts';

function contract(name: string, make: () => Counters) {
  describe(`Counters contract: ${name}`, () => {
    let counters: Counters;
    before(() => {
      counters = make();
    });
    const unique = (label: string) => `test:${label}:${Math.random().toString(36).slice(2)}`;

    test('a new bucket starts full and grants up to its burst', async () => {
      const bucket = unique('burst');
      const limit = { ratePerSec: 0.001, burst: 5 };
      const first = await counters.take(bucket, 3, limit);
      assert.deepEqual([first.granted, first.remaining], [true, 2]);
      assert.equal((await counters.take(bucket, 2, limit)).granted, true);
      const refused = await counters.take(bucket, 1, limit);
      assert.equal(refused.granted, false);
      assert.equal(refused.remaining, 0);
      assert.ok(refused.retryAfterMs > 0);
    });

    test('a refused take takes nothing (all or none)', async () => {
      const bucket = unique('whole');
      const limit = { ratePerSec: 0.001, burst: 4 };
      assert.equal((await counters.take(bucket, 3, limit)).granted, true);
      assert.equal((await counters.take(bucket, 2, limit)).granted, false);
      assert.equal((await counters.take(bucket, 1, limit)).granted, true);
    });

    test('retry-after is when the tokens will be there, and they are', async () => {
      const bucket = unique('refill');
      const limit = { ratePerSec: 20, burst: 2 };
      await counters.take(bucket, 2, limit);
      const refused = await counters.take(bucket, 2, limit);
      assert.equal(refused.granted, false);
      assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 100, `retry after ${refused.retryAfterMs}`);
      await new Promise((r) => setTimeout(r, refused.retryAfterMs + 20));
      assert.equal((await counters.take(bucket, 2, limit)).granted, true);
    });

    test('more than the burst is never granted (retry-after Infinity)', async () => {
      const refused = await counters.take(unique('huge'), 10, { ratePerSec: 100, burst: 5 });
      assert.equal(refused.granted, false);
      assert.equal(refused.retryAfterMs, Infinity);
    });

    test('buckets are independent by name', async () => {
      const limit = { ratePerSec: 0.001, burst: 1 };
      const a = unique('a');
      const b = unique('b');
      assert.equal((await counters.take(a, 1, limit)).granted, true);
      assert.equal((await counters.take(b, 1, limit)).granted, true);
      assert.equal((await counters.take(a, 1, limit)).granted, false);
    });

    test('concurrent takes never over-grant', async () => {
      const bucket = unique('race');
      const limit = { ratePerSec: 0.001, burst: 10 };
      const results = await Promise.all(Array.from({ length: 30 }, () => counters.take(bucket, 1, limit)));
      assert.equal(results.filter((r) => r.granted).length, 10);
    });
  });
}

contract('MemoryCounters (in process)', () => new MemoryCounters());

let mf: Miniflare | null = null;
let durable: Counters;
before(async () => {
  const script = await buildWorker();
  mf = new Miniflare({
    modules: true,
      modulesRules: WORKER_MODULE_RULES,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: '2026-04-20',
    durableObjects: { RATE_COUNTER: { className: 'RateCounter', useSQLite: true }, LEASE_HUB: { className: 'LeaseHubObject', useSQLite: true } },
  });
  await mf.ready;
  durable = new DurableCounters((await mf.getDurableObjectNamespace('RATE_COUNTER')) as never);
});
after(async () => {
  await mf?.dispose();
});
contract('RateCounter Durable Object (workerd)', () => durable);
