import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY_DOCUMENT, loadPolicyDocument, PolicyDocumentSchema, resolvePolicy } from '../../../shared/policy/defaults.ts';
import { PolicyValidationError } from '../../../shared/policy/providers.ts';
import * as v from 'valibot';

test('the shipped document passes its own schema', () => {
  const r = v.safeParse(PolicyDocumentSchema, DEFAULT_POLICY_DOCUMENT);
  assert.ok(r.success, r.success ? '' : JSON.stringify(r.issues.map((i) => [v.getDotPath(i), i.message])));
});

test('safe defaults per lane', () => {
  const tx = resolvePolicy(DEFAULT_POLICY_DOCUMENT, { tenantId: 'acme', lane: 'transactional' });
  assert.deepEqual([tx.pools, tx.allowSharedSpillover, tx.sendWindow, tx.outreach, tx.warmup.enabled], [['transactional'], false, null, null, true]);
  assert.deepEqual(tx.layers, ['builtin', 'defaults', 'lanes.transactional']);
  assert.deepEqual(tx.laneWeights, { transactional: 70, lifecycle: 25, outreach: 5 });
  const out = resolvePolicy(DEFAULT_POLICY_DOCUMENT, { tenantId: 'acme', lane: 'outreach' });
  assert.equal(out.outreach?.batchSize, 25);
  assert.equal(out.sendWindow?.start, '09:00');
  assert.equal(out.breaker.slowStartOn.complaintRate, 0.001);
  assert.equal(out.breaker.window, '1h'); // untouched keys kept from the built-in
  assert.equal(out.warmup.plan.growth, 1.25);
  assert.equal(out.warmup.plan.day1.gmail, 50);
});

test('tenant, lane and sending-domain layers, most specific last', () => {
  const doc = loadPolicyDocument({
    defaults: { tenantRate: '300/min' },
    tenants: {
      acme: {
        defaults: { regions: ['eu'] },
        lanes: { lifecycle: { pools: ['acme-bulk'], allowSharedSpillover: true } },
        domains: {
          'acme.com': { breaker: { minVolume: 50 } },
          'news.acme.com': { dedicatedOnly: true, lanes: { lifecycle: { pools: ['acme-news'] } } },
        },
      },
    },
  });
  const p = resolvePolicy(doc, { tenantId: 'acme', lane: 'lifecycle', domain: 'news.acme.com' });
  assert.deepEqual(p.layers, [
    'builtin',
    'defaults',
    'lanes.lifecycle',
    'tenants.acme.defaults',
    'tenants.acme.lanes.lifecycle',
    'tenants.acme.domains.acme.com',
    'tenants.acme.domains.news.acme.com',
    'tenants.acme.domains.news.acme.com.lanes.lifecycle',
  ]);
  assert.deepEqual(p.pools, ['acme-news']);
  assert.deepEqual(p.regions, ['eu']);
  assert.equal(p.tenantRate, '300/min');
  assert.equal(p.breaker.minVolume, 50); // from the parent domain
  assert.equal(p.breaker.slowStartOn.bounceRate, 0.05);
  assert.equal(p.dedicatedOnly, true);
  assert.equal(p.allowSharedSpillover, false); // dedicated-only wins over the tenant's spillover
  // Another tenant sees none of it.
  const other = resolvePolicy(doc, { tenantId: 'globex', lane: 'lifecycle', domain: 'globex.com' });
  assert.deepEqual(other.pools, ['lifecycle']);
  assert.equal(other.regions, null);
  // A partial outreach block on another lane fills from the shipped guard-rails.
  const partial = resolvePolicy(loadPolicyDocument({ lanes: { lifecycle: { outreach: { verification: 'flag' } } } }), { tenantId: 'x', lane: 'lifecycle' });
  assert.equal(partial.outreach?.verification, 'flag');
  assert.equal(partial.outreach?.batchSize, 25);
});

test('the loader rejects unknown keys and bad values, naming the key path', () => {
  const table: Array<[unknown, RegExp]> = [
    [{ lanes: { bulk: {} } }, /lanes\.bulk: unknown key/],
    [{ tenants: { acme: { lanes: { outreach: { batchsize: 5 } } } } }, /tenants\.acme\.lanes\.outreach\.batchsize: unknown key/],
    [{ tenants: { acme: { domains: { 'acme.com': { breaker: { window: '1 fortnight' } } } } } }, /tenants\.acme\.domains\.acme\.com\.breaker\.window: invalid duration "1 fortnight"/],
    [{ defaults: { tenantRate: 'fast' } }, /defaults\.tenantRate: invalid rate "fast"/],
    [{ defaults: { sendWindow: { days: ['monday'], start: '09:00', end: '17:00' } } }, /defaults\.sendWindow\.days\.0/],
  ];
  for (const [input, pattern] of table) {
    assert.throws(() => loadPolicyDocument(input), (e: Error) => e instanceof PolicyValidationError && pattern.test(e.message), JSON.stringify(input));
  }
  assert.throws(() => resolvePolicy(DEFAULT_POLICY_DOCUMENT, { tenantId: 'a', lane: 'bulk' as never }), /unknown lane "bulk"/);
});
