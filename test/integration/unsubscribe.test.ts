/**
 * One-click unsubscribe (RFC 8058 + RFC 2369) end to end: lifecycle mail arrives at a real SMTP
 * sink with List-Unsubscribe and List-Unsubscribe-Post, both covered by a DKIM signature that
 * mailauth verifies; a POST to the URL from the received header suppresses the recipient (the
 * next send to it is suppressed, an `unsubscribed` event reaches a webhook verified with
 * standardwebhooks); a GET does not; forged and tampered tokens are refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticate } from 'mailauth';
import { addDomain, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { startSink, type ReceivedMail, type Sink } from '../mta-node/helpers.ts';
import { Receiver } from '../helpers/webhook-receiver.ts';

const DOMAIN = 'news.unsub.test';
const INTAKE = 'intake.postlane.test';
const MESSAGES = 200;

/** The unfolded header fields of a message, by lower-cased name (first occurrence). */
function headersOf(raw: string): Map<string, string> {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const out = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (!out.has(name)) out.set(name, line.slice(colon + 1).trim());
  }
  return out;
}

/** The h= tag of the DKIM-Signature (RFC 6376 §3.5), lower-cased names. */
function signedFields(dkimSignature: string): string[] {
  const tag = dkimSignature.split(';').map((t) => t.trim()).find((t) => t.startsWith('h='));
  return (tag ?? '').slice(2).replace(/\s+/g, '').toLowerCase().split(':');
}

function oneClickUrl(listUnsubscribe: string): string {
  const https = /<(https?:\/\/[^>]+)>/.exec(listUnsubscribe);
  assert.ok(https, listUnsubscribe);
  return https[1];
}

