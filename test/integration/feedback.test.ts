/**
 * Feedback end to end, the suppression list: its API and the check at accept. The real edge (API,
 * lease hub, Shaper), a real MTA node over WebSocket, and the provider simulator. Complaints and
 * bounces through /v1/inbound are in feedback-inbound.test.ts; the complaint guard-rails in
 * feedback-guardrails.test.ts. Each scenario has its own platform and simulator so breaker state
 * never leaks between them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, type Platform } from '../helpers/platform.ts';
import { startSimulated, view, FROM } from '../helpers/simulated.ts';
import { send, sleep } from '../helpers/feedback.ts';
import type { ProviderSimulator } from '../simulator/provider-sim.ts';

const setup = startSimulated;

describe('feedback: suppression list API and the check at accept', () => {
  let sim: ProviderSimulator;
  let p: Platform;
  before(async () => ({ sim, p } = await setup()));
  after(async () => {
    await p?.stop();
    await sim?.stop();
  });

  test('POST validates each field by name; a listed address keeps its first reason', async () => {
    const bad = await p.api('POST', '/v1/suppressions', { address: 'not-an-address' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'address');
    assert.ok(bad.body.error.reason);
    const badReason = await p.api('POST', '/v1/suppressions', { address: 'x@other.test', reason: 'angry' });
    assert.equal(badReason.status, 400);
    assert.equal(badReason.body.error.field, 'reason');
    const unknown = await p.api('POST', '/v1/suppressions', { address: 'x@other.test', colour: 'red' });
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(unknown.body.error), /colour/);
    const missing = await p.api('POST', '/v1/suppressions', { reason: 'manual' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.field, 'address');

    const created = await p.api('POST', '/v1/suppressions', { address: 'Gone@Other.TEST', reason: 'unsubscribe', note: 'asked by phone' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.address, 'gone@other.test');
    assert.equal(created.body.reason, 'unsubscribe');
    assert.equal(created.body.source, 'asked by phone');
    const again = await p.api('POST', '/v1/suppressions', { address: 'gone@other.test', reason: 'manual' });
    assert.equal(again.status, 200);
    assert.equal(again.body.reason, 'unsubscribe', 'the first reason stands');
  });

  test('GET filters by reason and address and pages with next_cursor; DELETE removes, then 404', async () => {
    for (const a of ['m1@other.test', 'm2@other.test', 'm3@gmail.com']) assert.equal((await p.api('POST', '/v1/suppressions', { address: a })).status, 201);
    const manual = await p.api('GET', '/v1/suppressions?reason=manual');
    assert.equal(manual.status, 200);
    assert.deepEqual(manual.body.data.map((s: any) => s.address), ['m3@gmail.com', 'm2@other.test', 'm1@other.test']);
    const contains = await p.api('GET', '/v1/suppressions?contains=GMAIL');
    assert.deepEqual(contains.body.data.map((s: any) => s.address), ['m3@gmail.com']);
    const page1 = await p.api('GET', '/v1/suppressions?limit=2');
    assert.equal(page1.body.data.length, 2);
    assert.ok(page1.body.next_cursor);
    const page2 = await p.api('GET', `/v1/suppressions?limit=2&cursor=${page1.body.next_cursor}`);
    const seen = [...page1.body.data, ...page2.body.data].map((s: any) => s.address);
    assert.equal(new Set(seen).size, seen.length, 'pages do not overlap');
    const badCursor = await p.api('GET', '/v1/suppressions?cursor=abc');
    assert.equal(badCursor.status, 400);
    assert.equal(badCursor.body.error.field, 'cursor');
    const badLimit = await p.api('GET', '/v1/suppressions?limit=0');
    assert.equal(badLimit.status, 400);
    assert.equal(badLimit.body.error.field, 'limit');

    const del = await p.api('DELETE', `/v1/suppressions/${encodeURIComponent('M1@other.test')}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.deepEqual(del.body, { address: 'm1@other.test', deleted: true });
    const gone = await p.api('DELETE', '/v1/suppressions/m1@other.test');
    assert.equal(gone.status, 404);
    const badDel = await p.api('DELETE', '/v1/suppressions/nonsense');
    assert.equal(badDel.status, 400);
    assert.equal(badDel.body.error.field, 'address');
  });

  test('the OpenAPI document describes the suppression and inbound routes', async () => {
    const doc = await (await fetch(`${p.edge.url}/openapi.json`)).json();
    assert.ok(doc.paths['/v1/suppressions'].get && doc.paths['/v1/suppressions'].post);
    assert.ok(doc.paths['/v1/suppressions/{address}'].delete);
    assert.ok(doc.paths['/v1/inbound'].post.requestBody.content['message/rfc822']);
    assert.ok(doc.components.schemas.InboundResult && doc.components.schemas.Suppression);
  });

  test('a key without the scope is refused, naming it', async () => {
    const tenant = await p.api('POST', '/v1/tenants', { name: 'reader', scopes: ['read'] });
    assert.equal(tenant.status, 201);
    const key = tenant.body.api_key;
    const res = await p.api('POST', '/v1/suppressions', { address: 'y@other.test' }, { authorization: `Bearer ${key}` });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.scope, 'send');
    const del = await p.api('DELETE', '/v1/suppressions/gone@other.test', undefined, { authorization: `Bearer ${key}` });
    assert.equal(del.status, 403);
    assert.equal(del.body.error.scope, 'admin');
  });

  test('a suppressed recipient gets no delivery job to send; the others are delivered; the 202 lists it', async () => {
    await p.api('POST', '/v1/suppressions', { address: 'blocked@other.test' });
    const res = await send(p, { to: ['Blocked@other.test', 'fine@other.test'] });
    assert.equal(res.status, 'queued');
    assert.equal(res.recipients, 1);
    assert.deepEqual(res.suppressed, ['Blocked@other.test']);
    const v = await waitFor(async () => {
      const m = await view(p, res.id);
      return m.recipients.find((r: any) => r.recipient === 'fine@other.test').state === 'delivered' && m;
    }, 10_000, 'the other recipient delivered');
    const job = v.recipients.find((r: any) => r.recipient === 'Blocked@other.test');
    assert.equal(job.state, 'suppressed');
    const ev = v.events.find((e: any) => e.type === 'suppressed');
    assert.equal(ev.job_id, job.job_id);
    assert.match(ev.data.reason, /suppression list \(manual\)/);

    const all = await send(p, { to: 'blocked@other.test' });
    assert.equal(all.status, 'suppressed', 'all suppressed: still 202, status suppressed');
    assert.equal(all.recipients, 0);
    await sleep(300);
    assert.equal((await view(p, all.id)).status, 'suppressed');
    assert.equal(sim.providers.other.events.filter((e) => e.rcpt?.toLowerCase() === 'blocked@other.test').length, 0, 'the provider never saw it');

    const batch = await p.api('POST', '/v1/messages/batch', { messages: [{ from: FROM, to: 'blocked@other.test', subject: 's', text: 'x' }, { from: FROM, to: 'ok2@other.test', subject: 's', text: 'x' }] });
    assert.equal(batch.status, 202);
    assert.deepEqual(batch.body.data.map((m: any) => m.status), ['suppressed', 'queued']);
    assert.deepEqual(batch.body.data[0].suppressed, ['blocked@other.test']);
  });
});
