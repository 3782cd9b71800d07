/**
 * Sending-domain verification against a real DNS server on loopback (test/helpers/dns-server.ts):
 * pending → verified as the records appear, one tenant at a time holds a domain verified (409 to
 * verify it, 400 to send as it), a failed lookup keeps the status and records the error, and the
 * SPF advice is merged into the record the domain already has.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, type Platform } from '../helpers/platform.ts';

let p: Platform;
const A = { key: '', id: '' };
const B = { key: '', id: '' };
const as = (key: string) => ({ authorization: `Bearer ${key}` });
type DnsRecord = { purpose: string; type: string; name: string; value: string; optional: boolean; status: string; found: string | null; note?: string };
const rec = (body: { dns_records: DnsRecord[] }, purpose: string) => body.dns_records.find((r) => r.purpose === purpose)!;

before(async () => {
  p = await startPlatform({ env: { POSTLANE_SPF_INCLUDE: 'spf.postlane.test', POSTLANE_INTAKE_HOST: 'intake.postlane.test' } });
  for (const [who, name] of [[A, 'tenant-a'], [B, 'tenant-b']] as const) {
    const t = await p.api('POST', '/v1/tenants', { name });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    who.key = t.body.api_key;
  }
});
after(() => p.stop());

const send = (key: string, from: string) => p.api('POST', '/v1/messages', { from, to: 'someone@elsewhere.test', subject: 'hi', text: 'hi' }, as(key));

test('records: SPF is the platform mechanism merged into the existing record; return path MX; optional records marked, no invented values', async () => {
  // The domain's return path already publishes SPF for another sender.
  p.dns.set('bounces.acme.test', { txt: ['v=spf1 ip4:192.0.2.1 -all'] });
  const res = await p.api('POST', '/v1/domains', { domain: 'acme.test' }, as(A.key));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  A.id = res.body.id;
  assert.equal(res.body.status, 'pending');
  assert.equal(res.body.return_path_domain, 'bounces.acme.test');
  const spf = rec(res.body, 'spf');
  assert.equal(spf.name, 'bounces.acme.test');
  assert.equal(spf.value, 'v=spf1 ip4:192.0.2.1 include:spf.postlane.test -all');
  assert.equal(spf.status, 'mismatch');
  assert.equal(spf.found, 'v=spf1 ip4:192.0.2.1 -all');
  assert.deepEqual({ ...rec(res.body, 'return_path') }, { ...rec(res.body, 'return_path'), type: 'MX', name: 'bounces.acme.test', value: '10 intake.postlane.test', optional: false });
  assert.match(rec(res.body, 'ownership').value, /^postlane-verify=[\w-]{20,}$/);
  assert.equal(rec(res.body, 'ownership').name, '_postlane.acme.test');
  assert.equal(rec(res.body, 'dmarc').value, 'v=DMARC1; p=none; adkim=r; aspf=r');
  assert.equal(rec(res.body, 'mta-sts').optional, true);
  const text = JSON.stringify(res.body);
  assert.ok(!/rua=|bimi|logo/i.test(text), `no invented mailbox or logo: ${text}`);
  for (const r of res.body.dns_records as DnsRecord[]) if (r.purpose !== 'mta-sts') assert.equal(r.optional, false, r.purpose);
});

test('pending → verified as the DKIM key and ownership token appear in DNS; each change is an event', async () => {
  const first = await p.api('POST', `/v1/domains/${A.id}/verify`, undefined, as(A.key));
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.status, 'pending');
  assert.equal(rec(first.body, 'dkim').status, 'missing');
  assert.equal(rec(first.body, 'ownership').status, 'missing');

  const dkim = rec(first.body, 'dkim');
  const own = rec(first.body, 'ownership');
  p.dns.addTxt(dkim.name, dkim.value); // > 255 bytes: several character-strings on the wire
  p.dns.addTxt(own.name, own.value);
  p.dns.set('bounces.acme.test', { txt: [rec(first.body, 'spf').value], mx: [{ preference: 10, exchange: 'intake.postlane.test' }] });
  p.dns.set('_dmarc.acme.test', { txt: ['v=DMARC1; p=quarantine'] });

  const ok = await p.api('POST', `/v1/domains/${A.id}/verify`, undefined, as(A.key));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.status, 'verified');
  for (const purpose of ['dkim', 'ownership', 'spf', 'return_path', 'dmarc']) assert.equal(rec(ok.body, purpose).status, 'ok', purpose);
  assert.equal(rec(ok.body, 'spf').value, rec(first.body, 'spf').value, 'a record that has the mechanism stays as it is');
  assert.equal(rec(ok.body, 'dmarc').value, 'v=DMARC1; p=quarantine', 'an existing DMARC policy stands');
  assert.ok(ok.body.verified_at);

  const detail = await p.api('GET', `/v1/domains/${A.id}`, undefined, as(A.key));
  assert.equal(detail.status, 200);
  assert.deepEqual(detail.body.events.map((e: { from: string; to: string }) => [e.from, e.to]), [['pending', 'verified']]);
  assert.equal((await send(A.key, 'hello@acme.test')).status, 202);
});

test('another tenant can neither verify (409) nor send as a domain verified by the first', async () => {
  const reg = await p.api('POST', '/v1/domains', { domain: 'acme.test' }, as(B.key));
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  B.id = reg.body.id;
  assert.notEqual(rec(reg.body, 'ownership').value, rec((await p.api('GET', `/v1/domains/${A.id}`, undefined, as(A.key))).body, 'ownership').value, 'tokens are per tenant');
  // B even publishes its own records: A's verified claim still stands.
  p.dns.addTxt(rec(reg.body, 'dkim').name, rec(reg.body, 'dkim').value);
  p.dns.addTxt(rec(reg.body, 'ownership').name, rec(reg.body, 'ownership').value);
  const v = await p.api('POST', `/v1/domains/${B.id}/verify`, undefined, as(B.key));
  assert.equal(v.status, 409, JSON.stringify(v.body));
  assert.match(v.body.error.message, /another tenant/);
  assert.equal(v.body.error.owner, 'another tenant');
  assert.ok(!JSON.stringify(v.body).includes(A.id), 'the owner is not named');
  const s = await send(B.key, 'hello@acme.test');
  assert.equal(s.status, 400, JSON.stringify(s.body));
  assert.equal(s.body.error.field, 'from');
  assert.match(s.body.error.reason, /verified by another tenant/);
  const b = await p.api('GET', `/v1/domains/${B.id}`, undefined, as(B.key));
  assert.equal(b.body.status, 'pending');
  assert.match(b.body.check_error, /another tenant/);
  // A's id is not B's to read or verify.
  assert.equal((await p.api('POST', `/v1/domains/${A.id}/verify`, undefined, as(B.key))).status, 404);
});

test('SERVFAIL or a timeout keeps a verified domain verified and records the error; a key gone from DNS fails it', async () => {
  const before = (await p.api('GET', `/v1/domains/${A.id}`, undefined, as(A.key))).body;
  const dkimName = rec(before, 'dkim').name;
  const published = p.dns.zone.get(dkimName)!;
  p.dns.set(dkimName, { servfail: true });
  const sf = await p.api('POST', `/v1/domains/${A.id}/verify`, undefined, as(A.key));
  assert.equal(sf.status, 200, JSON.stringify(sf.body));
  assert.equal(sf.body.status, 'verified');
  assert.equal(rec(sf.body, 'dkim').status, 'error');
  assert.match(sf.body.check_error, /ESERVFAIL/);
  assert.match(rec(sf.body, 'dkim').note ?? '', /ESERVFAIL/);

  p.dns.set(dkimName, { timeout: true });
  const to = await p.api('POST', `/v1/domains/${A.id}/verify`, undefined, as(A.key));
  assert.equal(to.body.status, 'verified');
  assert.match(to.body.check_error, /ETIMEOUT/);

  // The key is gone (an authoritative "no such record"): the domain fails, and is free for B.
  p.dns.set(dkimName, { txt: published.txt!.filter((t) => !String(t).includes(rec(before, 'dkim').value.slice(-40))) });
  const gone = await p.api('POST', `/v1/domains/${A.id}/verify`, undefined, as(A.key));
  assert.equal(gone.body.status, 'failed', JSON.stringify(gone.body));
  assert.equal(rec(gone.body, 'dkim').status, 'mismatch', "B's key is still at the selector's name, not A's");
  const events = (await p.api('GET', `/v1/domains/${A.id}`, undefined, as(A.key))).body.events;
  assert.deepEqual(events.map((e: { from: string; to: string }) => [e.from, e.to]), [['verified', 'failed'], ['pending', 'verified']]);

  const b = await p.api('POST', `/v1/domains/${B.id}/verify`, undefined, as(B.key));
  assert.equal(b.status, 200, JSON.stringify(b.body));
  assert.equal(b.body.status, 'verified');
});

test('POSTLANE_REQUIRE_VERIFIED_DOMAIN=true refuses an unverified domain naming the missing record and its value', async () => {
  const strict = await startPlatform({ env: { POSTLANE_REQUIRE_VERIFIED_DOMAIN: 'true' } });
  try {
    const d = await strict.api('POST', '/v1/domains', { domain: 'strict.test' });
    assert.equal(d.status, 201);
    const s = await strict.api('POST', '/v1/messages', { from: 'a@strict.test', to: 'b@elsewhere.test', subject: 'x', text: 'x' });
    assert.equal(s.status, 400, JSON.stringify(s.body));
    assert.equal(s.body.error.field, 'from');
    const own = rec(d.body, 'ownership');
    assert.ok(s.body.error.reason.includes(`TXT ${own.name} = "${own.value}"`), s.body.error.reason);
    assert.ok(s.body.error.reason.includes(rec(d.body, 'dkim').value), 'names the DKIM value');
    assert.ok(s.body.error.reason.includes(`/v1/domains/${d.body.id}/verify`));
  } finally {
    await strict.stop();
  }
});