describe('one-click unsubscribe', () => {
  let sink: Sink;
  let p: Platform;
  let dkim: { name: string; value: string };
  const hooks = new Receiver();

  before(async () => {
    sink = await startSink();
    p = await startPlatform({ sinkPort: sink.port, env: { POSTLANE_INTAKE_HOST: INTAKE, POSTLANE_WEBHOOK_ALLOW: '127.0.0.1/32', POSTLANE_WEBHOOK_RETRY_INITIAL_MS: '20' } });
    const domain = await addDomain(p, DOMAIN);
    dkim = domain.dns_records.find((r) => r.purpose === 'dkim')!;
    await hooks.listen();
    const hook = await p.api('POST', '/v1/webhooks', { url: hooks.url, event_types: ['unsubscribed'] });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    hooks.secrets = [hook.body.secret];
    await p.startNode();
  });
  after(async () => {
    await p?.stop();
    await sink?.close();
    await hooks.close();
  });

  const delivered = new Map<string, ReceivedMail>();

  test(`${MESSAGES} lifecycle messages arrive with List-Unsubscribe headers signed by DKIM (h=) that mailauth verifies`, async () => {
    for (let b = 0; b < MESSAGES / 100; b++) {
      const messages = Array.from({ length: 100 }, (_, i) => ({ from: `news@${DOMAIN}`, to: `reader${b * 100 + i}@dest.test`, subject: `issue ${b * 100 + i}`, text: 'this week', lane: 'lifecycle' }));
      const res = await p.api('POST', '/v1/messages/batch', { messages });
      assert.equal(res.status, 202, JSON.stringify(res.body).slice(0, 400));
    }
    await waitFor(() => sink.mails.filter((m) => m.to[0]?.startsWith('reader')).length >= MESSAGES, 240_000, `${MESSAGES} deliveries`);
    const urls = new Set<string>();
    for (const mail of sink.mails.filter((m) => m.to[0]?.startsWith('reader'))) {
      const h = headersOf(mail.raw);
      const list = h.get('list-unsubscribe');
      assert.ok(list, `no List-Unsubscribe for ${mail.to[0]}`);
      assert.match(list, /^<https?:\/\/[^>]+\/u\/[A-Za-z0-9_.-]+>, <mailto:unsubscribe\+[A-Za-z0-9_.-]+@intake\.postlane\.test>$/);
      assert.equal(h.get('list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
      const fields = signedFields(h.get('dkim-signature')!);
      assert.ok(fields.includes('list-unsubscribe') && fields.includes('list-unsubscribe-post'), `h= ${fields.join(':')}`);
      const verdict = await authenticate(mail.raw, {
        ip: '127.0.0.1',
        helo: 'mta.test',
        sender: mail.from,
        trustReceived: false,
        resolver: async (name: string, type: string) => {
          if (type === 'TXT' && name === dkim.name) return [[dkim.value]];
          throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
        },
      });
      assert.equal(verdict.dkim.results[0]?.status.result, 'pass', `${mail.to[0]}: ${JSON.stringify(verdict.dkim.results[0]?.status)}`);
      urls.add(oneClickUrl(list));
      delivered.set(mail.to[0], mail);
    }
    assert.equal(delivered.size, MESSAGES);
    // One token per recipient.
    assert.equal(urls.size, MESSAGES);
  });

  test('GET shows a confirmation page and changes nothing; POST from the received header suppresses, the next send is suppressed, a webhook says so', async () => {
    const target = 'reader7@dest.test';
    const url = oneClickUrl(headersOf(delivered.get(target)!.raw).get('list-unsubscribe')!);

    const page = await fetch(url);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<form method="post">/);
    assert.match(html, /name="List-Unsubscribe" value="One-Click"/);
    const before = await p.api('GET', `/v1/suppressions?contains=${encodeURIComponent(target)}`);
    assert.equal(before.body.data.length, 0, 'GET must not unsubscribe');

    const post = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    assert.equal(post.status, 200, await post.text());
    const listed = await p.api('GET', `/v1/suppressions?contains=${encodeURIComponent(target)}`);
    assert.equal(listed.body.data.length, 1);
    assert.equal(listed.body.data[0].reason, 'unsubscribe');
    const messageId = listed.body.data[0].message_id as string;
    const trace = await p.api('GET', `/v1/messages/${messageId}`);
    const unsub = trace.body.events.filter((e: { type: string }) => e.type === 'unsubscribed');
    assert.equal(unsub.length, 1);
    assert.equal(unsub[0].data.recipient, target);

    // A repeated POST (clients retry) is answered 200 and records nothing more.
    const again = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    assert.equal(again.status, 200);
    const trace2 = await p.api('GET', `/v1/messages/${messageId}`);
    assert.equal(trace2.body.events.filter((e: { type: string }) => e.type === 'unsubscribed').length, 1);

    const next = await p.api('POST', '/v1/messages', { from: `news@${DOMAIN}`, to: target, subject: 'next issue', text: 'x', lane: 'lifecycle' });
    assert.equal(next.status, 202);
    assert.equal(next.body.status, 'suppressed');
    // Another reader is untouched.
    const other = await p.api('POST', '/v1/messages', { from: `news@${DOMAIN}`, to: 'reader8@dest.test', subject: 'next issue', text: 'x', lane: 'lifecycle' });
    assert.equal(other.body.status, 'queued');

    const hook = await waitFor(() => hooks.ok.find((r) => r.raw.includes('unsubscribed') && r.raw.includes(messageId)), 20_000, 'the unsubscribed webhook');
    assert.ok(hook.raw.includes(target));
  });

  test('forged and tampered tokens are refused (404) on GET and POST; a POST without the one-click body is 400; a multipart one-click POST works', async () => {
    const url = oneClickUrl(headersOf(delivered.get('reader9@dest.test')!.raw).get('list-unsubscribe')!);
    const token = url.slice(url.lastIndexOf('/') + 1);
    const [payload, mac] = token.split('.');
    const payloadJson = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const otherRecipient = Buffer.from(JSON.stringify({ ...payloadJson, r: 'someone-else@dest.test' })).toString('base64url');
    const flipped = mac.slice(0, -2) + (mac.at(-2) === 'A' ? 'B' : 'A') + mac.at(-1);
    const base = url.slice(0, url.lastIndexOf('/') + 1);
    for (const bad of [`${otherRecipient}.${mac}`, `${payload}.${flipped}`, 'not-a-token', `${payload}.`]) {
      const get = await fetch(base + bad);
      assert.equal(get.status, 404, bad);
      const post = await fetch(base + bad, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      assert.equal(post.status, 404, bad);
    }
    const wrongBody = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=Maybe' });
    assert.equal(wrongBody.status, 400);
    const none = await p.api('GET', '/v1/suppressions?contains=dest.test');
    assert.deepEqual(none.body.data.map((r: { address: string }) => r.address), ['reader7@dest.test']);

    // RFC 8058 §3.2 allows the body as multipart/form-data too.
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    const multipart = await fetch(url, { method: 'POST', body: form });
    assert.equal(multipart.status, 200, await multipart.text());
    const listed = await p.api('GET', '/v1/suppressions?contains=reader9%40dest.test');
    assert.equal(listed.body.data[0]?.reason, 'unsubscribe');
  });

  test('transactional mail has no List-Unsubscribe; a tenant cannot set or drop it on bulk lanes; bulk mail goes to one recipient', async () => {
    const tx = await p.api('POST', '/v1/messages', { from: `news@${DOMAIN}`, to: 'receipt@dest.test', subject: 'your receipt', text: 'x' });
    assert.equal(tx.status, 202);
    const mail = await waitFor(() => sink.mails.find((m) => m.to[0] === 'receipt@dest.test'), 20_000, 'the receipt');
    assert.equal(headersOf(mail.raw).has('list-unsubscribe'), false);

    const own = await p.api('POST', '/v1/messages', { from: `news@${DOMAIN}`, to: 'x@dest.test', subject: 's', text: 'x', lane: 'outreach', headers: { 'List-Unsubscribe': '<https://elsewhere.test/>' } });
    assert.equal(own.status, 400);
    assert.equal(own.body.error.field, 'headers.List-Unsubscribe');
    const many = await p.api('POST', '/v1/messages', { from: `news@${DOMAIN}`, to: ['a@dest.test', 'b@dest.test'], subject: 's', text: 'x', lane: 'lifecycle' });
    assert.equal(many.status, 400);
    assert.equal(many.body.error.field, 'to');
  });
});
