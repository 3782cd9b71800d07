/** Bad input gets a clear error (status, field, reason) and loses nothing (SPEC §2, house rule 5). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, addDomain, type Platform } from '../helpers/platform.ts';

describe('API validation and auth', () => {
  let p: Platform;
  before(async () => {
    p = await startPlatform({ env: { POSTLANE_MAX_MESSAGE_BYTES: '65536', POSTLANE_TENANT_RATE: '5', POSTLANE_TENANT_BURST: '1000' } });
    await addDomain(p, 'example.com');
  });
  after(() => p?.stop());

  const base = { from: 'a@example.com', to: 'b@dest.test', subject: 's', text: 'x' };
  const cases: Array<[string, Record<string, unknown>, number, string, RegExp?]> = [
    ['bad recipient syntax', { to: 'not-an-address' }, 400, 'to'],
    ['recipient in a list', { to: ['ok@dest.test', 'bad@@x'] }, 400, 'to[1]'],
    ['local part over 64 octets', { to: `${'a'.repeat(65)}@dest.test` }, 400, 'to', /64 octets/],
    ['CR/LF in subject', { subject: 'hi\r\nBcc: victim@x.test' }, 400, 'subject', /header injection/],
    ['CR/LF in a custom header', { headers: { 'X-Ok': 'a\nB: c' } }, 400, 'headers.X-Ok'],
    ['reserved header', { headers: { 'DKIM-Signature': 'x' } }, 400, 'headers.DKIM-Signature'],
    ['LF in display name', { from: { email: 'a@example.com', name: 'A\nB' } }, 400, 'from'],
    ['unknown lane', { lane: 'bulk' }, 400, 'lane', /unknown lane/],
    ['unknown pool', { pool: 'nope' }, 400, 'pool'],
    ['unregistered sending domain', { from: 'a@other.test' }, 400, 'from', /POST \/v1\/domains/],
    ['no body', { text: undefined }, 400, 'text'],
    ['no recipient', { to: undefined }, 400, 'to'],
    ['unknown field', { colour: 'red' }, 400, 'body'],
    ['bad attachment base64', { attachments: [{ filename: 'a.bin', content: '@@@' }] }, 400, 'attachments[0].content'],
  ];
  for (const [name, patch, status, field, reason] of cases) {
    test(`400: ${name}`, async () => {
      const res = await p.api('POST', '/v1/messages', { ...base, ...patch });
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'invalid_request');
      if (field !== 'body') assert.equal(res.body.error.field, field);
      assert.ok(res.body.error.reason);
      if (reason) assert.match(res.body.error.message, reason);
    });
  }

  test('malformed JSON is a 400, not a 500', async () => {
    const res = await p.api('POST', '/v1/messages', '{"from":');
    assert.equal(res.status, 400);
  });

  test('IDN domains are accepted in A-label form', async () => {
    const res = await p.api('POST', '/v1/messages', { ...base, to: 'jürgen@bücher.example' });
    assert.equal(res.status, 400, 'non-ASCII local part is refused with a reason');
    const ok = await p.api('POST', '/v1/messages', { ...base, to: 'juergen@bücher.example' });
    assert.equal(ok.status, 202);
    const view = await p.api('GET', `/v1/messages/${ok.body.id}`);
    assert.equal(view.body.recipients[0].recipient, 'juergen@xn--bcher-kva.example');
  });

  test('413 past the message size limit, naming the limit', async () => {
    const big = Buffer.alloc(70_000, 7).toString('base64');
    const res = await p.api('POST', '/v1/messages', { ...base, attachments: [{ filename: 'big.bin', content: big }] });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'payload_too_large');
    assert.equal(res.body.error.limit, 65536);
  });

  test('request bodies: judged by Content-Length, or counted as they stream when chunked', async () => {
    const url = `${p.edge.url}/v1/messages`;
    const headers = { authorization: `Bearer ${p.edge.apiKey}`, 'content-type': 'application/json' };
    const chunked = (text: string) => {
      const bytes = new TextEncoder().encode(text);
      const stream = new ReadableStream({
        start(c) {
          for (let i = 0; i < bytes.length; i += 16_384) c.enqueue(bytes.subarray(i, i + 16_384));
          c.close();
        },
      });
      return { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit;
    };
    // Chunked (no Content-Length): the streamed path still parses a good body...
    const ok = await fetch(url, chunked(JSON.stringify({ ...base, subject: 'streamed' })));
    assert.equal(ok.status, 202, await ok.clone().text());
    const view = await p.api('GET', `/v1/messages/${(await ok.json()).id}`);
    assert.equal(view.body.subject, 'streamed');
    // ...and a body past the request limit is refused, whether declared or streamed.
    const huge = JSON.stringify({ ...base, text: 'y'.repeat(400_000) });
    const declared = await fetch(url, { method: 'POST', headers, body: huge });
    assert.equal(declared.status, 413);
    assert.equal((await declared.json()).error.code, 'payload_too_large');
    const streamed = await fetch(url, chunked(huge));
    assert.equal(streamed.status, 413);
    assert.equal((await streamed.json()).error.code, 'payload_too_large');
  });

  test('a batch names the failing message index and commits nothing', async () => {
    const before = (await p.api('GET', '/v1/messages?limit=500')).body.data.length;
    const res = await p.api('POST', '/v1/messages/batch', { messages: [base, { ...base, to: 'broken' }] });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.field, 'messages[1].to');
    assert.equal((await p.api('GET', '/v1/messages?limit=500')).body.data.length, before);
  });

  test('401 without a key, 401 with a wrong key, 403 without the scope', async () => {
    const none = await fetch(`${p.edge.url}/v1/messages`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(none.status, 401);
    assert.equal((await p.api('GET', '/v1/messages', undefined, { authorization: 'Bearer pl_wrong' })).status, 401);
    const readOnly = await p.api('POST', '/v1/tenants', { name: 'ro', scopes: ['read'] });
    const res = await p.api('POST', '/v1/messages', base, { authorization: `Bearer ${readOnly.body.api_key}` });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.scope, 'send');
  });

  test('429 with Retry-After and the limit named when the tenant rate is spent', async () => {
    const created = await p.api('POST', '/v1/tenants', { name: 'bursty' });
    const key = created.body.api_key;
    const messages = Array.from({ length: 1000 }, () => ({ ...base, from: 'a@bursty.test' }));
    // The first 1,000 spend the burst (they fail validation on the unregistered domain, after the take).
    await p.api('POST', '/v1/messages/batch', { messages }, { authorization: `Bearer ${key}` });
    const res = await p.api('POST', '/v1/messages', base, { authorization: `Bearer ${key}` });
    assert.equal(res.status, 429);
    assert.equal(res.body.error.limit, 'tenant_send_rate');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
  });

  test('the OpenAPI document describes the routes', async () => {
    const res = await fetch(`${p.edge.url}/openapi.json`);
    const doc = await res.json();
    assert.ok(doc.paths['/v1/messages'].post);
    assert.ok(doc.paths['/v1/messages/{id}'].get);
    assert.ok(doc.components.schemas.SendMessage);
  });

  test('health and metrics', async () => {
    assert.deepEqual((await (await fetch(`${p.edge.url}/healthz`)).json()).ok, true);
    // /metrics wants a key of the operator tenant, sent as Prometheus' `authorization` config does.
    assert.equal((await fetch(`${p.edge.url}/metrics`)).status, 401);
    const other = await p.api('POST', '/v1/tenants', { name: 'metrics-reader', scopes: ['read'] });
    assert.equal(other.status, 201);
    assert.equal((await fetch(`${p.edge.url}/metrics`, { headers: { authorization: `Bearer ${other.body.api_key}` } })).status, 403);
    const res = await fetch(`${p.edge.url}/metrics`, { headers: { authorization: `Bearer ${p.edge.apiKey}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /postlane_messages_accepted_total/);
  });
});

describe('Idempotency-Key replays before the rate limit', () => {
  let p: Platform;
  before(async () => {
    // A burst of 2 and a refill of one token an hour: every token spent is visible.
    p = await startPlatform({ env: { POSTLANE_TENANT_RATE: '1/h', POSTLANE_TENANT_BURST: '2' } });
    await addDomain(p, 'idem.test');
  });
  after(() => p?.stop());

  test('a retry of an accepted request gets its first 202 even with the rate spent, and spends no token', async () => {
    const body = { from: 'a@idem.test', to: 'b@dest.test', subject: 'order 7', text: 'x' };
    const first = await p.api('POST', '/v1/messages', body, { 'idempotency-key': 'order-7' });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    // Replays cost nothing: one token is left for a new request after them.
    for (let i = 0; i < 3; i++) {
      const again = await p.api('POST', '/v1/messages', body, { 'idempotency-key': 'order-7' });
      assert.equal(again.status, 202, JSON.stringify(again.body));
      assert.deepEqual(again.body, first.body);
    }
    assert.equal((await p.api('POST', '/v1/messages', { ...body, subject: 'other' })).status, 202, 'the second token was not spent by the replays');
    const spent = await p.api('POST', '/v1/messages', { ...body, subject: 'third' });
    assert.equal(spent.status, 429, 'the rate is exhausted now');
    // Exhausted: the retry still gets its first answer; a changed body under the key is still a conflict.
    const replay = await p.api('POST', '/v1/messages', body, { 'idempotency-key': 'order-7' });
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.deepEqual(replay.body, first.body);
    const conflict = await p.api('POST', '/v1/messages', { ...body, subject: 'changed' }, { 'idempotency-key': 'order-7' });
    assert.equal(conflict.status, 409, JSON.stringify(conflict.body));
    assert.equal(conflict.body.error.field, 'Idempotency-Key');
  });
});
