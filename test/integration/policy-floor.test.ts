/** Operator policy is a floor: a tenant's PUT /v1/policies may tighten it, never loosen it. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, type Platform } from '../helpers/platform.ts';

describe('operator policy is a floor for tenant policies', () => {
  let p: Platform;
  let as: Record<string, string>;
  before(async () => {
    p = await startPlatform();
    const t = await p.api('POST', '/v1/tenants', { name: 'acme' });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    as = { authorization: `Bearer ${t.body.api_key}` };
  });
  after(() => p?.stop());

  const put = (body: unknown, headers = as) => p.api('PUT', '/v1/policies', body, headers);

  test('switching the outreach guard-rails off is refused, naming the field', async () => {
    const res = await put({ lanes: { outreach: { outreach: null } } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.field, 'lanes.outreach.outreach');
    assert.match(res.body.error.reason, /floor.*never remove/);
    const view = await p.api('GET', '/v1/policies', undefined, as);
    assert.ok(view.body.resolved.outreach.outreach, 'nothing was stored');
  });

  test('raising the outreach daily cap or the tenant rate above the operator’s is refused, naming the field', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ lanes: { outreach: { quota: { dailyCap: 5000 } } } }, 'lanes.outreach.quota.dailyCap', /200.*only lower/],
      [{ lanes: { outreach: { tenantRate: '600/min' } } }, 'lanes.outreach.tenantRate', /"60\/min".*only lower/],
      [{ lanes: { outreach: { tenantRate: null } } }, 'lanes.outreach.tenantRate', /only lower/],
      [{ lanes: { outreach: { sendWindow: null } } }, 'lanes.outreach.sendWindow', /only narrow/],
      [{ defaults: { warmup: { enabled: false } } }, 'defaults.warmup.enabled', /may not switch it off/],
    ];
    for (const [body, field, reason] of cases) {
      const res = await put(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
      assert.match(res.body.error.reason, reason);
    }
  });

  test('lowering them is stored and the effective policy uses the tenant’s tighter values', async () => {
    const res = await put({ lanes: { outreach: { quota: { dailyCap: 50 }, tenantRate: '10/min' } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const view = await p.api('GET', '/v1/policies', undefined, as);
    assert.equal(view.body.resolved.outreach.quota.dailyCap, 50);
    assert.equal(view.body.resolved.outreach.tenantRate, '10/min');
    assert.equal(view.body.resolved.outreach.clamped, undefined);
  });

  test('the operator is not held to a floor, and tightening later clamps the stored tenant value', async () => {
    const op = await p.api('PUT', '/v1/policies', { lanes: { outreach: { quota: { dailyCap: 20 }, tenantRate: '5/min' } } });
    assert.equal(op.status, 200, JSON.stringify(op.body));
    const view = await p.api('GET', '/v1/policies', undefined, as);
    assert.equal(view.body.document.lanes.outreach.quota.dailyCap, 50, 'the stored document is the tenant’s');
    assert.equal(view.body.resolved.outreach.quota.dailyCap, 20, 'the effective cap is the new floor');
    assert.equal(view.body.resolved.outreach.tenantRate, '5/min');
    assert.deepEqual(view.body.resolved.outreach.clamped, ['tenantRate', 'quota.dailyCap']);
    // The operator may loosen its own floor (it is the floor), and switching it off applies to it.
    const loosen = await p.api('PUT', '/v1/policies', { lanes: { outreach: { outreach: null } } });
    assert.equal(loosen.status, 200, JSON.stringify(loosen.body));
    assert.equal(loosen.body.resolved.outreach.outreach, null);
  });
});
