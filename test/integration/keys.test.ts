/**
 * API keys and node tokens as resources: create with scopes, list without secrets, revoke (401 at
 * once, despite the auth cache), rotate with and without an overlap; a feedback-only key posts
 * to /v1/inbound and nothing else; every change is audited with no secret in it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startPlatform, type Platform } from '../helpers/platform.ts';

const as = (key: string) => ({ authorization: `Bearer ${key}` });
const REPORT = ['From: fbl@isp.test', 'To: fbl@postlane.test', 'Subject: report', 'Content-Type: text/plain', '', 'not a report', ''].join('\r\n');

describe('API keys', () => {
  let p: Platform;
  let tenant: { id: string; api_key: string };
  before(async () => {
    p = await startPlatform();
    tenant = (await p.api('POST', '/v1/tenants', { name: 'acme' })).body;
  });
  after(() => p.stop());

  test('a feedback-only key for an existing tenant posts to /v1/inbound and nothing else', async () => {
    const created = await p.api('POST', '/v1/keys', { name: 'fbl pipe', scopes: ['feedback'] }, as(tenant.api_key));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.tenant_id, tenant.id);
    assert.deepEqual(created.body.scopes, ['feedback']);
    assert.match(created.body.api_key, /^pl_/);
    assert.equal(created.body.prefix, created.body.api_key.slice(0, 8));
    const key = created.body.api_key;

    const inbound = await p.api('POST', '/v1/inbound', REPORT, { ...as(key), 'content-type': 'message/rfc822' });
    assert.equal(inbound.status, 202, JSON.stringify(inbound.body));
    for (const [method, path, body] of [
      ['POST', '/v1/messages', { from: 'a@b.test', to: 'c@d.test', subject: 's', text: 't' }],
      ['GET', '/v1/messages', undefined],
      ['GET', '/v1/keys', undefined],
      ['POST', '/v1/keys', { name: 'x', scopes: ['admin'] }],
      ['GET', '/v1/audit', undefined],
    ] as const) {
      const res = await p.api(method, path, body, as(key));
      assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
  });

  test('the operator creates a key for another tenant; a tenant cannot for another', async () => {
    const op = await p.api('POST', '/v1/keys', { name: 'ops-made', scopes: ['read'], tenant_id: tenant.id });
    assert.equal(op.status, 201, JSON.stringify(op.body));
    assert.equal(op.body.tenant_id, tenant.id);
    const other = (await p.api('POST', '/v1/tenants', { name: 'other' })).body;
    const refused = await p.api('POST', '/v1/keys', { name: 'sneaky', scopes: ['admin'], tenant_id: other.id }, as(tenant.api_key));
    assert.equal(refused.status, 403);
    const missing = await p.api('POST', '/v1/keys', { name: 'x', scopes: ['read'], tenant_id: 'ten_nope' });
    assert.equal(missing.status, 404);
    const bad = await p.api('POST', '/v1/keys', { name: 'x', scopes: ['root'] }, as(tenant.api_key));
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.field, /^scopes/);
  });

  test('list shows id, name, prefix, scopes, created and last used, never the secret or its hash', async () => {
    const created = (await p.api('POST', '/v1/keys', { name: 'reader', scopes: ['read'] }, as(tenant.api_key))).body;
    const before = (await p.api('GET', '/v1/keys', undefined, as(tenant.api_key))).body.data.find((k: { id: string }) => k.id === created.id);
    assert.equal(before.last_used_at, null);
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(created.api_key))).status, 200);
    const list = await p.api('GET', '/v1/keys', undefined, as(tenant.api_key));
    assert.equal(list.status, 200);
    const row = list.body.data.find((k: { id: string }) => k.id === created.id);
    assert.deepEqual(Object.keys(row).sort(), ['created_at', 'id', 'last_used_at', 'name', 'prefix', 'revoked_at', 'rotated_from', 'scopes', 'tenant_id']);
    assert.equal(row.name, 'reader');
    assert.ok(row.last_used_at, 'the use was recorded');
    assert.ok(!JSON.stringify(list.body).includes(created.api_key));
    // Only the tenant's own keys.
    assert.ok(list.body.data.every((k: { tenant_id: string }) => k.tenant_id === tenant.id));
  });

  test('a revoked key gets 401 at once, though it was just used (and cached)', async () => {
    const created = (await p.api('POST', '/v1/keys', { name: 'doomed', scopes: ['read'] }, as(tenant.api_key))).body;
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(created.api_key))).status, 200);
    const revoked = await p.api('DELETE', `/v1/keys/${created.id}`, undefined, as(tenant.api_key));
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.ok(revoked.body.revoked_at);
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(created.api_key))).status, 401);
    assert.equal((await p.api('DELETE', `/v1/keys/${created.id}`, undefined, as(tenant.api_key))).status, 409);
    // Another tenant's key id is not found.
    const other = (await p.api('POST', '/v1/tenants', { name: 'third' })).body;
    assert.equal((await p.api('DELETE', `/v1/keys/${created.id}`, undefined, as(other.api_key))).status, 404);
  });

  test('rotate: without an overlap the old secret stops now; with one both work until it ends', async () => {
    const created = (await p.api('POST', '/v1/keys', { name: 'rotating', scopes: ['read', 'send'] }, as(tenant.api_key))).body;
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(created.api_key))).status, 200);
    const now = await p.api('POST', `/v1/keys/${created.id}/rotate`, {}, as(tenant.api_key));
    assert.equal(now.status, 201, JSON.stringify(now.body));
    assert.deepEqual(now.body.scopes, ['read', 'send']);
    assert.equal(now.body.rotated_from, created.id);
    assert.notEqual(now.body.api_key, created.api_key);
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(created.api_key))).status, 401);
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(now.body.api_key))).status, 200);

    const overlapped = await p.api('POST', `/v1/keys/${now.body.id}/rotate`, { overlap_seconds: 3600 }, as(tenant.api_key));
    assert.equal(overlapped.status, 201);
    assert.ok(Date.parse(overlapped.body.replaced.revoked_at) > Date.now());
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(now.body.api_key))).status, 200, 'old key works in the overlap');
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(overlapped.body.api_key))).status, 200);
    // Ending the overlap early is a revoke.
    assert.equal((await p.api('DELETE', `/v1/keys/${now.body.id}`, undefined, as(tenant.api_key))).status, 200);
    assert.equal((await p.api('GET', '/v1/messages', undefined, as(now.body.api_key))).status, 401);
    assert.equal((await p.api('POST', `/v1/keys/${created.id}/rotate`, {}, as(tenant.api_key))).status, 409, 'a revoked key is not rotated');
    assert.equal((await p.api('POST', `/v1/keys/${created.id}/rotate`, { overlap_seconds: -1 }, as(tenant.api_key))).status, 400);
  });

  test('every key change is in the audit log, with before/after and no secret', async () => {
    const created = (await p.api('POST', '/v1/keys', { name: 'audited', scopes: ['read'] }, as(tenant.api_key))).body;
    const rotated = (await p.api('POST', `/v1/keys/${created.id}/rotate`, {}, as(tenant.api_key))).body;
    await p.api('DELETE', `/v1/keys/${rotated.id}`, undefined, as(tenant.api_key));
    const log = await p.api('GET', `/v1/audit?kind=api_key`, undefined, as(tenant.api_key));
    assert.equal(log.status, 200);
    const mine = log.body.data.filter((e: { target: { id: string } }) => [created.id, rotated.id].includes(e.target.id));
    assert.deepEqual(mine.map((e: { action: string }) => e.action), ['api_key.revoke', 'api_key.rotate', 'api_key.create']);
    assert.equal(mine[2].before, null);
    assert.equal(mine[2].after.name, 'audited');
    assert.equal(mine[0].before.revoked_at, null);
    assert.ok(mine[0].after.revoked_at);
    assert.equal(mine[0].actor.tenant_id, tenant.id);
    assert.equal(mine[0].actor.key_name, 'initial');
    const text = JSON.stringify(log.body);
    for (const secret of [created.api_key, rotated.api_key]) assert.ok(!text.includes(secret));
    assert.ok(!/key_hash|keyHash/.test(text));
    // Another tenant sees none of it.
    const other = (await p.api('POST', '/v1/tenants', { name: 'fourth' })).body;
    assert.equal((await p.api('GET', '/v1/audit?kind=api_key', undefined, as(other.api_key))).body.data.length, 0);
  });
});

describe('node tokens', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform();
  });
  after(() => p.stop());

  const connect = (token: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`${p.edge.wsUrl}?region=${p.edge.region}`, { headers: { authorization: `Bearer ${token}` } });
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });

  test('list, rotate (the old secret stops, the id stays) and revoke; audited; tenants are refused', async () => {
    const created = await p.api('POST', '/v1/nodes/tokens', { region: p.edge.region, allowed_ips: ['127.0.0.1'], name: 'eu-2' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const list = await p.api('GET', '/v1/nodes/tokens');
    assert.equal(list.status, 200);
    const row = list.body.data.find((t: { id: string }) => t.id === created.body.id);
    assert.equal(row.name, 'eu-2');
    assert.ok(!JSON.stringify(list.body).includes(created.body.token));
    assert.equal(await connect(created.body.token), 101);

    const rotated = await p.api('POST', `/v1/nodes/tokens/${created.body.id}/rotate`, {});
    assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
    assert.equal(rotated.body.id, created.body.id);
    assert.equal(await connect(created.body.token), 401);
    assert.equal(await connect(rotated.body.token), 101);

    const overlap = await p.api('POST', `/v1/nodes/tokens/${created.body.id}/rotate`, { overlap_seconds: 600 });
    assert.equal(await connect(rotated.body.token), 101, 'the replaced secret works during the overlap');
    assert.equal(await connect(overlap.body.token), 101);

    assert.equal((await p.api('DELETE', `/v1/nodes/tokens/${created.body.id}`)).status, 200);
    assert.equal(await connect(overlap.body.token), 401);
    assert.equal(await connect(rotated.body.token), 401);

    const log = (await p.api('GET', `/v1/audit?kind=node_token&target=${created.body.id}`)).body.data;
    assert.deepEqual(log.map((e: { action: string }) => e.action), ['node_token.revoke', 'node_token.rotate', 'node_token.rotate', 'node_token.create']);
    const text = JSON.stringify(log);
    for (const t of [created.body.token, rotated.body.token, overlap.body.token]) assert.ok(!text.includes(t));

    const tenant = (await p.api('POST', '/v1/tenants', { name: 't' })).body;
    assert.equal((await p.api('GET', '/v1/nodes/tokens', undefined, as(tenant.api_key))).status, 403);
  });
});
