/**
 * The official `resend` SDK's domains and api-keys calls against Postlane: create (records to
 * publish, in Resend's shape), list, get, verify against a real DNS server on loopback, delete;
 * the key list; and the refusals of options Postlane has no behaviour for.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Resend } from 'resend';
import { startPlatform, type Platform } from '../helpers/platform.ts';

describe('resend SDK: domains and api keys', () => {
  let p: Platform;
  let resend: Resend;

  before(async () => {
    p = await startPlatform({ env: { POSTLANE_INTAKE_HOST: 'intake.postlane.test' } });
    resend = new Resend(p.edge.apiKey, { baseUrl: p.edge.url });
  });
  after(() => p?.stop());

  test('create → list → get → verify (as DNS gets the records) → delete', async () => {
    const created = await resend.domains.create({ name: 'newco.test', customReturnPath: 'mail' });
    assert.equal(created.error, null, JSON.stringify(created.error));
    const domain = created.data!;
    assert.match(domain.id, /^dom_/);
    assert.equal(domain.name, 'newco.test');
    assert.ok(['not_started', 'pending'].includes(domain.status), domain.status);
    assert.deepEqual(domain.capabilities, { sending: 'enabled', receiving: 'disabled' });
    const byKind = (kind: string) => domain.records.filter((r) => r.record === kind);
    const [dkim] = byKind('DKIM');
    assert.equal(dkim.type, 'TXT');
    assert.match(dkim.name, /^pl\d{8}\._domainkey$/, 'names are relative to the domain, as Resend gives them');
    assert.match(dkim.value, /^v=DKIM1; k=rsa; p=/);
    assert.equal(dkim.ttl, 'Auto');
    const mx = byKind('SPF').find((r) => r.type === 'MX') as { name: string; value: string; priority?: number };
    assert.deepEqual({ name: mx.name, value: mx.value, priority: mx.priority }, { name: 'mail', value: 'intake.postlane.test', priority: 10 });
    const [ownership] = byKind('Ownership');
    assert.equal(ownership.name, '_postlane');

    const again = await resend.domains.create({ name: 'newco.test' });
    assert.equal(again.data!.id, domain.id, 'an existing domain is returned as it is');

    const list = await resend.domains.list();
    assert.equal(list.error, null);
    assert.equal(list.data!.object, 'list');
    assert.deepEqual(list.data!.data.map((d) => d.name), ['newco.test']);
    assert.equal(list.data!.has_more, false);

    const pending = await resend.domains.verify(domain.id);
    assert.deepEqual(pending.data, { object: 'domain', id: domain.id });
    const checked = (await resend.domains.get(domain.id)).data!;
    assert.equal(checked.status, 'pending');
    assert.equal(checked.records.find((r) => r.record === 'DKIM')!.status, 'pending');

    p.dns.addTxt(`${dkim.name}.newco.test`, dkim.value);
    p.dns.addTxt(`${ownership.name}.newco.test`, ownership.value);
    await resend.domains.verify(domain.id);
    const verified = (await resend.domains.get(domain.id)).data!;
    assert.equal(verified.object, 'domain');
    assert.equal(verified.status, 'verified');
    assert.equal(verified.records.find((r) => r.record === 'DKIM')!.status, 'verified');

    // Mail from it still waiting: it would leave unsigned, so the domain stays until it is canceled.
    const waiting = await resend.emails.send({ from: 'hi@newco.test', to: 'a@dest.test', subject: 's', text: 't', scheduledAt: new Date(Date.now() + 3_600_000).toISOString() });
    assert.equal(waiting.error, null, JSON.stringify(waiting.error));
    const busy = await resend.domains.remove(domain.id);
    assert.equal(busy.error?.name, 'validation_error');
    assert.equal(busy.error?.statusCode, 422);
    assert.equal((await resend.emails.cancel(waiting.data!.id)).error, null);

    const removed = await resend.domains.remove(domain.id);
    assert.deepEqual(removed.data, { object: 'domain', id: domain.id, deleted: true });
    const gone = await resend.domains.get(domain.id);
    assert.equal(gone.error?.name, 'not_found');
    assert.equal(gone.error?.statusCode, 404);
    assert.equal((await resend.domains.list()).data!.data.length, 0);
    // Mail from a removed domain is refused at accept.
    const send = await resend.emails.send({ from: 'hi@newco.test', to: 'a@dest.test', subject: 's', text: 't' });
    assert.equal(send.error?.statusCode, 403);
    assert.equal(send.error?.name, 'validation_error');
  });

  test('list pages with limit and after, newest first', async () => {
    for (const name of ['a.pages.test', 'b.pages.test', 'c.pages.test']) assert.equal((await resend.domains.create({ name })).error, null);
    const first = (await resend.domains.list({ limit: 2 })).data!;
    assert.deepEqual(first.data.map((d) => d.name), ['c.pages.test', 'b.pages.test']);
    assert.equal(first.has_more, true);
    const next = (await resend.domains.list({ limit: 2, after: first.data[1].id })).data!;
    assert.deepEqual(next.data.map((d) => d.name), ['a.pages.test']);
    assert.equal(next.has_more, false);
  });

  test('options Postlane has no behaviour for are refused by name, not ignored', async () => {
    const region = await resend.domains.create({ name: 'regional.test', region: 'eu-west-1' });
    assert.equal(region.error?.name, 'invalid_region');
    assert.equal(region.error?.statusCode, 422);
    const tls = await resend.domains.create({ name: 'tls.test', tls: 'enforced' });
    assert.equal(tls.error?.name, 'invalid_parameter');
    const bad = await resend.domains.create({ name: 'not a domain' });
    assert.equal(bad.error?.name, 'validation_error');
    assert.equal(bad.error?.statusCode, 422);
  });

  test('apiKeys.list names the live keys of the tenant', async () => {
    const tenant = await p.api('POST', '/v1/tenants', { name: 'keys-tenant' });
    const theirs = new Resend(tenant.body.api_key, { baseUrl: p.edge.url });
    const list = await theirs.apiKeys.list();
    assert.equal(list.error, null, JSON.stringify(list.error));
    assert.equal(list.data!.object, 'list');
    assert.equal(list.data!.data.length, 1);
    assert.deepEqual(Object.keys(list.data!.data[0]).sort(), ['created_at', 'id', 'last_used_at', 'name']);
    assert.match(list.data!.data[0].id, /^key_/);
  });
});
