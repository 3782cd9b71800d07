import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocate, fairShare, type Demand, type Grant, type Lane } from '../../../shared/policy/scheduler.ts';

const byLane = (g: Grant[]) => {
  const out: Record<Lane, number> = { transactional: 0, lifecycle: 0, outreach: 0 };
  for (const x of g) out[x.lane] += x.count;
  return out;
};
const byTenant = (g: Grant[], lane: Lane) => Object.fromEntries(g.filter((x) => x.lane === lane).map((x) => [x.tenantId, x.count]));

test('lane totals: table', () => {
  const table: Array<[name: string, credits: number, demand: Demand[], expected: Record<Lane, number>]> = [
    ['all busy: 70/25/5', 100, [{ lane: 'transactional', tenantId: 'a', queued: 1e6 }, { lane: 'lifecycle', tenantId: 'a', queued: 1e6 }, { lane: 'outreach', tenantId: 'a', queued: 1e6 }], { transactional: 70, lifecycle: 25, outreach: 5 }],
    ['lifecycle blast, a little transactional', 100, [{ lane: 'transactional', tenantId: 'a', queued: 10 }, { lane: 'lifecycle', tenantId: 'b', queued: 20_000 }], { transactional: 10, lifecycle: 90, outreach: 0 }],
    ['idle outreach share flows to transactional first', 100, [{ lane: 'transactional', tenantId: 'a', queued: 1000 }, { lane: 'lifecycle', tenantId: 'b', queued: 1000 }], { transactional: 75, lifecycle: 25, outreach: 0 }],
    ['tiny budget: every busy lane moves', 3, [{ lane: 'transactional', tenantId: 'a', queued: 100 }, { lane: 'lifecycle', tenantId: 'b', queued: 100 }, { lane: 'outreach', tenantId: 'c', queued: 100 }], { transactional: 1, lifecycle: 1, outreach: 1 }],
    ['one credit goes by priority', 1, [{ lane: 'lifecycle', tenantId: 'b', queued: 100 }, { lane: 'outreach', tenantId: 'c', queued: 100 }], { transactional: 0, lifecycle: 1, outreach: 0 }],
    ['less demand than credits', 100, [{ lane: 'outreach', tenantId: 'c', queued: 7 }], { transactional: 0, lifecycle: 0, outreach: 7 }],
    ['nothing queued', 50, [], { transactional: 0, lifecycle: 0, outreach: 0 }],
    ['zero credits', 0, [{ lane: 'transactional', tenantId: 'a', queued: 9 }], { transactional: 0, lifecycle: 0, outreach: 0 }],
  ];
  for (const [name, credits, demand, expected] of table) assert.deepEqual(byLane(allocate(credits, demand)), expected, name);
});

test('transactional always gets its share during a lifecycle blast', () => {
  for (const credits of [10, 37, 100, 1000]) {
    const g = allocate(credits, [
      { lane: 'transactional', tenantId: 'a', queued: 1e6 },
      { lane: 'lifecycle', tenantId: 'b', queued: 1e6 },
      { lane: 'outreach', tenantId: 'c', queued: 1e6 },
    ]);
    const t = byLane(g);
    assert.ok(t.transactional >= Math.floor(credits * 0.7) - 2, `${credits}: ${JSON.stringify(t)}`);
    assert.ok(t.outreach >= 1 && t.lifecycle >= 1, `${credits}: no lane starves`);
    assert.equal(t.transactional + t.lifecycle + t.outreach, credits);
  }
});

test('a tenant\'s 20k blast does not starve another tenant in the lane', () => {
  const g = allocate(100, [
    { lane: 'lifecycle', tenantId: 'blaster', queued: 20_000 },
    { lane: 'lifecycle', tenantId: 'small', queued: 30 },
    { lane: 'lifecycle', tenantId: 'medium', queued: 500 },
    { lane: 'transactional', tenantId: 'small', queued: 5 },
  ]);
  assert.deepEqual(byTenant(g, 'lifecycle'), { blaster: 33, medium: 32, small: 30 });
  assert.deepEqual(byTenant(g, 'transactional'), { small: 5 });
});

test('fair share: water-filling and random tie-breaks', () => {
  const q = new Map([['a', 2], ['b', 100], ['c', 100]]);
  assert.deepEqual(Object.fromEntries(fairShare(11, q)), { a: 2, b: 5, c: 4 });
  const wins = new Set<string>();
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let i = 0; i < 20; i++) {
    const r = fairShare(1, new Map([['x', 5], ['y', 5]]), random);
    for (const [t, n] of r) if (n) wins.add(t);
  }
  assert.deepEqual([...wins].sort(), ['x', 'y']);
  assert.throws(() => allocate(1, [{ lane: 'bulk' as Lane, tenantId: 'a', queued: 1 }]), /unknown lane "bulk"/);
});

test('duplicate rows are summed and never over-granted', () => {
  const g = allocate(50, [
    { lane: 'outreach', tenantId: 'a', queued: 3 },
    { lane: 'outreach', tenantId: 'a', queued: 4 },
  ]);
  assert.deepEqual(g, [{ lane: 'outreach', tenantId: 'a', count: 7 }]);
});
