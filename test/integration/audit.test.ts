/**
 * The audit log: every configuration change through the API records who (key id and name),
 * when, what, before and after, with no secret; queryable by actor, target and time, paged by
 * cursor, per tenant; append-only (no route deletes or changes it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, type Platform } from '../helpers/platform.ts';

const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('audit log', () => {
  let p: Platform;
  let tenant: { id: string; api_key: string };
  const webhookSecrets: string[] = [];
  let started: number;

  before(async () => {
    p = await startPlatform();
    started = Date.now();
    tenant = (await p.api('POST', '/v1/tenants', { name: 'audited' })).body;
  });
  after(() => p.stop());

  const entries = async (query: string, key = tenant.api_key) => {
    const res = await p.api('GET', `/v1/audit?${query}`, undefined, as(key));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data as Array<Record<string, any>>;
  };

  test('each API path that changes configuration records before and after, secrets masked', async () => {
    const t = as(tenant.api_key);
    assert.equal((await p.api('PUT', '/v1/policies', { defaults: { ipv4Only: true } }, t)).status, 200);
    assert.equal((await p.api('PUT', '/v1/policies', { defaults: { ipv4Only: false } }, t)).status, 200);
    assert.equal((await p.api('POST', '/v1/domains', { domain: 'audit.test' }, t)).status, 201);
    const hook = await p.api('POST', '/v1/webhooks', { url: 'http://93.184.216.34/audit', event_types: ['delivered'], enabled: false }, t);
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    webhookSecrets.push(hook.body.secret);
    assert.equal((await p.api('PATCH', `/v1/webhooks/${hook.body.id}`, { description: 'ops' }, t)).status, 200);
    const rotated = await p.api('POST', `/v1/webhooks/${hook.body.id}/rotate-secret`, {}, t);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    webhookSecrets.push(rotated.body.secret);
    assert.equal((await p.api('DELETE', `/v1/webhooks/${hook.body.id}`, undefined, t)).status, 200);
    assert.equal((await p.api('POST', '/v1/suppressions', { address: 'gone@dest.test' }, t)).status, 201);
    assert.equal((await p.api('DELETE', '/v1/suppressions/gone@dest.test', undefined, t)).status, 200);

    const log = await entries('limit=100');
    const actions = log.map((e) => `${e.action} ${e.target.kind}:${e.target.id}`).reverse();
    assert.deepEqual(actions, [
      `tenant.create tenant:${tenant.id}`,
      `policy.put policy:${tenant.id}`,
      `policy.put policy:${tenant.id}`,
      'domain.create domain:audit.test',
      `webhook.create webhook:${hook.body.id}`,
      `webhook.update webhook:${hook.body.id}`,
      `webhook.rotate_secret webhook:${hook.body.id}`,
      `webhook.delete webhook:${hook.body.id}`,
      'suppression.add suppression:gone@dest.test',
      'suppression.remove suppression:gone@dest.test',
    ]);
    const policies = log.filter((e) => e.action === 'policy.put').reverse();
    assert.deepEqual([policies[0].before, policies[0].after], [null, { defaults: { ipv4Only: true } }]);
    assert.deepEqual([policies[1].before, policies[1].after], [{ defaults: { ipv4Only: true } }, { defaults: { ipv4Only: false } }]);
    const update = log.find((e) => e.action === 'webhook.update')!;
    assert.equal(update.before.description, null);
    assert.equal(update.after.description, 'ops');
    const mine = log.find((e) => e.action === 'policy.put')!;
    assert.equal(mine.actor.key_name, 'initial');
    assert.equal(mine.actor.tenant_id, tenant.id);
    assert.match(mine.actor.key_id, /^key_/);
    assert.ok(Date.parse(mine.at) >= started);
    const text = JSON.stringify(log);
    for (const s of webhookSecrets) assert.ok(!text.includes(s.slice(6)), 'no webhook secret');
    assert.ok(!text.includes(tenant.api_key) && !text.includes('PRIVATE KEY'));
    // The tenant creation was the operator's doing, recorded for the new tenant.
    const created = log.find((e) => e.action === 'tenant.create')!;
    assert.equal(created.actor.tenant_id, 'default');
    assert.equal(created.after.initial_key.prefix, tenant.api_key.slice(0, 8));
  });

  test('warm-ups started and stopped by the operator are in its log', async () => {
    const w = await p.api('POST', '/v1/warmups', { pool: 'default' });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    assert.equal((await p.api('DELETE', `/v1/warmups/${w.body.id}`)).status, 200);
    const log = await entries(`kind=warmup&target=${w.body.id}`, p.edge.apiKey);
    assert.deepEqual(log.map((e) => e.action), ['warmup.stop', 'warmup.start']);
    assert.equal(log[0].after.status, 'stopped');
  });

  test('filters: actor, kind, target, time; keyset pages; per tenant; the operator may read any', async () => {
    const policyOnly = await entries('kind=policy');
    assert.equal(policyOnly.length, 2);
    assert.ok(policyOnly.every((e) => e.target.kind === 'policy'));
    const byActor = await entries(`actor=${policyOnly[0].actor.key_id}`);
    assert.ok(byActor.length >= 9 && byActor.every((e) => e.actor.key_id === policyOnly[0].actor.key_id));
    assert.equal((await entries('target=gone@dest.test')).length, 2);
    assert.equal((await entries(`until=${new Date(started - 60_000).toISOString()}`)).length, 0);
    assert.equal((await entries(`since=${new Date(Date.now() + 60_000).toISOString()}`)).length, 0);

    const all = await entries('limit=100');
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { data: Array<{ id: number }>; next_cursor: string | null } } = await p.api('GET', `/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`, undefined, as(tenant.api_key));
      seen.push(...res.body.data.map((e) => e.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, all.map((e) => e.id), 'pages cover the log once, newest first');

    const other = (await p.api('POST', '/v1/tenants', { name: 'nosy' })).body;
    assert.ok((await entries('limit=100', other.api_key)).every((e) => e.tenant_id === other.id));
    assert.equal((await p.api('GET', `/v1/audit?tenant_id=${tenant.id}`, undefined, as(other.api_key))).status, 403);
    assert.equal((await entries(`tenant_id=${tenant.id}&kind=policy`, p.edge.apiKey)).length, 2);
    assert.ok((await entries('tenant_id=*&limit=500', p.edge.apiKey)).some((e) => e.tenant_id === other.id));
  });

  test('exported as NDJSON with the other exports: oldest first, the tenant’s own', async () => {
    const from = new Date(started - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const res = await fetch(`${p.edge.url}/v1/export/audit?from=${from}&to=${to}`, { headers: as(tenant.api_key) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /ndjson/);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    const listed = await entries('limit=100');
    assert.deepEqual(lines.map((e) => e.id), listed.map((e) => e.id).reverse());
    assert.deepEqual(lines[0], listed.at(-1));
  });

  test('append-only: no route deletes or edits it', async () => {
    for (const method of ['DELETE', 'PUT', 'PATCH', 'POST']) assert.equal((await p.api(method, '/v1/audit', method === 'DELETE' ? undefined : {})).status, 404, method);
    const doc = (await p.api('GET', '/openapi.json')).body;
    assert.deepEqual(Object.keys(doc.paths['/v1/audit']), ['get']);
  });
});
