/**
 * Error objects as the official `resend` SDK surfaces them (`error.name`, `error.statusCode`)
 * for 400/401/403/404/409/422/429, and the RateLimit-* headers beside Retry-After that Resend
 * sends, read back from the SDK's `headers`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Resend } from 'resend';
import { addDomain, startPlatform, type Platform } from '../helpers/platform.ts';

const email = { from: 'hello@example.com', to: 'someone@dest.test', subject: 'hi', text: 'hi' };

describe('resend SDK: error objects', () => {
  let p: Platform;
  let resend: Resend;

  before(async () => {
    p = await startPlatform();
    await addDomain(p, 'example.com');
    resend = new Resend(p.edge.apiKey, { baseUrl: p.edge.url });
  });
  after(() => p?.stop());

  const expectError = (r: { data: unknown; error: { name: string; statusCode: number | null; message: string } | null }, name: string, status: number) => {
    assert.equal(r.data, null);
    assert.ok(r.error, 'an error object');
    assert.deepEqual({ name: r.error.name, statusCode: r.error.statusCode }, { name, statusCode: status }, r.error.message);
    assert.ok(r.error.message.length > 0);
  };

  test('400: an Idempotency-Key over 256 characters; a body that is not JSON', async () => {
    expectError(await resend.emails.send(email, { idempotencyKey: 'k'.repeat(300) }), 'invalid_idempotency_key', 400);
    const res = await fetch(`${p.edge.url}/emails`, { method: 'POST', headers: { authorization: `Bearer ${p.edge.apiKey}`, 'content-type': 'application/json' }, body: '{"from":' });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).name, 'validation_error');
  });

  test('401: no key is missing_api_key; a key without the scope is restricted_api_key', async () => {
    const res = await fetch(`${p.edge.url}/emails`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(email) });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { statusCode: 401, name: 'missing_api_key', message: 'Missing API key in the authorization header.' });
    const tenant = await p.api('POST', '/v1/tenants', { name: 'send-only', scopes: ['send'] });
    const sendOnly = new Resend(tenant.body.api_key, { baseUrl: p.edge.url });
    expectError(await sendOnly.domains.list(), 'restricted_api_key', 401);
    expectError(await sendOnly.apiKeys.list(), 'restricted_api_key', 401);
  });

  test('403: an unknown key is invalid_api_key; an unregistered sending domain is validation_error', async () => {
    expectError(await new Resend('re_not_a_key', { baseUrl: p.edge.url }).emails.send(email), 'invalid_api_key', 403);
    expectError(await resend.emails.send({ ...email, from: 'hello@unregistered.test' }), 'validation_error', 403);
  });

  test('404: an unknown email or domain', async () => {
    expectError(await resend.emails.get('msg_does_not_exist'), 'not_found', 404);
    expectError(await resend.emails.cancel('msg_does_not_exist'), 'not_found', 404);
    expectError(await resend.domains.get('dom_does_not_exist'), 'not_found', 404);
  });

  test('409: one Idempotency-Key, two bodies', async () => {
    assert.equal((await resend.emails.send(email, { idempotencyKey: 'order-1' })).error, null);
    expectError(await resend.emails.send({ ...email, subject: 'changed' }, { idempotencyKey: 'order-1' }), 'invalid_idempotent_request', 409);
  });

  test('422: missing fields, a bad from, a bad date, an attachment by URL, a header we write ourselves', async () => {
    const r = await resend.emails.send({ from: 'hello@example.com', to: 'a@dest.test', text: 'no subject' } as never);
    expectError(r, 'missing_required_field', 422);
    assert.match(r.error!.message, /`subject`/);
    expectError(await resend.emails.send({ ...email, from: 'not an address' }), 'invalid_from_address', 422);
    expectError(await resend.emails.send({ ...email, to: 'nobody' }), 'validation_error', 422);
    expectError(await resend.emails.send({ ...email, scheduledAt: 'in 1 hour' }), 'validation_error', 422);
    expectError(await resend.emails.send({ ...email, attachments: [{ filename: 'a.pdf', path: 'https://example.com/a.pdf' }] }), 'invalid_attachment', 422);
    expectError(await resend.emails.send({ ...email, headers: { 'Message-ID': '<x@y>' } }), 'validation_error', 422);
    expectError(await resend.emails.send({ ...email, tags: [{ name: 'has space', value: 'v' }] }), 'validation_error', 422);
    const batch = await resend.batch.send([email, { ...email, to: 'nobody' }]);
    expectError(batch, 'validation_error', 422);
    assert.match(batch.error!.message, /\[1\]\.to/, 'the failing email of the batch is named');
  });
});

describe('resend SDK: 429 and RateLimit headers', () => {
  let p: Platform;
  let resend: Resend;

  before(async () => {
    // Two messages of burst, refilled at one per minute: the third in a row is refused.
    p = await startPlatform({ env: { POSTLANE_TENANT_RATE: '1/min', POSTLANE_TENANT_BURST: '2' } });
    await addDomain(p, 'example.com');
    resend = new Resend(p.edge.apiKey, { baseUrl: p.edge.url });
  });
  after(() => p?.stop());

  test('each send reports the bucket; the refused one is rate_limit_exceeded with Retry-After', async () => {
    const first = await resend.emails.send(email);
    assert.equal(first.error, null, JSON.stringify(first.error));
    assert.equal(first.headers!['ratelimit-limit'], '2');
    assert.equal(first.headers!['ratelimit-remaining'], '1');
    assert.ok(Number(first.headers!['ratelimit-reset']) > 0);
    const second = await resend.emails.send(email);
    assert.equal(second.headers!['ratelimit-remaining'], '0');
    const third = await resend.emails.send(email);
    assert.equal(third.data, null);
    assert.deepEqual({ name: third.error?.name, statusCode: third.error?.statusCode }, { name: 'rate_limit_exceeded', statusCode: 429 });
    assert.equal(third.headers!['ratelimit-limit'], '2');
    assert.equal(third.headers!['ratelimit-remaining'], '0');
    const retryAfter = Number(third.headers!['retry-after']);
    assert.ok(retryAfter >= 1);
    assert.ok(Number(third.headers!['ratelimit-reset']) >= retryAfter);

    // Our own API reports the same bucket the same way.
    const own = await p.api('POST', '/v1/messages', email);
    assert.equal(own.status, 429);
    assert.equal(own.body.error.code, 'rate_limited');
    assert.equal(own.headers.get('ratelimit-limit'), '2');
    assert.equal(own.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(own.headers.get('retry-after')) >= 1);
    assert.ok(Number(own.headers.get('ratelimit-reset')) >= Number(own.headers.get('retry-after')));
  });
});
