/**
 * Configuration as code through the API: plan (a diff, nothing changed) → apply (atomic, a new
 * version) → change → rollback, over a document with every kind of resource; the audit log has
 * each change with before/after and no secret; two racing applies leave exactly one winner and
 * nothing half-applied; a stale plan is refused; bad documents get 400 with the field's path.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify as toYaml } from 'yaml';
import { startPlatform, type Platform } from '../helpers/platform.ts';

const as = (key: string) => ({ authorization: `Bearer ${key}` });
const HOOK = 'http://93.184.216.34/config-hook';
const HOOK2 = 'http://93.184.216.35/config-hook-2';

describe('configuration as code', () => {
  let p: Platform;
  let acme: { id: string; api_key: string };
  let tokenId: string;
  let doc1: Record<string, any>;

  before(async () => {
    p = await startPlatform();
    acme = (await p.api('POST', '/v1/tenants', { name: 'acme' })).body;
    tokenId = (await p.api('POST', '/v1/nodes/tokens', { region: p.edge.region, allowed_ips: ['192.0.2.11'], name: 'edge-2' })).body.id;
    doc1 = {
      version: 1,
      pools: { default: {}, 'bulk-a': { description: 'bulk mail' }, 'acme-only': { tenant: acme.id } },
      ips: { '192.0.2.10': { pool: 'bulk-a' }, '192.0.2.11': { pool: 'acme-only', node_token: tokenId } },
      domains: { 'config.test': {}, 'second.test': { return_path_domain: 'rp.second.test' } },
      lanes: { lifecycle: { pools: ['bulk-a'], breaker: { minVolume: 200 } } },
      policy: { defaults: { ipv4Only: false }, domains: { 'config.test': { ipv4Only: true } } },
      webhooks: { [HOOK]: { event_types: ['delivered', 'bounced'], domains: ['config.test'] } },
    };
  });
  after(() => p.stop());

  const plan = async (doc: unknown, key?: string) => {
    const res = await p.api('POST', '/v1/config/plan', doc, key ? as(key) : {});
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const apply = async (planId: string) => {
    const res = await p.api('POST', '/v1/config/apply', { plan_id: planId });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const live = async () => (await p.api('GET', '/v1/config')).body;

  test('plan → apply → change → rollback round-trips every kind of resource', async () => {
    const before = await live();
    const first = await plan(doc1);
    assert.equal(first.base_version, 0);
    assert.equal(first.state_hash, before.state_hash);
    const kinds = new Set(first.changes.map((c: { kind: string }) => c.kind));
    for (const k of ['pool', 'ip', 'domain', 'lane', 'policy', 'webhook']) assert.ok(kinds.has(k), `plan has a ${k} change`);
    const bulk = first.changes.find((c: { kind: string; id: string }) => c.kind === 'pool' && c.id === 'bulk-a');
    assert.equal(bulk.action, 'create');
    assert.deepEqual(bulk.fields, [{ path: 'description', before: null, after: 'bulk mail' }]);
    assert.match(first.text, /^\+ pool bulk-a$/m);
    assert.match(first.text, /^ {4}description: \(none\) → "bulk mail"$/m);
    // A plan changes nothing.
    assert.equal((await live()).state_hash, before.state_hash);
    assert.ok(!(await p.api('GET', '/v1/pools')).body.data.some((x: { name: string }) => x.name === 'bulk-a'));

    const v1 = await apply(first.id);
    assert.equal(v1.version.seq, 1);
    assert.match(v1.webhook_secrets[HOOK], /^whsec_/);
    const after1 = await live();
    assert.equal(after1.state_hash, v1.version.state_hash);
    assert.equal(after1.document.pools['acme-only'].tenant, acme.id);
    assert.deepEqual(after1.document.ips['192.0.2.11'], { pool: 'acme-only', node_token: tokenId, status: 'active' });
    assert.equal(after1.document.domains['second.test'].return_path_domain, 'rp.second.test');
    // Every resource is live through its own API too.
    assert.equal((await p.api('GET', '/v1/pools')).body.data.find((x: { name: string }) => x.name === 'acme-only').kind, 'dedicated');
    assert.equal((await p.api('GET', '/v1/ips')).body.data.length, 2);
    assert.deepEqual((await p.api('GET', '/v1/domains')).body.data.map((d: { domain: string }) => d.domain).sort(), ['config.test', 'second.test']);
    const hooks = (await p.api('GET', '/v1/webhooks')).body.data;
    assert.equal(hooks.length, 1);
    assert.deepEqual(hooks[0].domains, ['config.test']);
    const policy = (await p.api('GET', '/v1/policies')).body;
    assert.deepEqual(policy.document.lanes.lifecycle.pools, ['bulk-a']);
    assert.equal(policy.resolved.lifecycle.breaker.minVolume, 200);
    assert.equal((await p.api('POST', '/v1/config/apply', { plan_id: first.id })).status, 409, 'a plan applies once');
    assert.equal((await plan(doc1)).changes.length, 0, 'applied: the same document plans no change');

    const doc2 = structuredClone(doc1);
    delete doc2.ips['192.0.2.10'];
    doc2.pools['bulk-a'].description = 'bulk, v2';
    doc2.lanes.lifecycle.breaker.minVolume = 300;
    delete doc2.domains['second.test'];
    doc2.webhooks = { [HOOK2]: { event_types: ['delivered'] } };
    const second = await plan(doc2);
    const byId = (kind: string, id: string) => second.changes.find((c: { kind: string; id: string }) => c.kind === kind && c.id === id);
    assert.equal(byId('ip', '192.0.2.10').action, 'delete');
    assert.deepEqual(byId('pool', 'bulk-a').fields, [{ path: 'description', before: 'bulk mail', after: 'bulk, v2' }]);
    assert.deepEqual(byId('lane', 'lifecycle').fields, [{ path: 'breaker.minVolume', before: 200, after: 300 }]);
    assert.equal(byId('domain', 'second.test').action, 'delete');
    assert.equal(byId('webhook', HOOK).action, 'delete');
    assert.equal(byId('webhook', HOOK2).action, 'create');
    const v2 = await apply(second.id);
    assert.equal(v2.version.seq, 2);
    assert.deepEqual((await p.api('GET', '/v1/domains')).body.data.map((d: { domain: string }) => d.domain), ['config.test']);

    const back = await p.api('POST', '/v1/config/rollback', { version_id: v1.version.id });
    assert.equal(back.status, 201, JSON.stringify(back.body));
    assert.equal(back.body.kind, 'rollback');
    assert.equal(back.body.rollback_of, v1.version.id);
    assert.equal(back.body.changes.find((c: { kind: string; id: string }) => c.kind === 'ip' && c.id === '192.0.2.10').action, 'create');
    const v3 = await apply(back.body.id);
    assert.equal(v3.version.seq, 3);
    // The state is the one version 1 left, to the hash.
    assert.equal((await live()).state_hash, v1.version.state_hash);
    assert.deepEqual((await live()).document, after1.document);
    assert.match(v3.webhook_secrets[HOOK], /^whsec_/, 'a re-created webhook gets a new secret');
    assert.notEqual(v3.webhook_secrets[HOOK], v1.webhook_secrets[HOOK]);

    const versions = (await p.api('GET', '/v1/config/versions')).body.data;
    assert.deepEqual(versions.map((v: { seq: number; kind: string }) => [v.seq, v.kind]), [[3, 'rollback'], [2, 'apply'], [1, 'apply']]);
    const detail = (await p.api('GET', `/v1/config/versions/${v1.version.id}`)).body;
    assert.deepEqual(detail.document.pools, after1.document.pools);

    // The audit log: one entry per change with before/after, and one per apply; no secret anywhere.
    const audit = (await p.api('GET', '/v1/audit?kind=pool&target=bulk-a')).body.data;
    assert.deepEqual(audit.map((e: { action: string }) => e.action), ['config.change', 'config.change', 'config.create']);
    assert.equal(audit[1].before.description, 'bulk mail');
    assert.equal(audit[1].after.description, 'bulk, v2');
    assert.match(audit[0].reason, /rollback/);
    const applies = (await p.api('GET', '/v1/audit?kind=config')).body.data.map((e: { action: string }) => e.action);
    assert.deepEqual(applies, ['config.rollback', 'config.apply', 'config.apply']);
    const everything = JSON.stringify([(await p.api('GET', '/v1/audit?limit=500')).body, versions, detail, first, second, back.body, (await p.api('GET', `/v1/config/versions/${v3.version.id}`)).body]);
    for (const secret of [v1.webhook_secrets[HOOK], v2.webhook_secrets[HOOK2], v3.webhook_secrets[HOOK]]) assert.ok(!everything.includes(secret.slice(6)), 'no webhook secret in plans, versions or the audit log');
    assert.ok(!everything.includes('PRIVATE KEY'));
  });

  test('two applies racing: exactly one wins, the other is 409 and wrote nothing', async () => {
    const base = (await live()).document;
    const a = await plan({ ...base, pools: { ...base.pools, 'race-a': {} } });
    const b = await plan({ ...base, pools: { ...base.pools, 'race-b': {} }, lanes: { outreach: { pools: ['race-b'] } } });
    const versionsBefore = (await p.api('GET', '/v1/config/versions')).body.data.length;
    const results = await Promise.all([a, b].map((x) => p.api('POST', '/v1/config/apply', { plan_id: x.id })));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409], JSON.stringify(results.map((r) => r.body)));
    const pools = (await p.api('GET', '/v1/pools')).body.data.map((x: { name: string }) => x.name);
    const winner = results[0].status === 200 ? 'race-a' : 'race-b';
    const loser = winner === 'race-a' ? 'race-b' : 'race-a';
    assert.ok(pools.includes(winner) && !pools.includes(loser), `only ${winner} exists: ${pools}`);
    const lanes = (await p.api('GET', '/v1/policies')).body.document.lanes ?? {};
    assert.equal(lanes.outreach !== undefined, winner === 'race-b', 'the loser’s policy change is not half-applied');
    assert.equal((await p.api('GET', '/v1/config/versions')).body.data.length, versionsBefore + 1);
    assert.equal((await p.api('GET', `/v1/audit?kind=pool&target=${loser}`)).body.data.length, 0);
  });

  test('the store commits all of an apply or none: the one that loses the version is rolled back whole', async () => {
    const store = p.edge.store;
    const latest = (await store.latestConfigVersion('default'))!;
    const now = Date.now();
    const attempt = (name: string) => {
      const planRow = { id: `cfp_${name}`, tenantId: 'default', baseSeq: latest.seq, stateHash: 'x', document: {}, changes: [], kind: 'apply' as const, rollbackOf: null, createdBy: 'test', createdAt: now, appliedAt: null };
      return {
        plan: planRow,
        version: { id: `cfv_${name}`, tenantId: 'default', seq: latest.seq + 1, document: {}, changes: [], stateHash: 'x', kind: 'apply' as const, rollbackOf: null, appliedBy: 'test', appliedAt: now },
        writes: [{ kind: 'pool' as const, op: 'create' as const, pool: { name: name, tenantId: null, description: null, createdAt: now } }],
        audit: [{ at: now, actorKeyId: 'test', actorKeyName: null, actorTenantId: 'default', tenantId: 'default', action: 'config.create', targetKind: 'pool', targetId: name, before: null, after: {}, reason: null }],
      };
    };
    const [first, second] = [attempt('atomic-a'), attempt('atomic-b')];
    await store.saveConfigPlan(first.plan);
    await store.saveConfigPlan(second.plan);
    assert.equal(await store.applyConfig(first), 'applied');
    assert.equal(await store.applyConfig(second), 'conflict');
    const names = (await store.listPools()).map((x) => x.name);
    assert.ok(names.includes('atomic-a') && !names.includes('atomic-b'));
    assert.equal((await store.listAudit({ targetKind: 'pool', targetId: 'atomic-b', limit: 10 })).length, 0);
    assert.equal((await store.getConfigPlan('default', second.plan.id))!.appliedAt, null);
    // Leave the live state as the API tests expect it.
    await store.deletePool('atomic-a');
  });

  test('a plan whose live state moved is refused; the API paths move it too', async () => {
    const stale = await plan({ version: 1, pools: { ...(await live()).document.pools, later: {} } });
    assert.equal((await p.api('POST', '/v1/pools', { name: 'by-hand' })).status, 201);
    const refused = await p.api('POST', '/v1/config/apply', { plan_id: stale.id });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.reason, 'stale_plan');
    assert.ok(!(await p.api('GET', '/v1/pools')).body.data.some((x: { name: string }) => x.name === 'later'));
  });

  test('YAML documents; a tenant manages its own sections; the JSON Schema is served', async () => {
    const yaml = toYaml({ version: 1, domains: { 'acme-config.test': {} }, lanes: { transactional: { pools: ['default'] } } });
    const res = await p.api('POST', '/v1/config/plan', yaml, { ...as(acme.api_key), 'content-type': 'application/yaml' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.changes.map((c: { kind: string; id: string }) => `${c.kind}:${c.id}`), ['domain:acme-config.test', 'lane:transactional']);
    const applied = await p.api('POST', '/v1/config/apply', { plan_id: res.body.id }, as(acme.api_key));
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.equal(applied.body.version.seq, 1, 'versions are per tenant');
    // Another tenant cannot apply (or see) acme's plan.
    assert.equal((await p.api('POST', '/v1/config/apply', { plan_id: res.body.id })).status, 404);
    const schema = await p.api('GET', '/v1/config/schema');
    assert.equal(schema.status, 200);
    assert.deepEqual(Object.keys(schema.body.properties).sort(), ['domains', 'ips', 'lanes', 'policy', 'pools', 'version', 'webhooks']);
    assert.equal(schema.body.additionalProperties, false);
  });

  test('bad documents: 400 with the path of the field and why', async () => {
    const bad = async (doc: unknown, field: string, key?: string, headers: Record<string, string> = {}) => {
      const res = await p.api('POST', '/v1/config/plan', doc, { ...(key ? as(key) : {}), ...headers });
      assert.equal(res.status, 400, `${JSON.stringify(doc)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
      assert.ok(res.body.error.reason);
    };
    await bad({ version: 1, poolz: {} }, 'poolz');
    await bad({ version: 1, pools: { x: { tenant: 'ten_x', colour: 'red' } } }, 'pools.x.colour');
    await bad(toYaml({ version: 1, domains: { 'a.test': { selector: 's1' } } }), 'domains.a.test.selector', undefined, { 'content-type': 'application/yaml' });
    await bad({ version: 1, domains: { 'a.test': { dkim_algorithm: 'md5' } } }, 'domains.a.test.dkim_algorithm');
    await bad({ version: 2 }, 'version');
    await bad({ version: 1, ips: { '192.0.2.99': { pool: 'nowhere' } } }, 'ips.192.0.2.99.pool');
    await bad({ version: 1, pools: { default: {}, x: { tenant: 'ten_nope' } } }, 'pools.x.tenant');
    await bad({ version: 1, lanes: { lifecycle: { pools: ['nowhere'] } } }, 'lanes.lifecycle.pools.0');
    await bad({ version: 1, lanes: { bulk: {} } }, 'lanes.bulk');
    await bad({ version: 1, lanes: { lifecycle: { breaker: { minVolume: -1 } } } }, 'lanes.lifecycle.breaker.minVolume');
    await bad({ version: 1, policy: { domains: { 'nowhere.test': { ipv4Only: true } } } }, 'policy.domains.nowhere.test');
    await bad({ version: 1, webhooks: { [HOOK]: { event_types: ['delivered'], domains: ['nowhere.test'] } } }, `webhooks.${HOOK}.domains.0`);
    await bad({ version: 1, webhooks: { 'http://127.0.0.1:9/hook': { event_types: ['delivered'] } } }, 'webhooks.http://127.0.0.1:9/hook');
    await bad({ version: 1, pools: { default: {} } }, 'pools', acme.api_key);
    await bad({ version: 1, pools: {} }, 'pools.default');
    await bad('version: [1', 'body', undefined, { 'content-type': 'application/yaml' });
  });
});
