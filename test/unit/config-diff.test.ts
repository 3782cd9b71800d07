/** The pure half of configuration as code: desired state, diff, rendering, canonical form; and secret masking. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, desiredState, diffStates, diffValues, documentOf, renderChanges, type ConfigState } from '../../edge/services/config/diff.ts';
import { MASK, maskSecrets } from '../../edge/services/audit.ts';
import { ConfigDocumentSchema } from '../../shared/config-schema.ts';

const live: ConfigState = {
  pools: { default: { tenant: null, description: null }, bulk: { tenant: null, description: 'old' } },
  ips: { '192.0.2.1': { pool: 'bulk', node_token: null, status: 'active' } },
  domains: { 'a.test': { dkim_algorithm: 'rsa-sha256', return_path_domain: 'bounces.a.test' } },
  lanes: { lifecycle: { pools: ['bulk'], breaker: { minVolume: 100 } } },
  policy: { defaults: { ipv4Only: false } },
  webhooks: { 'https://h.test/x': { event_types: ['delivered'], lanes: null, domains: null, enabled: true, description: null } },
};

describe('configuration diff', () => {
  test('sections left out keep the live state; given ones are normalised and replace it', () => {
    const doc = ConfigDocumentSchema.parse({ version: 1, domains: { 'b.test': {} } });
    const desired = desiredState(live, doc);
    assert.deepEqual(desired.pools, live.pools);
    assert.deepEqual(desired.webhooks, live.webhooks);
    assert.deepEqual(desired.domains, { 'b.test': { dkim_algorithm: 'rsa-sha256', return_path_domain: 'bounces.b.test' } });
    assert.deepEqual(diffStates(live, desired).map((c) => `${c.action} ${c.kind} ${c.id}`), ['delete domain a.test', 'create domain b.test']);
  });

  test('a change lists each leaf field before → after, in kind order, and nothing for equal entries', () => {
    const after = structuredClone(live);
    after.pools!.bulk.description = 'new';
    after.lanes.lifecycle = { pools: ['bulk', 'default'], breaker: { minVolume: 200 } };
    after.ips = {};
    const changes = diffStates(live, after);
    assert.deepEqual(changes.map((c) => [c.action, c.kind, c.id]), [['change', 'pool', 'bulk'], ['delete', 'ip', '192.0.2.1'], ['change', 'lane', 'lifecycle']]);
    assert.deepEqual(changes[0].fields, [{ path: 'description', before: 'old', after: 'new' }]);
    assert.deepEqual(changes[2].fields, [{ path: 'breaker.minVolume', before: 100, after: 200 }, { path: 'pools', before: ['bulk'], after: ['bulk', 'default'] }]);
    assert.deepEqual(changes[1].fields, [{ path: 'pool', before: 'bulk', after: null }, { path: 'status', before: 'active', after: null }]);
    assert.deepEqual(diffStates(live, structuredClone(live)), []);
  });

  test('per-domain policy entries are their own resources', () => {
    const after = structuredClone(live);
    after.policy = { defaults: { ipv4Only: false }, domains: { 'a.test': { ipv4Only: true } } };
    const [c] = diffStates(live, after);
    assert.deepEqual([c.action, c.kind, c.id, c.fields], ['create', 'policy', 'domains.a.test', [{ path: 'ipv4Only', before: null, after: true }]]);
  });

  test('the rendering reads as a plan', () => {
    const after = structuredClone(live);
    after.pools!.bulk.description = 'new';
    delete after.webhooks['https://h.test/x'];
    const text = renderChanges(diffStates(live, after));
    assert.equal(text, ['~ pool bulk', '    description: "old" → "new"', '- webhook https://h.test/x', '    enabled: true → (none)', '    event_types: ["delivered"] → (none)', '', '0 to create, 1 to change, 1 to delete.'].join('\n'));
    assert.equal(renderChanges([]), 'No changes: the live state matches the document.');
  });

  test('documentOf round-trips through the schema and desiredState', () => {
    const doc = ConfigDocumentSchema.parse(documentOf(live));
    assert.deepEqual(desiredState({ domains: {}, lanes: {}, policy: {}, webhooks: {} }, doc), live);
  });

  test('canonical JSON ignores key order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: null } }), canonicalJson({ a: { c: null, d: [2, { x: 0, y: 1 }] }, b: 1 }));
    assert.deepEqual(diffValues({ a: 1 }, { a: 1 }), []);
  });
});

describe('maskSecrets', () => {
  test('masks secret fields and secret-looking values at any depth, keeps the rest', () => {
    const secret = `whsec_${'A'.repeat(43)}`;
    const masked = maskSecrets({
      secret,
      nested: [{ keyHash: 'abc', prefix: 'pl_abcde', previousSecretExpiresAt: 5, url: 'https://h.test' }],
      dkimPrivateKeyEnc: 'v1.x.y',
      note: '-----BEGIN PRIVATE KEY-----\nMII',
      api_key: `pl_${'b'.repeat(43)}`,
      token: `plnode_${'c'.repeat(43)}`,
      node_token_id: 'ntk_1',
      anything: `pl_${'d'.repeat(43)}`,
    }) as Record<string, any>;
    assert.equal(masked.secret, MASK);
    assert.equal(masked.nested[0].keyHash, MASK);
    assert.equal(masked.nested[0].prefix, 'pl_abcde');
    assert.equal(masked.nested[0].previousSecretExpiresAt, 5);
    assert.equal(masked.dkimPrivateKeyEnc, MASK);
    assert.equal(masked.note, MASK);
    assert.equal(masked.api_key, MASK);
    assert.equal(masked.token, MASK);
    assert.equal(masked.node_token_id, 'ntk_1');
    assert.equal(masked.anything, MASK);
    assert.ok(!JSON.stringify(masked).includes('AAAA'));
  });
});
